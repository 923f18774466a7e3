"""A project's whole history as an archive: export from one installation, import into another.

Archive = gzipped tar of

- ``manifest.json``: ``{"format": "tlm.project-archive", "schema_version": 1, "project_id",
  "exported_at", "streams": [{"stream_id", "file", "events", "size", "sha256"}], "blobs": [{"key",
  "file", "size", "sha256"}]}``;
- ``events/<n>.jsonl``: one stream per file, one stored event per line (``stream_id, version, type,
  schema_version, data, metadata, recorded_at``), versions 1..n;
- ``blobs/<hex>``: every blob an event names (``sha256/<hex>`` anywhere in its data).

The streams are the project's rows of the ``project_activity`` view (one partition read), each
read whole from the store. Import reads members from memory (nothing is extracted to disk) and
refuses, before writing anything: a member that is not a regular file or whose name is not one of
the three shapes above (no ``..``, no absolute paths, no links), a file the manifest does not list
or lists with another size or sha256, a blob whose bytes do not hash to its key, an event of an
unknown type or with invalid data, gaps in versions, a stream that does not belong to the
archive's project, and a caller who is not an owner in the archived project. It then writes the
blobs, the run streams, the other streams and the project's own stream last, each with
``expected_version`` (a stream already there with the same events is skipped, so an interrupted
import can be run again; one with other events is a 409). ``recorded_at`` is the importing store's
time; ``occurred_at`` and the rest of each event's metadata are kept.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import tarfile
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from domain.catalog import load_all
from domain.errors import Conflict, Forbidden, Invalid, TooLarge
from domain.events import EventMetadata, decode
from domain.library.projects import PROJECTS
from domain.records import NewEvent, RecordedEvent
from runtime.ports import MAX_BATCH_ITEMS, BlobStore, EventStore
from runtime.services.commands import Caller
from runtime.views.project_activity import project_of

FORMAT = "tlm.project-archive"
SCHEMA_VERSION = 1
MAX_ARCHIVE_BYTES = 2 * 1024**3
MAX_UNPACKED_BYTES = 8 * 1024**3
MAX_MEMBERS = 200_000
_BLOB_KEY = re.compile(r"sha256/([0-9a-f]{64})")
_MEMBER = re.compile(r"^(manifest\.json|events/\d{6}\.jsonl|blobs/[0-9a-f]{64})$")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _line(r: RecordedEvent) -> dict[str, Any]:
    return {
        "stream_id": r.stream_id,
        "version": r.version,
        "type": r.type,
        "schema_version": r.schema_version,
        "data": r.data,
        "metadata": r.metadata.model_dump(mode="json"),
        "recorded_at": r.recorded_at.isoformat(),
    }


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def build(store: EventStore, blobs: BlobStore, project_id: str, streams: list[str]) -> tuple[bytes, dict[str, Any]]:
    """The archive bytes and its manifest."""
    files: dict[str, bytes] = {}
    manifest: dict[str, Any] = {"format": FORMAT, "schema_version": SCHEMA_VERSION, "project_id": project_id,
                                "exported_at": datetime.now(UTC).isoformat(), "streams": [], "blobs": []}  # fmt: skip
    keys: set[str] = set()
    for i, stream_id in enumerate(streams, start=1):
        records = store.read(stream_id)
        if not records:
            continue
        text = "".join(json.dumps(_line(r), ensure_ascii=False, sort_keys=True) + "\n" for r in records).encode()
        name = f"events/{i:06d}.jsonl"
        files[name] = text
        manifest["streams"].append({"stream_id": stream_id, "file": name, "events": len(records),
                                    "size": len(text), "sha256": _sha(text)})  # fmt: skip
        for r in records:
            keys.update(_BLOB_KEY.findall(json.dumps(r.data)))
    for hexdigest in sorted(keys):
        key = f"sha256/{hexdigest}"
        if not blobs.exists(key):
            continue  # reclaimed since: the event still names it, the archive cannot carry it
        data = b"".join(blobs.open_range(key))
        name = f"blobs/{hexdigest}"
        files[name] = data
        manifest["blobs"].append({"key": key, "file": name, "size": len(data), "sha256": _sha(data)})
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        _add(tar, "manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True).encode())
        for name, data in files.items():
            _add(tar, name, data)
    return buf.getvalue(), manifest


def export_to_blob(
    store: EventStore, blobs: BlobStore, artifacts: Any, project_id: str, streams: list[str]
) -> dict[str, Any]:
    data, manifest = build(store, blobs, project_id, streams)
    with tempfile.TemporaryDirectory(prefix="tlm-export-") as tmp:
        path = Path(tmp) / "archive.tar.gz"
        path.write_bytes(data)
        stored = artifacts.put_file(path)
    return {
        "project_id": project_id,
        "archive": stored["blob"],
        "size": stored["size"],
        "sha256": stored["sha256"],
        "url": blobs.download_url(stored["blob"], filename=f"project-{project_id}.tar.gz"),
        "streams": len(manifest["streams"]),
        "events": sum(s["events"] for s in manifest["streams"]),
        "blobs": len(manifest["blobs"]),
    }


# ---------------------------------------------------------------------- import


def _bad(message: str) -> Invalid:
    return Invalid(f"archive refused: {message}", field="archive")


def read_members(archive: bytes) -> dict[str, bytes]:
    """Every member's bytes, after the name, type and size checks (nothing touches the disk)."""
    if len(archive) > MAX_ARCHIVE_BYTES:
        raise TooLarge(f"archive larger than {MAX_ARCHIVE_BYTES} bytes", field="archive")
    out: dict[str, bytes] = {}
    total = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:*") as tar:
            for i, member in enumerate(tar):
                if i >= MAX_MEMBERS:
                    raise _bad(f"more than {MAX_MEMBERS} members")
                if not member.isreg():
                    raise _bad(f"member {member.name!r} is not a regular file (links and devices are refused)")
                if not _MEMBER.match(member.name):
                    raise _bad(f"unexpected member name {member.name!r}")
                if member.name in out:
                    raise _bad(f"member {member.name!r} appears twice")
                total += member.size
                if total > MAX_UNPACKED_BYTES:
                    raise TooLarge(f"archive unpacks to more than {MAX_UNPACKED_BYTES} bytes", field="archive")
                f = tar.extractfile(member)
                out[member.name] = f.read() if f is not None else b""
    except (tarfile.TarError, EOFError, OSError, ValueError) as e:
        if isinstance(e, Invalid):
            raise
        raise _bad(f"not a readable tar.gz archive ({e})") from None
    return out


