"""A powertools idempotency persistence layer that builds the real one on first use, from the
composition root: DynamoDB on AWS, SQLite locally. Keeps client creation out of import time."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord


class LazyPersistenceLayer(BasePersistenceLayer):
    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # powertools leaves it untyped
        self._inner: BasePersistenceLayer | None = None

    @property
    def inner(self) -> BasePersistenceLayer:
        if self._inner is None:
            from runtime.bootstrap import get_container

            self._inner = get_container().idempotency
        return self._inner

    def configure(self, config: Any, function_name: str | None = None, key_prefix: str | None = None) -> None:
        super().configure(config, function_name, key_prefix)
        self.inner.configure(config, function_name, key_prefix)

    def _get_record(self, idempotency_key: str) -> DataRecord:
        return self.inner._get_record(idempotency_key)

    def _put_record(self, data_record: DataRecord) -> None:
        self.inner._put_record(data_record)

    def _update_record(self, data_record: DataRecord) -> None:
        self.inner._update_record(data_record)

    def _delete_record(self, data_record: DataRecord) -> None:
        self.inner._delete_record(data_record)
