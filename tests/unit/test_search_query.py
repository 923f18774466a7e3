"""Search matching on analyzer terms: Chinese words, pinyin, initials, traditional, tags, OR."""

from __future__ import annotations

import pytest

from domain.errors import Invalid
from runtime.search.query import Lookup, SearchQuery, search_rows
from runtime.views.library import search_terms

pytestmark = pytest.mark.unit


def row(name, description="", tags=(), family="bert"):
    r = {"name": name, "description": description, "tags": list(tags), "family": family, "source": ""}
    return {**r, "terms": search_terms(r)}


# Matching by words, pinyin, initials, traditional, AND/OR and filters runs against both view
# stores in tests/contract/test_search_contract.py.


def test_lookups_cover_latin_prefixes_and_each_chinese_character():
    q = SearchQuery(q="bert 情感 OR qg")
    assert q.lookups() == (
        (Lookup("bert", exact=False), Lookup("情", exact=True), Lookup("感", exact=True)),
        (Lookup("qg", exact=False),),
    )
    assert SearchQuery(tags=("x",)).lookups() is None


def test_name_hits_rank_above_description_hits():
    rows = [row("其他模型", "用于翻译"), row("翻译")]
    assert [r["name"] for r in search_rows(rows, SearchQuery(q="翻译"))] == ["翻译", "其他模型"]


def test_bad_query_parameters_name_the_field():
    with pytest.raises(Invalid) as e:
        SearchQuery(tags_mode="some")
    assert e.value.field == "tags_mode"
    with pytest.raises(Invalid) as e:
        SearchQuery(q="x" * 300)
    assert e.value.field == "q"
