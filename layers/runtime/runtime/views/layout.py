"""How views are laid out for reading at scale (both backends read this one table).

- ``PARTITIONS``: views whose rows belong to a partition named by a row attribute (the
  ``models`` and ``runs`` views by ``project_id``). ``ViewStore.scan_partition(view, partition)`` reads only
  that partition's rows: SQLite through an expression index on the attribute, DynamoDB from the
  items under partition key ``<view>@<partition>`` (``runtime.adapters.dynamodb.views``).
- ``INDEXED``: views whose rows carry analyzer terms (``row["terms"]``, see
  ``runtime.views.library.search_terms``); DynamoDB keeps one posting item per (index key, row)
  in the row's partition (``runtime.search.query.index_keys``: the terms plus CJK character
  pairs), so a search reads the postings of its query terms and then only the
  candidate rows (``runtime.search.query.SearchQuery.lookups``). Matching and ranking always run
  in process over those rows (``search_rows``), so both backends return the same results.
"""

from __future__ import annotations

from domain.projection import Row

PARTITIONS: dict[str, str] = {"models": "project_id", "runs": "project_id"}
INDEXED: frozenset[str] = frozenset({"models"})
PARTITIONS["pipelines"] = "project_id"  # issue 15: a project's pipelines
PARTITIONS["project_activity"] = "project_id"  # issue 15: a project's streams (counts, feed, export)
PARTITIONS["studies"] = "project_id"  # issue 13: a project's studies


def partition_of(view: str, row: Row | None) -> str | None:
    """The partition a row of ``view`` belongs to; None for unpartitioned views (or no row)."""
    attr = PARTITIONS.get(view)
    if attr is None or row is None:
        return None
    value = row.get(attr)
    return None if value is None else str(value)


def index_terms_of(view: str, row: Row | None) -> set[str]:
    """Every index key of the row (``runtime.search.query.index_keys``); empty if not indexed."""
    if view not in INDEXED or row is None:
        return set()
    from runtime.search.query import index_keys

    return index_keys(row)
