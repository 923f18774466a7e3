"""Search matching on analyzer terms: Chinese words, pinyin, initials, traditional, tags, OR."""

from __future__ import annotations

import pytest

from domain.errors import Invalid
from runtime.search.query import Lookup, SearchQuery, index_keys, search_rows
from runtime.views.library import search_terms

pytestmark = pytest.mark.unit


def row(name, description="", tags=(), family="bert"):
    r = {"name": name, "description": description, "tags": list(tags), "family": family, "source": ""}
    return {**r, "terms": search_terms(r)}


# Matching by words, pinyin, initials, traditional, AND/OR and filters runs against both view
# stores in tests/contract/test_search_contract.py.


def test_lookups_cover_latin_prefixes_and_chinese_character_pairs():
    latin_and_word, other = SearchQuery(q="bert 情感分析 OR qg 中").lookups()
    assert Lookup("bert", exact=False) in latin_and_word
    assert {lk.text for lk in latin_and_word if lk.exact} == {"情感", "分析"}  # pairs of each segmented word
    assert other == (Lookup("qg", exact=False), Lookup("中", exact=True))
    assert SearchQuery(tags=("x",)).lookups() is None


def test_index_keys_hold_the_terms_and_the_pairs_of_every_folded_field():
    r = row("中文情感", "基于評論", ["情感", "x"])
    keys = index_keys(r)
    assert {t for ts in r["terms"].values() for t in ts} <= keys
    assert {"中文", "文情", "情感", "基于", "于评", "评论"} <= keys  # traditional folded: 評論 -> 评论


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
