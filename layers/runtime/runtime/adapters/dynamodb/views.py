"""DynamoDB read views: the ``ViewStore`` port plus the projector's conditional row writes.

Views table item (partition ``keys.VIEWS_PK``, sort ``keys.VIEWS_SK``):

  view S | key S | row S (JSON) or NULL (tombstone) | versions M {stream_id: N} | rev N

Unpartitioned views keep that item at (view name, row key). Partitioned views
(``runtime.views.layout.PARTITIONS``; ``models`` by project) keep a small locator at
(view name, row key) = {part: <partition>} and the row at (``<view>@<partition>``, ``r#<key>``),
next to one posting item per search term at (``<view>@<partition>``, ``t#<term>#<key>``), so a
project's list reads only its own rows and a search reads only the postings of its query terms
plus the candidate rows (ADR 0002). A row and its posting changes commit in one
TransactWriteItems when they fit (100 items); otherwise new postings go first and stale ones
last, so the postings are always a superset of the truth (search re-checks every candidate row).

``versions`` is the per-stream guard: a row is written only if ``versions.<stream>`` is absent
or below the event's version, so a redelivered stream record changes nothing. ``rev`` counts the
writes of the row; the projector reads, folds and writes back only if ``rev`` is unchanged, so
two Lambdas (different shards) folding into one shared row cannot lose each other's update.
Attribute names always go through placeholders (stream ids contain '-', view keys anything).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from domain.projection import Row
from runtime.adapters.dynamodb import keys
from runtime.ports import ViewRecord
from runtime.search.query import Lookup
from runtime.views import layout

ROW = "row"
VERSIONS = "versions"
REV = "rev"
_TX_MAX = 100  # TransactWriteItems items


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def _row_of(item: dict[str, Any]) -> Row | None:
    attr = item.get(ROW, {})
    return dict(json.loads(attr["S"])) if "S" in attr else None


def _pk(view: str, part: str) -> str:
    return f"{view}{keys.VIEWS_PARTITION_SEP}{part}"


def _term_sk(term: str, key: str) -> str:
    if "#" in term:
        raise ValueError(f"search term {term!r} contains '#'")
    return f"{keys.VIEWS_TERM_PREFIX}{term}#{key}"


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

    @staticmethod
    def _key(pk: str, sk: str) -> dict[str, Any]:
        return {keys.VIEWS_PK: {"S": pk}, keys.VIEWS_SK: {"S": sk}}

    # -- ViewStore port
    def get(self, view: str, key: str) -> Row | None:
        record = self.load(view, key)
        return None if record is None else record.row

    def scan(self, view: str, *, prefix: str | None = None) -> Iterator[tuple[str, Row]]:
        """Live rows (no tombstones) of one view in key order. A partitioned view is read
        through its locators (every partition: prefer ``scan_partition``)."""
        if view not in layout.PARTITIONS:
            for item in self._query(view, prefix=prefix):
                row = _row_of(item)
                if row is not None:
                    yield item[keys.VIEWS_SK]["S"], row
            return
        located = [
            (i[keys.VIEWS_SK]["S"], i.get(keys.VIEWS_PART_ATTR, {}).get("S", ""))
            for i in self._query(view, prefix=prefix)
        ]
        for chunk in _chunks(located, 100):
            got = self._get_rows(view, chunk)
            for key, _ in chunk:
                if got.get(key) is not None:
                    yield key, got[key]  # type: ignore[misc]

    def scan_partition(
        self, view: str, partition: str, *, lookups: Sequence[Sequence[Lookup]] | None = None
    ) -> Iterator[tuple[str, Row]]:
        """Live rows of one partition in key order; with ``lookups`` (OR of AND-groups, see
        ``SearchQuery.lookups``) only the rows whose postings hit every lookup of some group."""
        if view not in layout.PARTITIONS:
            raise ValueError(f"view {view!r} is not partitioned")
        pk = _pk(view, partition)
        if lookups is None or view not in layout.INDEXED:
            for item in self._query(pk, prefix=keys.VIEWS_ROW_PREFIX):
                row = _row_of(item)
                if row is not None:
                    yield item[keys.VIEWS_SK]["S"].removeprefix(keys.VIEWS_ROW_PREFIX), row
            return
        wanted: set[str] = set()
        for group in lookups:
            candidates: set[str] | None = None
            for lookup in group:
                hit, read = self._posting_keys(pk, lookup)
                candidates = hit if candidates is None else candidates & hit
                # Another lookup costs about what this one read and can save at most one row read
                # per candidate: once the candidates are fewer, fetch them (still a superset).
                if len(candidates) <= read:
                    break
            wanted |= candidates or set()
        ordered = [(k, partition) for k in sorted(wanted)]
        for chunk in _chunks(ordered, 100):
            got = self._get_rows(view, chunk)
            for key, _ in chunk:
                if got.get(key) is not None:
                    yield key, got[key]  # type: ignore[misc]

    def _posting_keys(self, pk: str, lookup: Lookup) -> tuple[set[str], int]:
        """Row keys with a posting for ``lookup``, and how many posting items that read."""
        prefix = keys.VIEWS_TERM_PREFIX + lookup.text + ("#" if lookup.exact else "")
        out, read = set(), 0
        for item in self._query(pk, prefix=prefix, keys_only=True):
            out.add(item[keys.VIEWS_SK]["S"][len(keys.VIEWS_TERM_PREFIX) :].split("#", 1)[1])
            read += 1
        return out, read

    def _get_rows(self, view: str, located: Sequence[tuple[str, str]]) -> dict[str, Row | None]:
        """BatchGetItem of up to 100 rows given (key, partition)."""
        if not located:
            return {}
        pending: dict[str, Any] = {
            self.table: {
                "Keys": [self._key(_pk(view, part), keys.VIEWS_ROW_PREFIX + k) for k, part in located],
                "ConsistentRead": True,
            }
        }
        out: dict[str, Row | None] = {}
        for _ in range(10):
            resp = self.dynamodb.batch_get_item(RequestItems=pending)
            for item in resp.get("Responses", {}).get(self.table, []):
                out[item[keys.VIEWS_SK]["S"].removeprefix(keys.VIEWS_ROW_PREFIX)] = _row_of(item)
            pending = resp.get("UnprocessedKeys") or {}
            if not pending:
                return out
        raise RuntimeError(f"batch read of {self.table}: keys left unprocessed")

    def clear(self, view: str) -> None:
        doomed: list[tuple[str, str]] = []
        parts: set[str] = set()
        for item in self._query(view, keys_only=True):
            doomed.append((view, item[keys.VIEWS_SK]["S"]))
            if keys.VIEWS_PART_ATTR in item:
                parts.add(item[keys.VIEWS_PART_ATTR]["S"])
        for part in sorted(parts):
            doomed.extend(
                (_pk(view, part), i[keys.VIEWS_SK]["S"]) for i in self._query(_pk(view, part), keys_only=True)
            )
        self._write_batch([{"DeleteRequest": {"Key": self._key(pk, sk)}} for pk, sk in doomed])

    def _write_batch(self, requests: Sequence[dict[str, Any]]) -> None:
        for chunk in _chunks(list(requests), 25):
            pending: dict[str, Any] = {self.table: chunk}
            for _ in range(10):
                out = self.dynamodb.batch_write_item(RequestItems=pending)
                pending = out.get("UnprocessedItems") or {}
                if not pending:
                    break
            else:
                raise RuntimeError(f"batch write to {self.table}: items left unprocessed")

    def _query(self, pk: str, *, prefix: str | None = None, keys_only: bool = False) -> Iterator[dict[str, Any]]:
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "#pk = :pk",
            "ExpressionAttributeNames": {"#pk": keys.VIEWS_PK},
            "ExpressionAttributeValues": {":pk": {"S": pk}},
            "ConsistentRead": True,
        }
        if prefix:
            request["KeyConditionExpression"] += " AND begins_with(#sk, :prefix)"
            request["ExpressionAttributeNames"]["#sk"] = keys.VIEWS_SK
            request["ExpressionAttributeValues"][":prefix"] = {"S": prefix}
        if keys_only:
            request["ProjectionExpression"] = "#sk, #part"
            request["ExpressionAttributeNames"].update({"#sk": keys.VIEWS_SK, "#part": keys.VIEWS_PART_ATTR})
        while True:
            page = self.dynamodb.query(**request)
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # -- projector target (runtime.projector.ViewTarget)
    def load(self, view: str, key: str) -> ViewRecord | None:
        item = self._get_item(view, key)
        if item is None:
            return None
        part = None
        if view in layout.PARTITIONS:
            part = item.get(keys.VIEWS_PART_ATTR, {}).get("S", "")
            item = self._get_item(_pk(view, part), keys.VIEWS_ROW_PREFIX + key)
            if item is None:
                return None
        versions = {s: int(v["N"]) for s, v in item.get(VERSIONS, {}).get("M", {}).items()}
        rev = int(item.get(REV, {}).get("N", "0"))
        return _Loaded(view=view, key=key, row=_row_of(item), versions=versions, rev=rev, part=part)

    def _get_item(self, pk: str, sk: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self.dynamodb.get_item(
            TableName=self.table, Key=self._key(pk, sk), ConsistentRead=True
        ).get("Item")
        return found

    def save(self, record: ViewRecord, previous: ViewRecord | None) -> bool:
        """Conditional put: the row is still what we loaded (``rev``) and has not applied this
        stream's version yet. False when the condition fails (caller reloads and retries)."""
        put, adds, drops = self.write_ops(record, previous)
        if not adds and not drops:
            return self._put(put)
        if 1 + len(adds) + len(drops) <= _TX_MAX:
            return self._transact([{"Put": put}, *adds, *drops])
        self._write_batch([{"PutRequest": {"Item": a["Put"]["Item"]}} for a in adds])
        if not self._put(put):
            return False
        self._write_batch([{"DeleteRequest": {"Key": d["Delete"]["Key"]}} for d in drops])
        return True

    def write_ops(
        self, record: ViewRecord, previous: ViewRecord | None
    ) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
        """What ``save`` writes: the conditional row put, the items to add (locator, new
        postings) and to delete (postings of terms the row lost), as TransactWriteItems entries."""
        put = self._row_put(record, previous)
        if record.view not in layout.PARTITIONS:
            return put, [], []
        part = previous.part if isinstance(previous, _Loaded) and previous.part is not None else None
        if part is None:
            part = layout.partition_of(record.view, record.row) or ""
        pk = _pk(record.view, part)
        put["Item"].update(self._key(pk, keys.VIEWS_ROW_PREFIX + record.key))
        before = layout.index_terms_of(record.view, previous.row if previous else None)
        after = layout.index_terms_of(record.view, record.row)
        adds = [
            {"Put": {"TableName": self.table, "Item": self._key(pk, _term_sk(t, record.key))}}
            for t in sorted(after - before)
        ]
        if previous is None:  # the locator: a row never changes partition
            locator = {**self._key(record.view, record.key), keys.VIEWS_PART_ATTR: {"S": part}}
            adds.insert(0, {"Put": {"TableName": self.table, "Item": locator}})
        drops = [
            {"Delete": {"TableName": self.table, "Key": self._key(pk, _term_sk(t, record.key))}}
            for t in sorted(before - after)
        ]
        return put, adds, drops

    def _row_put(self, record: ViewRecord, previous: ViewRecord | None) -> dict[str, Any]:
        new_versions = {s: v for s, v in record.versions.items() if previous is None or previous.versions.get(s) != v}
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
            values[":v"] = {"N": str(version)}
            if prev_rev:
                values[":rev"] = {"N": str(prev_rev)}
            condition = (
                "attribute_exists(#pk) AND "
                + ("#rev = :rev" if prev_rev else "attribute_not_exists(#rev)")
                + " AND (attribute_not_exists(#versions.#s) OR #versions.#s < :v)"
            )
            rev = prev_rev + 1
        request: dict[str, Any] = {
            "TableName": self.table,
            "Item": {
                **self._key(record.view, record.key),
                ROW: {"NULL": True} if record.row is None else {"S": _dumps(record.row)},
                VERSIONS: {"M": {s: {"N": str(v)} for s, v in record.versions.items()}},
                REV: {"N": str(rev)},
            },
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
        }
        if values:
            request["ExpressionAttributeValues"] = values
        return request

    def _put(self, request: dict[str, Any]) -> bool:
        try:
            self.dynamodb.put_item(**request)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def _transact(self, items: list[dict[str, Any]]) -> bool:
        """One atomic write; False if the first item's (the row's) condition failed."""
        try:
            self.dynamodb.transact_write_items(TransactItems=items)
        except ClientError as exc:
            reasons = exc.response.get("CancellationReasons") or []
            if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
                return False
            raise
        return True


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


@dataclass(frozen=True)
class _Loaded(ViewRecord):
    """A loaded record plus the row's write counter (for the optimistic check) and, for a
    partitioned view, the partition its row lives in."""

    rev: int = 0
    part: str | None = None
