"""powertools idempotency records in the local SQLite database (the AWS twin is powertools'
DynamoDBPersistenceLayer on the idempotency table). Same put condition: the key is free,
expired, or an in-progress record whose in-progress expiry passed."""

from __future__ import annotations

import time

from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import STATUS_CONSTANTS, DataRecord

from runtime.adapters.sqlite.db import Database

_COLUMNS = "id, status, expiry, in_progress_expiry, response_data, payload_hash"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_idempotency (
    id                 TEXT PRIMARY KEY,
    status             TEXT NOT NULL,
    expiry             INTEGER NOT NULL,
    in_progress_expiry INTEGER,
    response_data      TEXT,
    payload_hash       TEXT
)
"""


class SqliteIdempotencyLayer(BasePersistenceLayer):
    def __init__(self, db: Database) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # powertools leaves it untyped
        self.db = db
        self.db.connection().execute(_SCHEMA)

    def _row_to_record(self, row: tuple) -> DataRecord:  # type: ignore[type-arg]
        return DataRecord(
            idempotency_key=row[0],
            status=row[1],
            expiry_timestamp=row[2],
            in_progress_expiry_timestamp=row[3],
            response_data=row[4] or "",
            payload_hash=row[5] or "",
        )

    def _get_record(self, idempotency_key: str) -> DataRecord:
        row = (
            self.db.connection()
            .execute(
                f"SELECT {_COLUMNS} FROM api_idempotency WHERE id = ?",  # noqa: S608 - constant column list
                (idempotency_key,),
            )
            .fetchone()
        )
        if row is None:
            raise IdempotencyItemNotFoundError
        return self._row_to_record(row)

    def _put_record(self, data_record: DataRecord) -> None:
        now = int(time.time())
        with self.db.transaction() as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM api_idempotency WHERE id = ?",  # noqa: S608 - constant column list
                (data_record.idempotency_key,),
            ).fetchone()
            if row is not None:
                old = self._row_to_record(row)
                expired = old.expiry_timestamp is not None and old.expiry_timestamp < now
                stale = (
                    old.status == STATUS_CONSTANTS["INPROGRESS"]
                    and old.in_progress_expiry_timestamp is not None
                    and old.in_progress_expiry_timestamp < now * 1000
                )
                if not (expired or stale):
                    if self.payload_validation_enabled:
                        self._validate_payload(data_payload=data_record, stored_data_record=old)
                    raise IdempotencyItemAlreadyExistsError(old_data_record=old)
            conn.execute(
                f"INSERT OR REPLACE INTO api_idempotency ({_COLUMNS})"  # noqa: S608 - constant column list
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    data_record.idempotency_key,
                    data_record.status,
                    data_record.expiry_timestamp,
                    data_record.in_progress_expiry_timestamp,
                    data_record.response_data,
                    data_record.payload_hash if self.payload_validation_enabled else None,
                ),
            )

    def _update_record(self, data_record: DataRecord) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE api_idempotency SET status = ?, expiry = ?, response_data = ? WHERE id = ?",
                (
                    data_record.status,
                    data_record.expiry_timestamp,
                    data_record.response_data,
                    data_record.idempotency_key,
                ),
            )

    def _delete_record(self, data_record: DataRecord) -> None:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM api_idempotency WHERE id = ?", (data_record.idempotency_key,))
