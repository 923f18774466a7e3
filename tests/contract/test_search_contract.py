"""Model search, one suite for both view stores: SQLite (rows of a project read through the
expression index, matched in process) and DynamoDB on moto (rows partitioned by project, the
query's terms read from posting items, only candidate rows fetched). Rows arrive the way they do
in production: recorded events applied by the projector (``apply_event``) with the real
``models`` projection; every search goes through ``search_partitions``, as the library does."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.events import EventMetadata
from domain.records import RecordedEvent
from runtime.adapters.dynamodb import keys
from runtime.adapters.dynamodb.views import DynamoDbViewStore
from runtime.adapters.sqlite.db import Database
from runtime.adapters.sqlite.views import SqliteViewStore
from runtime.projector import apply_event, rebuild
from runtime.search.query import SearchQuery, search_partitions, search_rows
from runtime.views import layout
from runtime.views.library import ModelsView
from tests.aws_tables import create_views_table

pytestmark = pytest.mark.contract

P1, P2 = "proj1", "proj2"
MODELS = [ModelsView()]
META = EventMetadata(actor="u")


class Library:
    """A view store fed by model events; ``names(q)`` searches project P1 only."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.versions: dict[str, int] = {}
        self.log: list[RecordedEvent] = []

    def emit(self, mid: str, type_: str, **data: Any) -> None:
        stream = f"model-{mid}"
        version = self.versions[stream] = self.versions.get(stream, 0) + 1
        event = RecordedEvent(
            stream_id=stream,
            version=version,
            type=type_,
            schema_version=1,
            data=data,
            metadata=META,
            recorded_at=datetime(2025, 1, 1, tzinfo=UTC),
        )
        self.log.append(event)
        apply_event(self.store, MODELS, event)

    def register(self, model_id: str, name: str, description: str = "", tags=(), family="bert", project=P1) -> None:
        self.emit(
            model_id, "model.registered", model_id=model_id, project_id=project, name=name,
            family=family, description=description, tags=list(tags),
        )  # fmt: skip

    def names(self, query: SearchQuery, projects=(P1,)) -> list[str]:
        return [r["name"] for r in search_partitions(self.store, "models", projects, query)[0]]


@pytest.fixture(params=["sqlite", "dynamodb"])
def new_library(
    request: pytest.FixtureRequest, tmp_path: Path, aws_clients: tuple[Any, Any]
) -> Iterator[Callable[[], Library]]:
    made: list[Database] = []

    def make() -> Library:
        if request.param == "sqlite":
            db = Database(tmp_path / f"{uuid.uuid4().hex}.db", synchronous="OFF")
            made.append(db)
            return Library(SqliteViewStore(db))
        table = f"views-{uuid.uuid4().hex[:12]}"
        create_views_table(aws_clients[0], table)
        return Library(DynamoDbViewStore(aws_clients[0], table))

    yield make
    for db in made:
        db.close()


@pytest.fixture
def lib(new_library: Callable[[], Library]) -> Library:
    lib = new_library()
    lib.register("m1", "中文情感分类模型", "基于评论数据训练", ["情感", "sentiment"])
    lib.register("m2", "机器翻译模型", "英中翻译", ["translation"], family="xlnet")
    lib.register("m3", "新闻标题生成", "摘要", ["generation"], family="roberta")
    lib.register("x1", "中文情感分类模型 other project", "情感", ["sentiment"], project=P2)
    return lib


@pytest.mark.parametrize(
    "q",
    ["情感", "qinggan", "qg", "zwqg", "zhongwen qinggan", "情感分類", "分类模型", "SENTIMENT", "评论",
     "qgfl", "qingganfenlei", "flmx", "fenleimoxing", "qinggan fenlei"],  # fmt: skip
)
def test_finds_the_sentiment_model_by_word_pinyin_initials_and_traditional(lib: Library, q: str) -> None:
    assert lib.names(SearchQuery(q=q)) == ["中文情感分类模型"]


def test_and_requires_every_word_and_or_takes_either(lib: Library) -> None:
    assert lib.names(SearchQuery(q="情感 翻译")) == []
    assert set(lib.names(SearchQuery(q="情感 OR 翻译"))) == {"中文情感分类模型", "机器翻译模型"}


def test_filters_by_family_and_tags(lib: Library) -> None:
    assert lib.names(SearchQuery(q="模型", families=("xlnet",))) == ["机器翻译模型"]
    assert lib.names(SearchQuery(tags=("sentiment", "情感"))) == ["中文情感分类模型"]
    assert set(lib.names(SearchQuery(tags=("sentiment", "translation"), tags_mode="any"))) == {
        "中文情感分类模型",
        "机器翻译模型",
    }
    assert lib.names(SearchQuery(tags=("sentiment", "translation"))) == []


