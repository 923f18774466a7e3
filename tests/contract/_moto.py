"""moto for the contract suites: in-process (``mock_aws``) or an HTTP server on 127.0.0.1.

Why a server, and why a *serial* one: moto's backends take no locks. Its ``put_item`` checks the
condition and then stores the item, and ``transact_write_items`` deep-copies the table and, on a
cancelled transaction, puts the copy back — so two requests handled at the same time can both
pass an ``attribute_not_exists`` check, or a rollback can erase a write that committed meanwhile.
Measured (8 threads x 60 single-event appends, read version + conditional put, with
``sys.setswitchinterval(1e-6)`` to widen the window): in-process ``mock_aws`` told 426 winners
about only 411 distinct versions (15 lost updates); ``ThreadedMotoServer`` told 480 winners about
475 versions and raised "dictionary changed size during iteration" inside its query. With the
default switch interval both looked fine, which is exactly the kind of pass not to trust.
Real DynamoDB makes each request atomic. ``serial_moto_server`` handles one request at a time
(werkzeug, ``threaded=False``) which gives exactly that per-request atomicity, while the clients
still race freely between their requests (read version ... conditional put), which is what the
concurrency contract exercises. The same stress on the serial server: 480 winners, 480 versions.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.config import Config

REGION = "us-east-1"


_SERVER = """
import sys
from werkzeug.serving import make_server
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app

class Quiet(MotoRequestHandler):
    def log_request(self, *args, **kwargs):
        pass

server = make_server("127.0.0.1", 0, DomainDispatcherApplication(create_backend_app),
                     threaded=False, request_handler=Quiet)
print(server.server_port, flush=True)
server.serve_forever()
"""


@contextmanager
def serial_moto_server() -> Iterator[str]:
    """A moto server on a free port of 127.0.0.1 that serves requests one at a time; yields its
    endpoint URL. It runs in a child process: in this one it would share the GIL with the
    racing client threads and crawl (each hand-off waits for a switch interval)."""
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter, a fixed script
        [sys.executable, "-c", _SERVER], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def clients(endpoint_url: str | None = None) -> tuple[Any, Any]:
    """(dynamodb, s3) boto3 clients from a private session (boto3's default session is not
    thread-safe; clients are, so one pair serves every thread)."""
    session = boto3.session.Session(region_name=REGION)
    cfg = Config(max_pool_connections=32, retries={"max_attempts": 2, "mode": "standard"})
    return (
        session.client("dynamodb", endpoint_url=endpoint_url, config=cfg),
        session.client("s3", endpoint_url=endpoint_url, config=cfg),
    )


def create_events_table(dynamodb: Any, table: str) -> None:
    from tests.aws_tables import create_events_table as create

    create(dynamodb, table)
