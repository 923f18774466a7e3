"""Downloads are checked before the destination file appears: the client's ``fetch`` (which the
CLI's ``models download`` and ``compile download`` use) resumes a ``.part`` file with a Range
request and refuses any result whose sha256 differs, leaving no destination file and no partial
to resume from. Served by a real HTTP server on a loopback port (Range and 206 like the blob URLs)."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tlm.cli.main import app
from tlm.client import ApiError, Client

pytestmark = pytest.mark.unit
GOOD = bytes(range(256)) * 64  # 16 KiB
SHA = hashlib.sha256(GOOD).hexdigest()


class Blob:
    def __init__(self) -> None:
        self.served = GOOD  # what the blob URL answers with
        self.ranges: list[str | None] = []


@pytest.fixture
def server() -> Iterator[tuple[str, Blob]]:
    blob = Blob()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            base = f"http://127.0.0.1:{self.server.server_address[1]}"
            if self.path.startswith("/models/m1/download"):
                body = json.dumps({"path": "w.bin", "size": len(GOOD), "sha256": SHA, "url": f"{base}/blob"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
            else:
                rng = self.headers.get("Range")
                blob.ranges.append(rng)
                start = int(rng.removeprefix("bytes=").rstrip("-")) if rng else 0
                body = blob.served[start:]
                self.send_response(206 if rng else 200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)  # bound before the port is read
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", blob
    finally:
        httpd.shutdown()
        httpd.server_close()


def _corrupt(data: bytes) -> bytes:
    return data[:100] + bytes([data[100] ^ 0xFF]) + data[101:]


def test_a_corrupted_partial_download_is_refused_and_nothing_is_written(server, tmp_path: Path) -> None:
    url, blob = server
    dest = tmp_path / "w.bin"
    # Given a partial download whose first bytes were corrupted on disk
    (tmp_path / "w.bin.part").write_bytes(_corrupt(GOOD)[:5000])
    # When the download resumes (the server sends the correct rest)
    with pytest.raises(ApiError) as e:
        Client(url, "t").download("m1", "w.bin", dest)
    # Then it is refused naming sha256, after a Range resume, with no file left behind
    assert e.value.body["error"] == "checksum_mismatch" and e.value.field == "sha256"
    assert blob.ranges == ["bytes=5000-"]
    assert not dest.exists() and not (tmp_path / "w.bin.part").exists()
    # and the next try starts from scratch and succeeds
    done = Client(url, "t").download("m1", "w.bin", dest)
    assert dest.read_bytes() == GOOD and done["resumed"] is False and blob.ranges[-1] is None


def test_corrupted_bytes_from_the_server_are_refused(server, tmp_path: Path) -> None:
    url, blob = server
    blob.served = _corrupt(GOOD)
    with pytest.raises(ApiError) as e:
        Client(url, "t").download("m1", "w.bin", tmp_path / "w.bin")
    assert e.value.field == "sha256" and list(tmp_path.iterdir()) == []


def test_a_good_partial_resumes_with_range(server, tmp_path: Path) -> None:
    url, blob = server
    (tmp_path / "w.bin.part").write_bytes(GOOD[:7000])
    done = Client(url, "t").download("m1", "w.bin", tmp_path / "w.bin")
    assert done["resumed"] is True and blob.ranges == ["bytes=7000-"]
    assert (tmp_path / "w.bin").read_bytes() == GOOD and not (tmp_path / "w.bin.part").exists()


def test_the_cli_download_fails_on_a_checksum_mismatch(server, tmp_path: Path) -> None:
    url, blob = server
    blob.served = _corrupt(GOOD)
    dest = tmp_path / "w.bin"
    result = CliRunner().invoke(
        app, ["--endpoint", url, "--token", "t", "models", "download", "m1", "w.bin", "--dest", str(dest)]
    )
    assert result.exit_code != 0, result.output
    assert "checksum_mismatch" in result.output and "sha256" in result.output
    assert not dest.exists() and not (tmp_path / "w.bin.part").exists()
    # the same command on good bytes saves the file and says it was verified
    blob.served = GOOD
    result = CliRunner().invoke(
        app, ["--endpoint", url, "--token", "t", "models", "download", "m1", "w.bin", "--dest", str(dest)]
    )
    assert result.exit_code == 0, result.output
    assert dest.read_bytes() == GOOD and "(verified)" in result.output
