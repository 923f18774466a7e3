"""Library entries <-> job channels and job outputs.

Workflow steps use this to hand a library entry (a model, or a dataset: both are library models,
identified by ``model_id``) to a job as a channel, and to bring what a job wrote back as verified,
content-addressed blobs.

- :meth:`Artifacts.materialize` lays an entry's files out under their file paths. Locally a
  directory ``<data_dir>/channels/<dest>/`` of hard links to the blobs (copies when the link
  fails, e.g. across file systems); on AWS the prefix ``s3://<bucket>/channels/<dest>/`` filled
  by server-side copies. ``dest`` is ``"<run id>/<channel name>"`` (an absolute local path is also
  accepted locally). Every file path is re-checked (``clean_file_path``) and the target must stay
  under the channel root: no path traversal, even from an old event.
- :meth:`Artifacts.ingest_dir` registers a new library entry holding every file under a local
  directory (or an ``s3://`` prefix on AWS). Each file goes through the same path as a user
  upload: ``LibraryService.start_upload`` (``model.upload_started``), the blob store's
  ``upload_part`` / ``join_parts`` / ``complete_upload`` (size and sha256 verified), and
  ``LibraryService.finalize_upload`` (``model.file_added`` by ``system:finalizer``). Empty files
  are left out: the blob store keeps no empty blobs, and a user cannot upload one either.
- :meth:`Artifacts.put_file` stores one file as a verified blob (no library entry) and returns
  ``{"blob", "size", "sha256"}``; compile results are kept this way.

No torch, no heavy imports: this runs in Lambda steps and the API process.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from domain.errors import Invalid, NotFound
from domain.library import models as m
from domain.library.values import clean_file_path
from runtime.services.commands import Caller, load

CHANNELS = "channels"
_CHUNK = 4 * 1024 * 1024


def _sha256_file(path: Path) -> tuple[int, str]:
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
            size += len(chunk)
    return size, h.hexdigest()


def _split_s3(uri: str) -> tuple[str, str]:
    rest = uri.removeprefix("s3://")
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise Invalid(f"{uri!r} is not an s3:// uri", field="uri")
    return bucket, prefix


class Artifacts:
    def __init__(self, store: Any, views: Any, blobs: Any, library: Any, settings: Any) -> None:
        self.store = store
        self.views = views
        self.blobs = blobs
        self.library = library
        self.settings = settings

    @property
    def local(self) -> bool:
        return bool(self.settings.backend == "local")

    # ------------------------------------------------------------------ entries -> channels
    def files_of(self, model_id: str) -> dict[str, m.ModelFile]:
        """The verified files of a live library entry (NotFound if it does not exist)."""
        state, _ = load(self.store, m.MODELS, model_id)
        if not state.exists:
            raise NotFound(f"no model {model_id!r}", field="model_id")
        return dict(state.files)

    def channel_root(self) -> Path:
        return Path(self.settings.data_dir).resolve() / CHANNELS

    def channel_uri(self, dest: str | os.PathLike[str]) -> str:
        """Where :meth:`materialize` puts ``dest`` (no I/O): a workflow can name the channel in
        its input before a step fills it."""
        if self.local:
            return str(self._local_dest(dest))
        rel = clean_file_path(str(dest).strip("/"), field="dest")
        return f"s3://{self.blobs.bucket}/{CHANNELS}/{rel}/"

    def materialize(self, model_id: str, dest: str | os.PathLike[str], *, only: set[str] | None = None) -> str:
        """Lay the entry's files (``only`` these paths, when given) out as a job channel; returns
        the local dir or the s3:// uri."""
        files = self.files_of(model_id)
        if only is not None:
            files = {p: f for p, f in files.items() if p in only}
        if not files:
            raise Invalid(f"model {model_id!r} has no files", field="model_id")
        if self.local:
            return str(self._materialize_local(files, dest))
        return self._materialize_s3(files, str(dest))

    def _local_dest(self, dest: str | os.PathLike[str]) -> Path:
        p = Path(dest)
        if p.is_absolute():
            return p.resolve()
        rel = clean_file_path(str(dest), field="dest")
        return self.channel_root() / rel

    def _materialize_local(self, files: dict[str, m.ModelFile], dest: str | os.PathLike[str]) -> Path:
        root = self._local_dest(dest)
        if root.exists():  # a step run again after a restart: lay it out afresh
            shutil.rmtree(root)
        root.mkdir(parents=True)
        blob_root = Path(self.blobs.root).resolve()
        for path, f in sorted(files.items()):
            rel = clean_file_path(path)
            target = (root / rel).resolve()
            if not target.is_relative_to(root):
                raise Invalid(f"file path {path!r} escapes the channel", field="path")
            source = (blob_root / f.blob).resolve()
            if not source.is_relative_to(blob_root) or not source.is_file():
                raise NotFound(f"blob {f.blob} of {path!r} is missing", field="blob")
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(source, target)
            except OSError:
                shutil.copyfile(source, target)
        return root

    def _materialize_s3(self, files: dict[str, m.ModelFile], dest: str) -> str:
        uri = self.channel_uri(dest)
        bucket, prefix = _split_s3(uri)
        s3 = self.blobs.s3
        for path, f in sorted(files.items()):
            key = prefix + clean_file_path(path)
            s3.copy({"Bucket": bucket, "Key": f.blob}, bucket, key)  # server side; multipart when large
        return uri

    # ------------------------------------------------------------------ outputs -> blobs
    def put_file(self, source: str | os.PathLike[str]) -> dict[str, Any]:
        """Store one file (local path, or s3:// uri on AWS) as a verified blob."""
        size, sha = self._stat(str(source))
        ps = self._part_size(size)
        upload = self.blobs.create_upload(expected_size=size, expected_sha256=sha, part_size=ps)
        key = self._send(upload.upload_id, str(source), size, ps)
        return {"blob": key, "size": size, "sha256": sha}

    def ingest_dir(
        self,
        caller: Caller,
        project_id: str,
        src: str | os.PathLike[str],
        *,
        name: str,
        family: str,
        description: str = "",
        tags: tuple[str, ...] | list[str] = (),
        source: str = "",
        kind: str = "model",
    ) -> str:
        """Register a library entry with every file under ``src`` (a directory, an ``s3://`` prefix,
        or a SageMaker job's ``s3://.../model.tar.gz``, unpacked first); returns its model id."""
        if str(src).startswith("s3://") and str(src).endswith(".tar.gz"):
            with tempfile.TemporaryDirectory(prefix="tlm-ingest-") as tmp:
                self._unpack_s3_tarball(str(src), Path(tmp))
                return self.ingest_dir(
                    caller, project_id, tmp, name=name, family=family, description=description, tags=tags,
                    source=source, kind=kind,
                )  # fmt: skip
        listing = self._listing(str(src))
        if not listing:
            raise Invalid(f"{src} holds no files", field="src")
        fields: dict[str, Any] = {
            "name": name,
            "family": family,
            "description": description,
            "tags": list(tags),
            "source": source,
        }
        if kind != "model":  # older libraries know no kinds: only pass it when it matters
            fields["kind"] = kind
        model_id = self.library.register_model(caller, project_id, **fields)["model_id"]
        for rel, location in listing:
            size, sha = self._stat(location)
            if size == 0:  # the blob store holds no empty blobs (nor can a user upload one)
                continue
            up = self.library.start_upload(caller, model_id, path=rel, size=size, sha256=sha)
            key = self._send(up["upload_id"], location, size, up["part_size"])
            self.library.finalize_upload(model_id, up["upload_id"], key)
        return str(model_id)

    # ------------------------------------------------------------------ plumbing
    def _unpack_s3_tarball(self, uri: str, dest: Path) -> None:
        bucket, key = _split_s3(uri)
        try:
            body = self.blobs.s3.get_object(Bucket=bucket, Key=key)["Body"]
        except self.blobs.s3.exceptions.NoSuchKey:
            raise NotFound(f"{uri} does not exist", field="src") from None
        with tarfile.open(fileobj=body, mode="r|gz") as tar:  # a stream: no seek, no copy of the archive
            tar.extractall(dest, filter="data")

    def _part_size(self, size: int) -> int:
        lo, hi = int(self.blobs.min_part_bytes), int(self.blobs.max_part_bytes)
        ps = max(lo, min(8 * 1024 * 1024, hi), math.ceil(size / 10_000))
        if ps > hi:
            raise Invalid("file too large for the part limits", field="size")
        return ps

    def _send(self, upload_id: str, location: str, size: int, part_size: int) -> str:
        """Parts -> join -> verified completion; returns the blob key."""
        try:
            count = max(1, math.ceil(size / part_size))
            for n in range(1, count + 1):
                start = (n - 1) * part_size
                self.blobs.upload_part(upload_id, n, self._read(location, start, min(part_size, size - start)))
            self.blobs.join_parts(upload_id)
            return str(self.blobs.complete_upload(upload_id))
        except Exception:
            with contextlib.suppress(Exception):
                self.blobs.abort_upload(upload_id)
            raise

    def read_json(self, src: str | os.PathLike[str], rel: str, *, max_bytes: int = 1024 * 1024) -> dict[str, Any]:
        """The JSON object at ``src/rel`` (a job's small report, e.g. stats.json), {} if absent."""
        for path, location in self._listing(str(src)):
            if path == rel:
                try:
                    data = json.loads(self._read(location, 0, max_bytes))
                except ValueError:
                    return {}
                return data if isinstance(data, dict) else {}
        return {}

    def _listing(self, src: str) -> list[tuple[str, str]]:
        """(file path inside the entry, location) for every file under ``src``, sorted."""
        if src.startswith("s3://"):
            bucket, prefix = _split_s3(src)
            prefix = prefix if prefix.endswith("/") or not prefix else prefix + "/"
            out = []
            for page in self.blobs.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                for obj in page.get("Contents", []):
                    if not obj["Key"].endswith("/"):
                        rel = clean_file_path(obj["Key"][len(prefix) :])
                        out.append((rel, f"s3://{bucket}/{obj['Key']}"))
            return sorted(out)
        root = Path(src).resolve()
        if not root.is_dir():
            raise Invalid(f"{src} is not a directory", field="src")
        out = []
        for p in sorted(root.rglob("*")):
            if p.is_file() and not p.is_symlink():
                out.append((clean_file_path(p.relative_to(root).as_posix()), str(p)))
        return out

    def _stat(self, location: str) -> tuple[int, str]:
        if not location.startswith("s3://"):
            return _sha256_file(Path(location))
        h, size = hashlib.sha256(), 0
        for chunk in self._s3_chunks(location):
            h.update(chunk)
            size += len(chunk)
        return size, h.hexdigest()

    def _s3_chunks(self, uri: str, start: int = 0, length: int | None = None) -> Iterator[bytes]:
        bucket, key = _split_s3(uri)
        kw: dict[str, Any] = {}
        if length is not None:
            if length == 0:
                return
            kw["Range"] = f"bytes={start}-{start + length - 1}"
        body = self.blobs.s3.get_object(Bucket=bucket, Key=key, **kw)["Body"]
        yield from body.iter_chunks(_CHUNK)

    def _read(self, location: str, start: int, length: int) -> bytes:
        if location.startswith("s3://"):
            return b"".join(self._s3_chunks(location, start, length))
        with open(location, "rb") as f:
            f.seek(start)
            return f.read(length)