def _check_file(files: dict[str, bytes], entry: Any, what: str) -> bytes:
    if not isinstance(entry, dict) or not isinstance(entry.get("file"), str):
        raise _bad(f"manifest {what} entry without a file")
    name = entry["file"]
    if name not in files:
        raise _bad(f"{name} is listed in the manifest but missing")
    data = files[name]
    if len(data) != entry.get("size") or _sha(data) != entry.get("sha256"):
        raise _bad(f"{name} does not match its sha256 / size in the manifest (tampered or corrupt)")
    return data


def _records(stream: dict[str, Any], data: bytes) -> list[RecordedEvent]:
    stream_id = stream.get("stream_id")
    out: list[RecordedEvent] = []
    for n, raw in enumerate(data.decode("utf-8").splitlines(), start=1):
        try:
            line = json.loads(raw)
            rec = RecordedEvent(
                stream_id=line["stream_id"], version=line["version"], type=line["type"],
                schema_version=line.get("schema_version", 1), data=line["data"],
                metadata=EventMetadata.model_validate(line["metadata"]),
                recorded_at=datetime.fromisoformat(line["recorded_at"]),
            )  # fmt: skip
            decode(rec.type, rec.data)  # a known type with valid data
        except Invalid as e:
            raise _bad(f"{stream.get('file')} line {n}: {e.message}") from None
        except (ValueError, KeyError, TypeError) as e:
            raise _bad(f"{stream.get('file')} line {n}: not a stored event ({type(e).__name__})") from None
        if rec.stream_id != stream_id or rec.version != n:
            raise _bad(f"{stream.get('file')} line {n}: expected {stream_id} version {n}")
        out.append(rec)
    if not out or len(out) != stream.get("events"):
        raise _bad(f"{stream.get('file')}: event count differs from the manifest")
    return out


