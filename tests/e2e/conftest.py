"""The local platform as a user meets it: `tlm serve` in a subprocess on a free port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Platform:
    def __init__(self, data_dir: Path, port: int, env: dict[str, str]) -> None:
        self.data_dir = data_dir
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = data_dir.parent / "server.log"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tlm.cli.main", "serve", "--port", str(self.port)],
            env=self.env,
            stdout=open(self.log, "ab"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
        )
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            time.sleep(0.2)
        raise RuntimeError("server did not start")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)

    @property
    def token(self) -> str:
        return (self.data_dir / "token").read_text().strip()

    def http(self, token: str | None = None) -> httpx.Client:
        tok = self.token if token is None else token
        headers = {"Authorization": f"Bearer {tok}"} if tok else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)

    def cli(self, *args: str, token: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {**self.env, "TLM_ENDPOINT": self.url, "TLM_TOKEN": token or self.token, "COLUMNS": "200"}
        res = subprocess.run(
            [sys.executable, "-m", "tlm.cli.main", *args], env=env, capture_output=True, text=True, timeout=300
        )
        if check and res.returncode != 0:
            raise AssertionError(f"tlm {' '.join(args)} failed ({res.returncode}): {res.stdout}\n{res.stderr}")
        return res


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    data = tmp_path / "data"
    env = {
        **os.environ,
        "TLM_DATA_DIR": str(data),
        "TLM_MAX_PART_BYTES": str(16 * 1024 * 1024),
        "TLM_JIEBA_CACHE_DIR": str(tmp_path / "jieba"),
        "PYTHONUNBUFFERED": "1",
    }
    p = Platform(data, free_port(), env)
    p.start()
    yield p
    p.stop()
