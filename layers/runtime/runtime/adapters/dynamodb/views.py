"""DynamoDB read views: the ``ViewStore`` port plus the projector's conditional row writes.

Views table item (partition ``keys.VIEWS_PK`` = view name, sort ``keys.VIEWS_SK`` = row key):

  view S | key S | row S (JSON) or NULL (tombstone) | versions M {stream_id: N} | rev N

``versions`` is the per-stream guard: a row is written only if ``versions.<stream>`` is absent
or below the event's version, so a redelivered stream record changes nothing. ``rev`` counts the
writes of the row; the projector reads, folds and writes back only if ``rev`` is unchanged, so
two Lambdas (different shards) folding into one shared row cannot lose each other's update.
Attribute names always go through placeholders (stream ids contain '-', view keys anything).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from domain.projection import Row
from runtime.adapters.dynamodb import keys
from runtime.ports import ViewRecord

ROW = "row"
VERSIONS = "versions"
REV = "rev"


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


class DynamoDbViewStore:
    def __init__(self, dynamodb: Any, table_name: str) -> None:
        """``dynamodb`` is a boto3 DynamoDB *client*; nothing is called until first use."""
        self.dynamodb = dynamodb
        self.table = table_name

    @classmethod
    def from_settings(cls, settings: Any) -> DynamoDbViewStore:
        import boto3  # only here: building the client is the first AWS work

        client = boto3.client("dynamodb", region_name=settings.region, endpoint_url=settings.endpoint_url)
        return cls(client, settings.views_table)

    def _key(self, view: str, key: str) -> dict[str, Any]:
        return {keys.VIEWS_PK: {"S": view}, keys.VIEWS_SK: {"S": key}}

    # -- ViewStore port
    def get(self, view: str, key: str) -> Row | None:
        record = self.load(view, key)
        return None if record is None else record.row

    def scan(self, view: str, *, prefix: str | None = None) -> Iterator[tuple[str, Row]]:
        """Live rows (no tombstones) of one view in key order (a Query on the partition)."""
        for item in self._query(view, prefix=prefix):
            row = item.get(ROW, {})
            if "S" in row:
                yield item[keys.VIEWS_SK]["S"], dict(json.loads(row["S"]))

    def clear(self, view: str) -> None:
        batch: list[dict[str, Any]] = []
        for item in self._query(view, keys_only=True):
            batch.append({"DeleteRequest": {"Key": self._key(view, item[keys.VIEWS_SK]["S"])}})
            if len(batch) == 25:
                self._write_batch(batch)
                batch = []
        if batch:
            self._write_batch(batch)

    def _write_batch(self, requests: list[dict[str, Any]]) -> None:
        pending: dict[str, Any] = {self.table: requests}
        for _ in range(10):
            out = self.dynamodb.batch_write_item(RequestItems=pending)
            pending = out.get("UnprocessedItems") or {}
            if not pending:
                return
        raise RuntimeError(f"clear of {self.table}: items left unprocessed")

    def _query(
        self, view: str, *, prefix: str | None = None, keys_only: bool = False
    ) -> Iterator[dict[str, Any]]:
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "#pk = :pk",
            "ExpressionAttributeNames": {"#pk": keys.VIEWS_PK},
            "ExpressionAttributeValues": {":pk": {"S": view}},
            "ConsistentRead": True,
        }
        if prefix:
            request["KeyConditionExpression"] += " AND begins_with(#sk, :prefix)"
            request["ExpressionAttributeNames"]["#sk"] = keys.VIEWS_SK
            request["ExpressionAttributeValues"][":prefix"] = {"S": prefix}
        if keys_only:
            request["ProjectionExpression"] = "#sk"
            request["ExpressionAttributeNames"]["#sk"] = keys.VIEWS_SK
        while True:
            page = self.dynamodb.query(**request)
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # -- projector target (runtime.projector.ViewTarget)
    def load(self, view: str, key: str) -> ViewRecord | None:
        item = self.dynamodb.get_item(
            TableName=self.table, Key=self._key(view, key), ConsistentRead=True
        ).get("Item")
        if item is None:
            return None
        row_attr = item.get(ROW, {})
        row = dict(json.loads(row_attr["S"])) if "S" in row_attr else None
        versions = {s: int(v["N"]) for s, v in item.get(VERSIONS, {}).get("M", {}).items()}
        return _Loaded(
            view=view, key=key, row=row, versions=versions, rev=int(item.get(REV, {}).get("N", "0"))
        )

    def save(self, record: ViewRecord, previous: ViewRecord | None) -> bool:
        """Conditional put: the row is still what we loaded (``rev``) and has not applied this
        stream's version yet. False when the condition fails (caller reloads and retries)."""
        new_versions = {
            s: v for s, v in record.versions.items() if previous is None or previous.versions.get(s) != v
        }
        if len(new_versions) != 1:
            raise ValueError("a projector write changes exactly one stream's version")
        ((stream, version),) = new_versions.items()
        names = {"#pk": keys.VIEWS_PK}
        values: dict[str, Any] = {}
        if previous is None:
            condition = "attribute_not_exists(#pk)"
            rev = 1
        else:
            prev_rev = previous.rev if isinstance(previous, _Loaded) else 0
            names.update({"#rev": REV, "#versions": VERSIONS, "#s": stream})
            values.update({":rev": {"N": str(prev_rev)}, ":v": {"N": str(version)}})
            condition = (
                "attribute_exists(#pk) AND "
                + ("#rev = :rev" if prev_rev else "attribute_not_exists(#rev)")
                + " AND (attribute_not_exists(#versions.#s) OR #versions.#s < :v)"
            )
            if not prev_rev:
                values.pop(":rev")
            rev = prev_rev + 1
        item = {
            **self._key(record.view, record.key),
            ROW: {"NULL": True} if record.row is None else {"S": _dumps(record.row)},
            VERSIONS: {"M": {s: {"N": str(v)} for s, v in record.versions.items()}},
            REV: {"N": str(rev)},
        }
        request: dict[str, Any] = {
            "TableName": self.table,
            "Item": item,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
        }
        if values:
            request["ExpressionAttributeValues"] = values
        try:
            self.dynamodb.put_item(**request)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True


@dataclass(frozen=True)
class _Loaded(ViewRecord):
    """A loaded record plus the row's write counter (for the optimistic check)."""

    rev: int = 0
