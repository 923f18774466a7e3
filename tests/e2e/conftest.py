"""The local platform as a user meets it: `tlm serve` in a subprocess on a free port."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest


class Platform:
    """``tlm serve --port 0 --port-file F``: the server binds any free port and writes it to F
    once it listens, so no port is picked here and raced for."""

    def __init__(self, data_dir: Path, env: dict[str, str]) -> None:
        self.data_dir = data_dir
        self.port = 0
        self.url = ""
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = data_dir.parent / "server.log"
        self.port_file = data_dir.parent / "server.port"

    def start(self) -> None:
        self.port_file.unlink(missing_ok=True)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tlm.cli.main", "serve", "--port", "0", "--port-file", str(self.port_file)],
            env=self.env,
            stdout=open(self.log, "ab"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
        )
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.port_file.exists():
                self.port = int(self.port_file.read_text())
                self.url = f"http://127.0.0.1:{self.port}"
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            time.sleep(0.05)
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
    p = Platform(data, env)
    p.start()
    yield p
    p.stop()
