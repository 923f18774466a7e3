"""Search and list at scale: 100,000 models across 1,000 projects; one project's member asks.

Local (SQLite): the projects are created through the library service (events + projector); the
models' view rows are written in bulk, each built by the real ``models`` projection from a
``model.registered`` event (so its analyzer terms are the projector's), in one transaction. Then
``--queries`` searches (a fixed mix of Chinese words, pinyin, initials, latin prefixes and OR) and
as many first-page lists run through ``LibraryService.list_models`` as the member of one project
(authorization included). p50 / p99 per call.

DynamoDB (moto, in-process): the same generator fills ``--dynamodb-projects`` projects (the
member's project included, model for model the same as locally): ten models through the
projector's own write path (``DynamoDbViewStore.save``: row + locator + posting items in one
TransactWriteItems), the rest as the same items (``write_ops``) in BatchWriteItem calls. Reads are per partition,
so the other projects' items are never touched and need not all be loaded; the figure is items
read per hit: every item the views table returned (Query ``Count``, BatchGetItem responses,
GetItem hits), counted by a botocore ``after-call`` hook, over the hits of the same queries
through ``search_partitions`` (the function the library's search calls). The bench fails if a
query's hits differ between the backends.

The last line printed is one JSON object.

    nice -n 10 python bench/search_scale.py [--models 100000] [--projects 1000] [--queries 300]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "layers" / "runtime"))

from domain.events import EventMetadata  # noqa: E402
from domain.records import RecordedEvent  # noqa: E402

QUERIES = ["情感", "qinggan", "分类", "fl", "bert", "sentiment", "摘要 OR 翻译", "zhaiyao", "新闻 标题", "jiqi fanyi"]
TASKS = ["情感分类", "文本摘要", "新闻标题生成", "机器翻译", "命名实体识别", "问答", "文本分类", "语音识别", "意图识别"]
DOMAINS = ["中文", "金融", "医疗", "法律", "电商", "新闻", "社交", "客服"]
LATIN = ["bert", "roberta", "albert", "electra", "xlnet", "gpt", "t5", "base", "small", "large"]
TAGS = ["sentiment", "translation", "summarization", "ner", "qa", "classification", "情感", "翻译", "中文"]
META = EventMetadata(actor="bench")
AT = datetime(2025, 1, 1, tzinfo=UTC)


def model_event(project_id: str, j: int, i: int) -> RecordedEvent:
    rng = random.Random(j * 1_000_003 + i)
    task, dom = rng.choice(TASKS), rng.choice(DOMAINS)
    family = rng.choice(LATIN[:6])
    mid = f"m{j:04d}x{i:04d}"
    data = {
        "model_id": mid,
        "project_id": project_id,
        "name": f"{dom}{task}模型 {family}-{rng.choice(LATIN[6:])} v{i}",
        "family": family,
        "description": f"基于{dom}数据训练的{task}模型, {rng.choice(LATIN)} {rng.choice(LATIN)}",
        "tags": rng.sample(TAGS, 2),
    }
    return RecordedEvent(
        stream_id=f"model-{mid}", version=1, type="model.registered", schema_version=1,
        data=data, metadata=META, recorded_at=AT,
    )  # fmt: skip


def pct(values: list[float], p: float) -> float:
    return sorted(values)[min(len(values) - 1, int(len(values) * p))]


def local(args: argparse.Namespace, per_project: int) -> tuple[dict[str, Any], dict[str, list[str]], list[str]]:
    from runtime.adapters.dynamodb.views import _dumps
    from runtime.bootstrap import build_local
    from runtime.search.query import SearchQuery
    from runtime.services.commands import Caller
    from runtime.settings import Settings
    from runtime.views.library import ModelsView

    tmp = tempfile.TemporaryDirectory(prefix="tlm-search-scale-")
    c = build_local(Settings(backend="local", data_dir=Path(tmp.name), sqlite_synchronous="OFF"))
    lib, view = c.library, ModelsView()
    t0 = time.perf_counter()
    member = Caller(user_id="member")
    others = Caller(user_id="someone-else")
    pids = [lib.create_project(member if j == 0 else others, f"p{j}")["project_id"] for j in range(args.projects)]
    c.projector.catch_up()
    t_projects = time.perf_counter() - t0
    t0 = time.perf_counter()
    rows = []
    for j, pid in enumerate(pids):
        for i in range(per_project):
            e = model_event(pid, j, i)
            row = view.apply(e.data["model_id"], None, e)
            rows.append(("models", e.data["model_id"], _dumps(row), _dumps({e.stream_id: 1})))
    t_rows = time.perf_counter() - t0
    t0 = time.perf_counter()
    with c.db.transaction() as conn:
        conn.executemany("INSERT INTO views (view, key, row, versions) VALUES (?, ?, ?, ?)", rows)
    t_insert = time.perf_counter() - t0
    search_ms, list_ms, hits = [], [], {}
    lib.list_models(member, query=SearchQuery(q="warm"))
    for q in QUERIES:  # every hit, for the comparison with DynamoDB (untimed)
        hits[q] = [r["model_id"] for r in lib.list_models(member, query=SearchQuery(q=q), limit=500)["items"]]
    for n in range(args.queries):
        q = QUERIES[n % len(QUERIES)]
        t = time.perf_counter()
        lib.list_models(member, query=SearchQuery(q=q))  # first page (50), as the CLI asks
        search_ms.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        page = lib.list_models(member, project_id=pids[0])
        list_ms.append((time.perf_counter() - t) * 1000)
        assert page["total"] == per_project, page["total"]
    stats = {
        "local_search_p50_ms": round(statistics.median(search_ms), 2),
        "local_search_p99_ms": round(pct(search_ms, 0.99), 2),
        "local_list_p50_ms": round(statistics.median(list_ms), 2),
        "local_list_p99_ms": round(pct(list_ms, 0.99), 2),
        "local_setup_s": {"projects": round(t_projects, 1), "rows": round(t_rows, 1), "insert": round(t_insert, 1)},
    }
    c.db.close()
    tmp.cleanup()
    return stats, hits, pids


def dynamodb(
    args: argparse.Namespace, per_project: int, pids: list[str]
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    import boto3
    from moto import mock_aws

    from runtime.adapters.dynamodb.views import DynamoDbViewStore
    from runtime.projector import apply_event, step
    from runtime.search.query import SearchQuery, search_partitions
    from runtime.views.library import ModelsView
    from tests.aws_tables import create_views_table

    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_views_table(client, "bench-views")
        store = DynamoDbViewStore(client, "bench-views")
        t0 = time.perf_counter()
        view = ModelsView()
        for i in range(min(10, per_project)):  # the projector's own (transactional) writes
            apply_event(store, [view], model_event(pids[0], 0, i))
        bulk = []  # the rest: the same items (write_ops), written 25 at a time (moto copies the
        # whole table for every TransactWriteItems, which makes a bulk load through it quadratic)
        for j, pid in enumerate(pids[: args.dynamodb_projects]):
            for i in range(10 if j == 0 else 0, per_project):
                e = model_event(pid, j, i)
                record = step(view, e.data["model_id"], None, e)
                assert record is not None
                put, adds, _ = store.write_ops(record, None)
                bulk += [{"PutRequest": {"Item": it}} for it in (put["Item"], *(a["Put"]["Item"] for a in adds))]
        store._write_batch(bulk)
        t_load = time.perf_counter() - t0
        table_items = client.describe_table(TableName="bench-views")["Table"]["ItemCount"]
        read = {"items": 0, "calls": 0}

        def count(http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
            read["calls"] += 1
            if model.name in ("Query", "Scan"):
                read["items"] += parsed.get("Count", 0)
            elif model.name == "BatchGetItem":
                read["items"] += sum(len(v) for v in parsed.get("Responses", {}).values())
            elif model.name == "GetItem":
                read["items"] += 1 if "Item" in parsed else 0

        client.meta.events.register("after-call.dynamodb", count)
        per_query, hits = [], {}
        total_items = total_hits = 0
        for q in QUERIES:
            read.update(items=0, calls=0)
            found, _ = search_partitions(store, "models", [pids[0]], SearchQuery(q=q))
            hits[q] = [r["model_id"] for r in found]
            total_items, total_hits = total_items + read["items"], total_hits + len(found)
            per_query.append({"q": q, "hits": len(found), "items_read": read["items"], "requests": read["calls"]})
        read.update(items=0, calls=0)
        listed, _ = search_partitions(store, "models", [pids[0]], None)
        list_items = read["items"]
    return {
        "dynamodb_items_read_per_hit": round(total_items / max(total_hits, 1), 2),
        "dynamodb_worst_query_items_per_hit": max(round(p["items_read"] / max(p["hits"], 1), 2) for p in per_query),
        "dynamodb_list_items_read": list_items,
        "dynamodb_list_rows": len(listed),
        "dynamodb_projects_loaded": min(args.dynamodb_projects, len(pids)),
        "dynamodb_table_items": table_items,
        "dynamodb_load_s": round(t_load, 1),
        "dynamodb_queries": per_query,
    }, hits


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", type=int, default=100_000)
    ap.add_argument("--projects", type=int, default=1_000)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--dynamodb-projects", type=int, default=20)
    args = ap.parse_args()
    per_project = args.models // args.projects
    t0 = time.perf_counter()
    local_stats, local_hits, pids = local(args, per_project)
    print(json.dumps(local_stats), flush=True)
    ddb_stats, ddb_hits = dynamodb(args, per_project, pids)
    for q in QUERIES:
        if sorted(local_hits[q]) != sorted(ddb_hits[q]):
            raise SystemExit(f"backends disagree on {q!r}: {len(local_hits[q])} vs {len(ddb_hits[q])} hits")
    print(json.dumps(ddb_stats["dynamodb_queries"], ensure_ascii=False), flush=True)
    out = {
        "models": per_project * args.projects,
        "projects": args.projects,
        "models_per_project": per_project,
        "hits_per_query": {q: len(h) for q, h in local_hits.items()},
        **{k: v for k, v in ddb_stats.items() if k != "dynamodb_queries"},
        "same_hits_both_backends": True,
        "wall_s": round(time.perf_counter() - t0, 1),
        **local_stats,
    }
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