def parse(archive: bytes) -> tuple[dict[str, Any], dict[str, list[RecordedEvent]], dict[str, bytes]]:
    """Checked manifest, records per stream and blob bytes per key (raises before any write)."""
    load_all()
    files = read_members(archive)
    if "manifest.json" not in files:
        raise _bad("no manifest.json")
    try:
        manifest = json.loads(files["manifest.json"])
    except ValueError:
        raise _bad("manifest.json is not JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _bad(f"format must be {FORMAT!r}")
    if manifest.get("schema_version") != SCHEMA_VERSION:
        raise _bad(f"schema_version {manifest.get('schema_version')!r}; this TLM reads {SCHEMA_VERSION}")
    project_id = manifest.get("project_id")
    if not isinstance(project_id, str) or not project_id:
        raise _bad("manifest names no project")
    listed = {"manifest.json"}
    streams: dict[str, list[RecordedEvent]] = {}
    for s in manifest.get("streams") or []:
        data = _check_file(files, s, "stream")
        listed.add(s["file"])
        if s.get("stream_id") in streams:
            raise _bad(f"stream {s.get('stream_id')!r} listed twice")
        recs = _records(s, data)
        if project_of(recs[0]) != project_id:
            raise _bad(f"stream {s['stream_id']!r} does not belong to project {project_id}")
        streams[s["stream_id"]] = recs
    if PROJECTS.stream_id(project_id) not in streams:
        raise _bad("the project's own stream is missing")
    blobs: dict[str, bytes] = {}
    for b in manifest.get("blobs") or []:
        data = _check_file(files, b, "blob")
        listed.add(b["file"])
        if b.get("key") != f"sha256/{_sha(data)}" or b["file"] != f"blobs/{_sha(data)}":
            raise _bad(f"{b['file']}: the bytes do not hash to the blob's key")
        blobs[b["key"]] = data
    extra = sorted(set(files) - listed)
    if extra:
        raise _bad(f"members not in the manifest: {', '.join(extra[:5])}")
    return manifest, streams, blobs


def _same(a: RecordedEvent, b: RecordedEvent) -> bool:
    return (a.type, a.data, a.metadata.correlation_id) == (b.type, b.data, b.metadata.correlation_id)


def import_archive(
    store: EventStore, blobs: BlobStore, artifacts: Any, caller: Caller, archive: bytes
) -> dict[str, Any]:
    manifest, streams, blob_data = parse(archive)
    project_id = manifest["project_id"]
    project = PROJECTS.fold(r.event() for r in streams[PROJECTS.stream_id(project_id)])
    if project.role_of(caller.user_id) != "owner":
        raise Forbidden("only an owner of the archived project imports it", field="archive")
    todo: list[str] = []
    skipped = 0
    for stream_id, recs in streams.items():
        have = store.read(stream_id)
        if not have:
            todo.append(stream_id)
        elif len(have) == len(recs) and all(_same(a, b) for a, b in zip(have, recs, strict=True)):
            skipped += 1
        else:
            raise Conflict(f"stream {stream_id} exists here with other events: nothing imported", field="archive")
    written_blobs = 0
    with tempfile.TemporaryDirectory(prefix="tlm-import-") as tmp:
        for key, data in blob_data.items():
            if blobs.exists(key):
                continue
            path = Path(tmp) / key.removeprefix("sha256/")
            path.write_bytes(data)
            if artifacts.put_file(path)["blob"] != key:  # put_file verifies size and sha256 itself
                raise _bad(f"blob {key} stored under another key")
            path.unlink()
            written_blobs += 1
    project_stream = PROJECTS.stream_id(project_id)
    order = sorted(todo, key=lambda s: (s == project_stream, not s.startswith("workflowrun-"), s))
    events = 0
    chunk = MAX_BATCH_ITEMS - 1
    for stream_id in order:
        recs = streams[stream_id]
        for start in range(0, len(recs), chunk):
            part = recs[start : start + chunk]
            new = [
                NewEvent(type=r.type, schema_version=r.schema_version, data=r.data, metadata=r.metadata) for r in part
            ]
            store.append(stream_id, new, start)
            events += len(part)
    return {
        "project_id": project_id,
        "streams": len(todo),
        "streams_already_there": skipped,
        "events": events,
        "blobs": written_blobs,
        "blobs_already_there": len(blob_data) - written_blobs,
    }
