"""Search over view rows that carry analyzer terms (see runtime.views.library.search_terms).

Query syntax: words separated by spaces must all match (AND); ``OR`` (or ``|``) separates
alternatives: ``情感 分类 OR translation``. Filters (family, tags with all/any) combine with
AND. A Latin query word matches a term by prefix (so ``qg``, ``qinggan``, ``zwqg`` and
``bert`` all work); a Chinese word matches a segmented word, or a substring of the folded
name/description/tags (segmentation differences between query and document do not hide hits).
Ranking: name > tags > other text; exact > prefix.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol

from domain.errors import Invalid
from runtime.search.analyzer import fold, query_terms

_OR = re.compile(r"\s+OR\s+|\s*\|\s*")
_WEIGHTS = {"name": 3.0, "tags": 2.0, "text": 1.0}
_LATIN = re.compile(r"^[0-9a-z]+$")


_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")


def _pairs(run: str) -> list[str]:
    """Adjacent character pairs of a CJK run in order (the run itself if it is one character)."""
    return list(dict.fromkeys(run[i : i + 2] for i in range(len(run) - 1))) if len(run) > 1 else [run]


def index_keys(row: dict[str, Any]) -> set[str]:
    """What a row is findable by in an inverted index: its analyzer terms (every field) plus the
    character pairs of the CJK runs of its folded fields (what ``lookups`` reads for Chinese)."""
    keys = {t for terms in row.get("terms", {}).values() for t in terms}
    text = " ".join([row.get("description", ""), row.get("family", ""), row.get("source", "")])
    for folded in _folded(row.get("name", ""), tuple(row.get("tags", ())), text).values():
        for run in _CJK_RUN.findall(folded):
            keys.update(_pairs(run))
    return keys


@dataclass(frozen=True)
class Lookup:
    """One inverted-index read: the terms equal to ``text`` (``exact``) or starting with it."""

    text: str
    exact: bool


@dataclass(frozen=True)
class SearchQuery:
    q: str = ""
    families: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    tags_mode: str = "all"
    groups: tuple[tuple[str, ...], ...] = field(default=(), init=False)

    def __post_init__(self) -> None:
        if len(self.q) > 256:
            raise Invalid("at most 256 characters", field="q")
        if self.tags_mode not in ("all", "any"):
            raise Invalid("tags_mode must be 'all' or 'any'", field="tags_mode")
        groups = tuple(tuple(query_terms(part)) for part in _OR.split(self.q.strip()) if part.strip())
        object.__setattr__(self, "groups", tuple(g for g in groups if g))

    @property
    def empty(self) -> bool:
        return not self.groups and not self.families and not self.tags

    def lookups(self) -> tuple[tuple[Lookup, ...], ...] | None:
        """Index reads whose results contain every row the query can match (a superset; the
        rows are then checked by ``search_rows``): per OR-group, the lookups that must all hit.
        A latin term matches terms by prefix. A Chinese word matches a segmented word or a
        substring of a field; either way every adjacent pair of its characters occurs in that
        field, and ``index_keys`` indexes those pairs (single characters for a one-character
        word). None: no query words (filters only)."""
        if not self.groups:
            return None
        out = []
        for group in self.groups:
            found: dict[Lookup, None] = {}
            for term in group:
                if _LATIN.match(term):
                    found[Lookup(term, exact=False)] = None
                else:
                    found.update({Lookup(pair, exact=True): None for pair in _pairs(term)})
            if not found:
                return None  # nothing to look up: read the whole partition
            out.append(tuple(found))
        return tuple(out)


def _term_score(term: str, row: dict[str, Any], folded: dict[str, str]) -> float:
    """Terms lists are sorted (``search_terms``): exact and prefix hits are one bisection."""
    best = 0.0
    for fld, weight in _WEIGHTS.items():
        terms = row["terms"].get(fld, [])
        i = bisect_left(terms, term)
        after = terms[i] if i < len(terms) else ""
        if after == term:
            best = max(best, weight)
        elif _LATIN.match(term):
            if after.startswith(term):
                best = max(best, weight * 0.6)
        elif term in folded[fld]:
            best = max(best, weight * 0.5)
    return best


def _passes_filters(row: dict[str, Any], query: SearchQuery) -> bool:
    if query.families and row["family"] not in query.families:
        return False
    if query.tags:
        have = {fold(t) for t in row["tags"]}
        want = [fold(t) for t in query.tags]
        hits = [t in have for t in want]
        if not (all(hits) if query.tags_mode == "all" else any(hits)):
            return False
    return True


@lru_cache(maxsize=16384)
def _folded(name: str, tags: tuple[str, ...], text: str) -> dict[str, str]:
    """Folded fields of a row, memoised on their content (a warm search does no zhconv work)."""
    return {"name": fold(name), "tags": " ".join(fold(t) for t in tags), "text": fold(text)}


def search_rows(rows: list[dict[str, Any]], query: SearchQuery) -> list[dict[str, Any]]:
    """Rows matching the query, best first, each with ``_score``."""
    out = []
    for row in rows:
        if not _passes_filters(row, query):
            continue
        if not query.groups:
            out.append({**row, "_score": 0.0})
            continue
        text = " ".join([row["description"], row["family"], row.get("source", "")])
        folded = _folded(row["name"], tuple(row["tags"]), text)
        best = 0.0
        for group in query.groups:
            scores = [_term_score(t, row, folded) for t in group]
            if all(s > 0 for s in scores):
                best = max(best, sum(scores))
        if best > 0:
            out.append({**row, "_score": round(best, 3)})
    return sorted(out, key=lambda r: (-r["_score"], r["name"]))


class _PartitionedViews(Protocol):
    def scan_partition(
        self, view: str, partition: str, *, lookups: Any = None
    ) -> Iterator[tuple[str, dict[str, Any]]]: ...


def search_partitions(
    views: _PartitionedViews,
    view: str,
    partitions: Iterable[str],
    query: SearchQuery | None,
    keep: Callable[[dict[str, Any]], bool] = lambda row: True,
) -> tuple[list[dict[str, Any]], bool]:
    """The rows of ``partitions`` (e.g. the caller's projects) that ``query`` matches, ranked,
    and whether it was a search (False: every kept row, unranked, for the caller to sort). Each
    backend narrows by its own index (``lookups``); the match is always ``search_rows``."""
    searching = query is not None and not query.empty
    lookups = query.lookups() if query is not None and searching else None
    rows = [row for p in sorted(partitions) for _, row in views.scan_partition(view, p, lookups=lookups) if keep(row)]
    if query is not None and searching:
        return search_rows(rows, query), True
    return rows, False
