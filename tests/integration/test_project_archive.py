"""Project export -> import between two local installations (two data dirs), through the API
handler: the second installation ends with the same views, the same blobs (by sha256) and the
same history; tampered archives and archive members that try to leave the archive are refused
with nothing written."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from domain.projection import Row
from runtime import projections
from runtime.bootstrap import Container, build_local, set_container
from runtime.services.commands import Caller
from runtime.settings import Settings
from tests.integration.test_pipelines_api import FIXTURE, call, ok

pytestmark = pytest.mark.integration

OWNER, EDITOR = "owner-x", "editor-x"
STAMPS = {"at", "recorded_at", "released_at"}  # the store's own times: an import records its own


def _normal(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (None if k in STAMPS else _normal(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_normal(v) for v in value]
    return value


def views_of(c: Container) -> dict[str, dict[str, Row]]:
    c.catch_up()
    out: dict[str, dict[str, Row]] = {}
    for p in projections.all():
        if p.view.startswith("reaction:"):
            continue
        out[p.view] = {k: _normal(r) for k, r in c.views.scan(p.view)}
    return out


def history_of(c: Container, project_id: str) -> dict[str, list[tuple[Any, ...]]]:
    streams = [r["stream_id"] for _, r in c.views.scan_partition("project_activity", project_id)]
    return {
        s: [(r.version, r.type, r.data, r.metadata.model_dump(mode="json")) for r in c.store.read(s)] for s in streams
    }


@pytest.fixture()
def two(tmp_path: Path) -> Iterator[tuple[Container, Container]]:
    a = build_local(Settings(data_dir=tmp_path / "a", min_part_bytes=1024))
    b = build_local(Settings(data_dir=tmp_path / "b", min_part_bytes=1024))
    try:
        yield a, b
    finally:
        set_container(None)
        a.close()
        b.close()


def _archive(a: Container, pid: str) -> tuple[dict[str, Any], bytes]:
    set_container(a)
    info = ok(OWNER, "POST", f"/projects/{pid}/export")
    data = b"".join(a.blobs.open_range(info["archive"]))
    assert hashlib.sha256(data).hexdigest() == info["sha256"]
    return info, data


def _fill(a: Container, tmp: Path) -> str:
    set_container(a)
    pid = str(ok(OWNER, "POST", "/projects", {"name": "exported"})["project_id"])
    ok(OWNER, "PUT", f"/projects/{pid}/members/{EDITOR}", {"role": "editor"})
    weights = tmp / "model"
    weights.mkdir()
    (weights / "weights.bin").write_bytes(b"\x00\x01weights" * 500)
    (weights / "vocab.txt").write_text("[PAD]\n[UNK]\n你\n好\n", encoding="utf-8")
    a.artifacts.ingest_dir(Caller(OWNER), pid, weights, name="tiny", family="bert")
    cfg = ok(EDITOR, "POST", f"/projects/{pid}/configs", {"template": "bert-tiny", "name": "c"})
    ok(EDITOR, "PATCH", f"/configs/{cfg['config_id']}", {"description": "edited"})
    pipe = ok(EDITOR, "POST", f"/projects/{pid}/pipelines", {"file": FIXTURE.read_text()})
    doc = pipe["definition"]
    doc["nodes"][3]["params"]["max_epochs"] = 2
    ok(EDITOR, "PUT", f"/pipelines/{pipe['pipeline_id']}", {"definition": doc})
    return pid


def test_export_then_import_gives_the_same_views_blobs_and_history(
    two: tuple[Container, Container], tmp_path: Path
) -> None:
    a, b = two
    # Given a project with members, a model with files, a config and a pipeline in installation A
    pid = _fill(a, tmp_path)
    info, data = _archive(a, pid)
    assert info["blobs"] == 2 and info["streams"] >= 5
    # When its archive is imported into installation B
    set_container(b)
    body = {"archive_base64": base64.b64encode(data).decode()}
    imported = ok(OWNER, "POST", "/projects/import", body)
    assert imported["events"] == info["events"]
    # Then B has the same views, history and blobs (by checksum), and the project reads the same
    assert history_of(b, pid) == history_of(a, pid)
    va, vb = views_of(a), views_of(b)
    assert vb == va and len(va["blob_refs"]) == 2 and va["pipelines"]
    for key in va["blob_refs"]:
        assert hashlib.sha256(b"".join(b.blobs.open_range(key))).hexdigest() == key.removeprefix("sha256/")
    set_container(a)
    counts_a = ok(OWNER, "GET", f"/projects/{pid}")["counts"]
    set_container(b)
    assert ok(OWNER, "GET", f"/projects/{pid}")["counts"] == counts_a
    # And importing again changes nothing (an interrupted import can be re-run)
    again = ok(OWNER, "POST", "/projects/import", body)
    assert (again["events"], again["streams_already_there"]) == (0, imported["streams"])


def _rewrite(data: bytes, change: Any) -> bytes:
    members: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for m in tar:
            f = tar.extractfile(m)
            members[m.name] = f.read() if f else b""
    members = change(members)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, blob in members.items():
            ti = tarfile.TarInfo(name)
            ti.size = len(blob)
            tar.addfile(ti, io.BytesIO(blob))
    return buf.getvalue()


def _tamper_event(members: dict[str, bytes]) -> dict[str, bytes]:
    name = next(n for n in members if n.startswith("events/"))
    members[name] = members[name].replace(b'"editor', b'"owner!', 1) or members[name] + b" "
    return members


def _tamper_both(members: dict[str, bytes]) -> dict[str, bytes]:
    """Rewrite a stream AND its manifest entry: the checksums hold, the project check must not."""
    manifest = json.loads(members["manifest.json"])
    entry = next(s for s in manifest["streams"] if s["stream_id"].startswith("config-"))
    lines = members[entry["file"]].decode().splitlines()
    first = json.loads(lines[0])
    first["data"]["project_id"] = "someone-elses"
    lines[0] = json.dumps(first)
    text = ("\n".join(lines) + "\n").encode()
    members[entry["file"]] = text
    entry.update(size=len(text), sha256=hashlib.sha256(text).hexdigest())
    members["manifest.json"] = json.dumps(manifest).encode()
    return members


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (_tamper_event, "does not match its sha256"),
        (lambda m: {**m, "../escape.txt": b"x"}, "unexpected member name"),
        (lambda m: {**m, "/etc/cron.d/x": b"x"}, "unexpected member name"),
        (lambda m: {k: v for k, v in m.items() if not k.startswith("blobs/")}, "missing"),
        (_tamper_both, "does not belong to project"),
    ],
    ids=["tampered-event", "dot-dot", "absolute", "blob-missing", "foreign-stream"],
)
def test_tampered_or_escaping_archives_are_refused_with_nothing_written(
    two: tuple[Container, Container], tmp_path: Path, change: Any, says: str
) -> None:
    a, b = two
    pid = _fill(a, tmp_path)
    _, data = _archive(a, pid)
    bad = _rewrite(data, change)
    set_container(b)
    status, body = call(OWNER, "POST", "/projects/import", {"archive_base64": base64.b64encode(bad).decode()})
    assert (status, body["field"]) == (422, "archive") and says in body["message"], body
    assert b.store.read_all(after_position=0, limit=10) == []
    assert not list((Path(b.settings.data_dir)).rglob("escape.txt"))
