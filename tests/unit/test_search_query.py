"""Search matching on analyzer terms: Chinese words, pinyin, initials, traditional, tags, OR."""

from __future__ import annotations

import pytest

from domain.errors import Invalid
from runtime.search.query import SearchQuery, search_rows
from runtime.views.library import search_terms

pytestmark = pytest.mark.unit


def row(name, description="", tags=(), family="bert"):
    r = {"name": name, "description": description, "tags": list(tags), "family": family, "source": ""}
    return {**r, "terms": search_terms(r)}


ROWS = [
    row("中文情感分类模型", "基于评论数据训练", ["情感", "sentiment"]),
    row("机器翻译模型", "英中翻译", ["translation"], family="xlnet"),
    row("新闻标题生成", "摘要", ["generation"], family="roberta"),
]


def names(q: SearchQuery) -> list[str]:
    return [r["name"] for r in search_rows(ROWS, q)]


@pytest.mark.parametrize(
    "q",
    ["情感", "qinggan", "qg", "zwqg", "zhongwen qinggan", "情感分類", "分类模型", "SENTIMENT", "评论",
     "qgfl", "qingganfenlei", "flmx", "fenleimoxing", "qinggan fenlei"],  # fmt: skip
)
def test_finds_the_sentiment_model_by_word_pinyin_initials_and_traditional(q):
    assert names(SearchQuery(q=q))[0] == "中文情感分类模型"


def test_and_requires_every_word_and_or_takes_either():
    assert names(SearchQuery(q="情感 翻译")) == []
    assert set(names(SearchQuery(q="情感 OR 翻译"))) == {"中文情感分类模型", "机器翻译模型"}


def test_filters_by_family_and_tags():
    assert names(SearchQuery(q="模型", families=("xlnet",))) == ["机器翻译模型"]
    assert names(SearchQuery(tags=("sentiment", "情感"))) == ["中文情感分类模型"]
    assert set(names(SearchQuery(tags=("sentiment", "translation"), tags_mode="any"))) == {
        "中文情感分类模型",
        "机器翻译模型",
    }
    assert names(SearchQuery(tags=("sentiment", "translation"))) == []


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