def test_a_project_sees_only_its_own_models_and_several_projects_merge(lib: Library) -> None:
    assert lib.names(SearchQuery(q="other")) == []
    assert lib.names(SearchQuery(q="情感"), projects=(P1, P2)) == ["中文情感分类模型", "中文情感分类模型 other project"]
    assert sorted(r["model_id"] for _, r in lib.store.scan_partition("models", P2)) == ["x1"]


def test_updates_and_deletes_move_the_index_with_the_row(lib: Library) -> None:
    # When the translation model is renamed, loses its description and its tags, then m3 is deleted
    lib.emit("m2", "model.updated", name="语音识别", description="", tags=["asr"])
    lib.emit("m3", "model.deleted", blobs=[])
    # Then old words find nothing, new ones find it, and the deleted model is gone everywhere
    assert lib.names(SearchQuery(q="翻译")) == []
    assert lib.names(SearchQuery(q="yuyin")) == ["语音识别"]
    assert lib.names(SearchQuery(q="asr")) == ["语音识别"]
    assert lib.names(SearchQuery(q="摘要 OR 新闻")) == []
    assert lib.store.get("models", "m3") is None
    if isinstance(lib.store, DynamoDbViewStore):  # no posting outlives its row's terms
        assert _postings(lib.store, P1) == {
            (t, k) for k, r in lib.store.scan_partition("models", P1) for t in _terms(r)
        }


def test_a_row_with_more_terms_than_one_transaction_holds(new_library: Callable[[], Library]) -> None:
    lib = new_library()
    words = " ".join(f"w{i:03d}" for i in range(150))  # 150 terms + the row: beyond 100 items
    lib.register("big", "大模型", words)
    assert lib.names(SearchQuery(q="w149")) == ["大模型"]
    lib.emit("big", "model.updated", description="w000")
    assert lib.names(SearchQuery(q="w149")) == []
    assert lib.names(SearchQuery(q="w000 damoxing")) == ["大模型"]
    if isinstance(lib.store, DynamoDbViewStore):
        assert len(_postings(lib.store, P1)) == len(_terms(lib.store.get("models", "big")))


def test_rebuild_gives_the_same_rows_and_index(lib: Library) -> None:
    lib.emit("m2", "model.updated", name="语音识别")
    before = _everything(lib.store)
    rebuild(lib.store, MODELS, list(lib.log))
    assert _everything(lib.store) == before
    assert lib.names(SearchQuery(q="yysb")) == ["语音识别"]


_NAMES = ["情感分析", "机器翻译", "文本分类", "问答系统", "情感分类", "命名实体识别", "bert base", "gpt small"]
_TAGS = ["情感", "translation", "ner", "中文", "qa"]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    docs=st.lists(
        st.tuples(st.sampled_from(_NAMES), st.sampled_from(_NAMES), st.lists(st.sampled_from(_TAGS), max_size=2)),
        min_size=1,
        max_size=6,
    ),
    words=st.lists(
        st.sampled_from(["情感", "分类", "qg", "fen", "bert", "识别", "翻", "中文", "qa", "xyz", "OR", "sb"]),
        min_size=1,
        max_size=3,
    ),
)
def test_the_index_never_hides_a_match(new_library: Callable[[], Library], docs: list[Any], words: list[str]) -> None:
    # Given any models, when any query runs, the backend answers exactly what matching every row does
    lib = new_library()
    for i, (name, desc, tags) in enumerate(docs):
        lib.register(f"d{i}", f"{name} {i}", desc, tags)
    query = SearchQuery(q=" ".join(words))
    everything = [row for _, row in lib.store.scan_partition("models", P1)]
    assert lib.names(query) == [r["name"] for r in search_rows(everything, query)]


def _terms(row: dict[str, Any] | None) -> set[str]:
    return layout.index_terms_of("models", row)


def _postings(store: DynamoDbViewStore, part: str) -> set[tuple[str, str]]:
    items = store._query(f"models{keys.VIEWS_PARTITION_SEP}{part}", prefix=keys.VIEWS_TERM_PREFIX, keys_only=True)
    return {tuple(i[keys.VIEWS_SK]["S"][2:].split("#", 1)) for i in items}  # type: ignore[misc]


def _everything(store: Any) -> Any:
    if isinstance(store, DynamoDbViewStore):
        items = store.dynamodb.scan(TableName=store.table, ConsistentRead=True)["Items"]
        return sorted(((i[keys.VIEWS_PK]["S"], i[keys.VIEWS_SK]["S"]), i.get("row"), i.get("part")) for i in items)
    return sorted(store.db.connection().execute("SELECT view, key, row, versions FROM views").fetchall())
