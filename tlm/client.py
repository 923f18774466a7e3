"""A small Python client for the TLM API (local server or a deployed API Gateway).

Uploads are multipart and resumable: an open upload of the same path and sha256 is found on the
server and only its missing parts are sent. Downloads resume with HTTP Range and verify sha256.
"""

from __future__ import annotations

import base64
import hashlib
import os
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from tlm.connection import ApiError, Transport, Unreachable, default_endpoint

__all__ = ["ApiError", "Client", "Unreachable", "default_endpoint", "default_token"]

Progress = Callable[[int], None]  # called with bytes just done


def default_token(data_dir: str | None = None) -> str | None:
    if tok := os.environ.get("TLM_TOKEN"):
        return tok
    path = Path(data_dir or os.environ.get("TLM_DATA_DIR", ".tlm")) / "token"
    return path.read_text().strip() if path.exists() else None


def sha256_of(path: Path, progress: Progress | None = None) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(4 * 1024 * 1024):
            h.update(chunk)
            if progress:
                progress(len(chunk))
    return h.hexdigest()


DEFAULT_PART_SIZE = 8 * 1024 * 1024  # the service's default; the client names its part size
MAX_PARTS = 10_000
_HASH_CHUNK = 4 * 1024 * 1024


def part_size_for(size: int) -> int:
    return max(DEFAULT_PART_SIZE, -(-size // MAX_PARTS))


def hash_parts(path: Path, part_size: int, progress: Progress | None = None) -> tuple[str, list[str]]:
    """The file's sha256 (hex) and the CRC32 of every ``part_size`` part, base64 of the 4
    big-endian bytes (S3's ``x-amz-checksum-crc32`` encoding).

    The sha256 pass (inherently sequential, the long pole: ~0.6 s per GiB) runs on the calling
    thread while the parts' CRC32s are computed in parallel by a small thread pool, each task
    reading its own part (hashlib and zlib release the GIL on large buffers, so on two cores the
    whole step costs about the sha256 pass alone). A file changed while being hashed gives
    values that disagree, and the upload is then refused (CRC32 per part, sha256 at the end)."""
    size = os.path.getsize(path)
    count = max(1, -(-size // part_size))

    def crc_of(n: int) -> str:
        crc, left = 0, part_size
        with open(path, "rb") as f:
            f.seek(n * part_size)
            while left and (chunk := f.read(min(_HASH_CHUNK, left))):
                crc = zlib.crc32(chunk, crc)
                left -= len(chunk)
        return base64.b64encode(crc.to_bytes(4, "big")).decode()

    h = hashlib.sha256()
    with ThreadPoolExecutor(max_workers=max(1, min(4, (os.cpu_count() or 2) - 1))) as pool:
        crcs = [pool.submit(crc_of, n) for n in range(count)]
        with open(path, "rb") as f:
            while chunk := f.read(_HASH_CHUNK):
                h.update(chunk)
                if progress:
                    progress(len(chunk))
        return h.hexdigest(), [c.result() for c in crcs]


class Client:
    def __init__(self, endpoint: str | None = None, token: str | None = None, *, timeout: float = 120.0) -> None:
        self.endpoint = (endpoint or default_endpoint()).rstrip("/")
        self.token = token if token is not None else default_token()
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        self.http = httpx.Client(base_url=self.endpoint, headers=headers, timeout=timeout, transport=Transport())
        # part and blob URLs carry their own signature
        self.raw = httpx.Client(timeout=timeout, transport=Transport())

    def close(self) -> None:
        self.http.close()
        self.raw.close()

    def request(self, method: str, path: str, *, idempotency_key: str | None = None, **kw: Any) -> Any:
        headers = kw.pop("headers", {})
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        r = self.http.request(method, path, headers=headers, **kw)
        try:
            body = r.json() if r.content else {}
        except ValueError:
            body = {"error": "bad_response", "message": r.text[:200]}
        if r.status_code >= 400:
            raise ApiError(r.status_code, body)
        return body

    # ---------------------------------------------------------------- projects
    def create_project(self, name: str, description: str = "") -> dict[str, Any]:
        return self.request("POST", "/projects", json={"name": name, "description": description})

    def projects(self) -> list[dict[str, Any]]:
        return self.request("GET", "/projects")["items"]

    def set_member(self, project_id: str, user_id: str, role: str) -> dict[str, Any]:
        return self.request("PUT", f"/projects/{project_id}/members/{user_id}", json={"role": role})

    def limits(self, project_id: str) -> dict[str, Any]:
        return self.request("GET", f"/projects/{project_id}/limits")

    def set_limits(self, project_id: str, limits: dict[str, int]) -> dict[str, Any]:
        return self.request("PUT", f"/projects/{project_id}/limits", json={"limits": limits})

    # ---------------------------------------------------------------- models
    def register_model(self, project_id: str, **fields: Any) -> dict[str, Any]:
        return self.request("POST", f"/projects/{project_id}/models", json=fields)

    def models(self, **params: Any) -> dict[str, Any]:
        return self.request("GET", "/models", params={k: v for k, v in params.items() if v not in (None, [], "")})

    def model(self, model_id: str, as_of: str | None = None) -> dict[str, Any]:
        return self.request("GET", f"/models/{model_id}", params={"as_of": as_of} if as_of else None)

    def history(self, model_id: str) -> list[dict[str, Any]]:
        return self.request("GET", f"/models/{model_id}/history")["items"]

    def delete_model(self, model_id: str) -> dict[str, Any]:
        return self.request("DELETE", f"/models/{model_id}")

    # ---------------------------------------------------------------- uploads
    def upload(
        self,
        model_id: str,
        file: Path,
        *,
        path: str | None = None,
        part_size: int | None = None,
        workers: int = 4,
        progress: Progress | None = None,
        hash_progress: Progress | None = None,
    ) -> dict[str, Any]:
        file = Path(file)
        size = file.stat().st_size
        target = path or file.name
        part_size = part_size or part_size_for(size)
        sha, part_crc32 = hash_parts(file, part_size, hash_progress)
        resumed = next(
            (
                u
                for u in self.request("GET", f"/models/{model_id}/uploads")["items"]
                if u.get("path") == target and u.get("sha256") == sha
            ),
            None,
        )
        if resumed is None:
            # part URLs then carry the parts' checksum headers; a part whose bytes differ is refused
            body: dict[str, Any] = {
                "path": target, "size": size, "sha256": sha, "part_size": part_size, "part_crc32": part_crc32,
            }  # fmt: skip
            up = self.request("POST", f"/models/{model_id}/uploads", json=body)
            upload_id, ps, targets = up["upload_id"], up["part_size"], up["parts"]
        else:
            upload_id, ps = resumed["upload_id"], resumed["part_size"]
            if progress:
                progress(sum(min(ps, size - (n - 1) * ps) for n in resumed["uploaded_parts"]))
            missing = resumed["missing_parts"]
            targets = (
                self.request("POST", f"/models/{model_id}/uploads/{upload_id}/part-urls", json={"parts": missing})[
                    "parts"
                ]
                if missing
                else []
            )

        def send(t: dict[str, Any]) -> None:
            n = t["part_number"]
            with open(file, "rb") as f:
                f.seek((n - 1) * ps)
                data = f.read(ps)
            r = self.raw.request(t.get("method", "PUT"), t["url"], content=data, headers=t.get("headers") or {})
            if r.status_code >= 400:
                try:
                    raise ApiError(r.status_code, r.json())
                except ValueError:
                    raise ApiError(
                        r.status_code, {"error": "part_upload_failed", "message": r.text[:200], "field": "part"}
                    ) from None
            if progress:
                progress(len(data))

        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            for fut in [pool.submit(send, t) for t in targets]:
                fut.result()
        done = self.request("POST", f"/models/{model_id}/uploads/{upload_id}/complete")
        return {**done, "resumed": resumed is not None}

    # ---------------------------------------------------------------- downloads
    def download(self, model_id: str, path: str, dest: Path, *, progress: Progress | None = None) -> dict[str, Any]:
        info = self.request("GET", f"/models/{model_id}/download", params={"path": path})
        return self.fetch(info, dest, progress=progress)

    def fetch(self, info: dict[str, Any], dest: Path, *, progress: Progress | None = None) -> dict[str, Any]:
        """Download ``info["url"]`` to ``dest``: resumes a ``dest.part`` left by an interrupted
        download with an HTTP Range request, and checks size and sha256 before ``dest`` appears."""
        dest = Path(dest)
        partial = dest.with_name(dest.name + ".part")
        have = partial.stat().st_size if partial.exists() else 0
        if have > info["size"]:
            partial.unlink()
            have = 0
        headers = {"Range": f"bytes={have}-"} if 0 < have < info["size"] else {}
        if have < info["size"] or info["size"] == 0:
            with self.raw.stream("GET", info["url"], headers=headers) as r:
                if r.status_code not in (200, 206):
                    raise ApiError(
                        r.status_code, {"error": "download_failed", "message": r.read().decode(errors="replace")[:200]}
                    )
                mode = "ab" if r.status_code == 206 else "wb"
                if progress and mode == "ab":
                    progress(have)
                with open(partial, mode) as f:
                    for chunk in r.iter_bytes(1024 * 1024):
                        f.write(chunk)
                        if progress:
                            progress(len(chunk))
        got = sha256_of(partial)
        if got != info["sha256"]:
            partial.unlink()
            raise ApiError(
                0, {"error": "checksum_mismatch", "message": f"sha256 {got} != {info['sha256']}", "field": "sha256"}
            )
        os.replace(partial, dest)
        return {**info, "dest": str(dest), "resumed": bool(headers)}

    # ---------------------------------------------------------------- configs (issue 4)
    def configs(self, project_id: str, family: str | None = None) -> list[dict[str, Any]]:
        params = {"family": family} if family else None
        return self.request("GET", f"/projects/{project_id}/configs", params=params)["items"]

    def config_templates(self) -> list[dict[str, Any]]:
        return self.request("GET", "/config-templates")["items"]

    def create_config(
        self,
        project_id: str,
        *,
        template: str | None = None,
        file: str | None = None,
        format: str | None = None,  # noqa: A002
        filename: str | None = None,
        name: str | None = None,
        description: str | None = None,
        overrides: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        body = {
            "template": template, "file": file, "format": format, "filename": filename, "name": name,
            "description": description, "overrides": overrides,
        }  # fmt: skip
        body = {k: v for k, v in body.items() if v is not None}
        return self.request("POST", f"/projects/{project_id}/configs", json=body)

    def config(self, config_id: str, *, as_of: str | None = None, version: int | None = None) -> dict[str, Any]:
        params = {k: v for k, v in {"as_of": as_of, "version": version}.items() if v is not None}
        return self.request("GET", f"/configs/{config_id}", params=params or None)

    def edit_config(self, config_id: str, **fields: Any) -> dict[str, Any]:
        body = {k: v for k, v in fields.items() if v is not None}
        return self.request("PATCH", f"/configs/{config_id}", json=body)

    def batch_edit_configs(
        self,
        config_ids: list[str],
        set: dict[str, Any] | None = None,
        unset: list[str] | None = None,  # noqa: A002
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"config_ids": config_ids}
        if set:
            body["set"] = set
        if unset:
            body["unset"] = unset
        return self.request("POST", "/configs/batch-edit", json=body)

    def export_config(self, config_id: str, format: str = "json", version: int | None = None) -> str:  # noqa: A002
        params: dict[str, Any] = {"format": format}
        if version is not None:
            params["version"] = version
        r = self.http.get(f"/configs/{config_id}/export", params=params)
        if r.status_code >= 400:
            try:
                raise ApiError(r.status_code, r.json())
            except ValueError:
                raise ApiError(r.status_code, {"error": "bad_response", "message": r.text[:200]}) from None
        return r.text

    def import_config(self, project_id: str, file: str, name: str | None = None) -> dict[str, Any]:
        body = {"file": file, **({"name": name} if name else {})}
        return self.request("POST", f"/projects/{project_id}/configs/import", json=body)

    def config_history(self, config_id: str) -> list[dict[str, Any]]:
        return self.request("GET", f"/configs/{config_id}/history")["items"]

    def config_diff(self, config_id: str, from_version: int, to_version: int) -> dict[str, Any]:
        params = {"from": from_version, "to": to_version}
        return self.request("GET", f"/configs/{config_id}/diff", params=params)

    def config_blame(self, config_id: str, path: str | None = None, version: int | None = None) -> list[dict[str, Any]]:
        params = {k: v for k, v in {"path": path, "version": version}.items() if v is not None}
        return self.request("GET", f"/configs/{config_id}/blame", params=params or None)["items"]

    def delete_config(self, config_id: str) -> dict[str, Any]:
        return self.request("DELETE", f"/configs/{config_id}")

    def derive_config(self, config_id: str, name: str, edit: dict[str, Any], **fields: Any) -> dict[str, Any]:
        body = {"name": name, "edit": edit, **{k: v for k, v in fields.items() if v is not None}}
        return self.request("POST", f"/configs/{config_id}/derive", json=body)

    def arch_test(self, config_id: str, **options: Any) -> dict[str, Any]:
        body = {k: v for k, v in options.items() if v is not None}
        return self.request("POST", f"/configs/{config_id}/arch-test", json=body)

    def job(self, name: str) -> dict[str, Any]:
        return self.request("GET", f"/jobs/{name}")

    def job_logs(self, name: str, start: int = 0) -> dict[str, Any]:
        return self.request("GET", f"/jobs/{name}/logs", params={"start": start})

    def cancel_job(self, name: str) -> dict[str, Any]:
        return self.request("POST", f"/jobs/{name}/cancel")

    # ---------------------------------------------------------------- compiles (issue 5)
    def start_compile(self, model_id: str, target: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.request("POST", f"/models/{model_id}/compiles", json={"target": target, "params": params or {}})

    def compile(self, compile_id: str) -> dict[str, Any]:
        return self.request("GET", f"/compiles/{compile_id}")

    def compiles(self, model_id: str) -> list[dict[str, Any]]:
        return self.request("GET", f"/models/{model_id}/compiles")["items"]

    def compile_logs(self, compile_id: str, start: int = 0) -> dict[str, Any]:
        return self.request("GET", f"/compiles/{compile_id}/logs", params={"start": start})

    def cancel_compile(self, compile_id: str, reason: str = "") -> dict[str, Any]:
        return self.request("POST", f"/compiles/{compile_id}/cancel", json={"reason": reason})

    def download_compile(self, compile_id: str, path: str, dest: Path) -> dict[str, Any]:
        """Download one artifact of a compile (e.g. model.tar.gz); resumable, sha256 checked."""
        info = self.request("GET", f"/compiles/{compile_id}/download", params={"path": path})
        return self.fetch(info, dest)

    # ---------------------------------------------------------------- workflow runs (issue 6)
    def runs(self, **filters: Any) -> list[dict[str, Any]]:
        params = {k: v for k, v in filters.items() if v is not None}
        return self.request("GET", "/runs", params=params or None)["items"]

    def run(self, run_id: str) -> dict[str, Any]:
        return self.request("GET", f"/runs/{run_id}")

    def cancel_run(self, run_id: str, reason: str = "") -> dict[str, Any]:
        return self.request("POST", f"/runs/{run_id}/cancel", json={"reason": reason})

    # ---------------------------------------------------------------- datasets and trainings (issue 5)
    def register_dataset(self, project_id: str, **fields: Any) -> dict[str, Any]:
        return self.request("POST", f"/projects/{project_id}/datasets", json=fields)

    def datasets(self, **params: Any) -> dict[str, Any]:
        return self.request("GET", "/datasets", params={k: v for k, v in params.items() if v not in (None, [], "")})

    def dataset(self, dataset_id: str) -> dict[str, Any]:
        return self.request("GET", f"/datasets/{dataset_id}")

    def import_demo_dataset(
        self, project_id: str, *, limit: int | None = None, seed: int = 13, name: str | None = None, wait: bool = True
    ) -> dict[str, Any]:
        body = {k: v for k, v in {"limit": limit, "seed": seed, "name": name, "wait": wait}.items() if v is not None}
        return self.request("POST", f"/projects/{project_id}/datasets/demo-sentiment", json=body)

    def dataset_import(self, project_id: str, job_name: str) -> dict[str, Any]:
        return self.request("GET", f"/projects/{project_id}/datasets/imports/{job_name}")

    def start_training(self, project_id: str, *, config_id: str, dataset_id: str, name: str) -> dict[str, Any]:
        body = {"config_id": config_id, "dataset_id": dataset_id, "name": name}
        return self.request("POST", f"/projects/{project_id}/trainings", json=body)

    def training(self, training_id: str) -> dict[str, Any]:
        return self.request("GET", f"/trainings/{training_id}")

    def trainings(self, project_id: str) -> list[dict[str, Any]]:
        return self.request("GET", f"/projects/{project_id}/trainings")["items"]

    def training_logs(self, training_id: str, start: int = 0, job: str | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {"start": start, **({"job": job} if job else {})}
        return self.request("GET", f"/trainings/{training_id}/logs", params=params)

    def follow_training_logs(self, training_id: str, *, poll_s: float = 0.5) -> Any:
        """Yield ``(job, line)`` for every job of the run, live, until the run has ended."""
        import time

        job: str | None = None
        start = 0
        while True:
            out = self.training_logs(training_id, start, job)
            job = out["job"]
            for line in out["lines"]:
                yield job, line
            start = out["next"]
            jobs = out["jobs"]
            if out["lines"]:
                continue
            if job is not None and jobs and jobs[-1] != job:  # this job is done: on to the next
                job, start = jobs[jobs.index(job) + 1], 0
                continue
            if out["finished"]:
                final = self.training_logs(training_id, start, job) if job else {"lines": []}
                for line in final["lines"]:
                    yield job, line
                return
            time.sleep(poll_s)

    def cancel_training(self, training_id: str, reason: str = "") -> dict[str, Any]:
        return self.request("POST", f"/trainings/{training_id}/cancel", json={"reason": reason})
