"""Ports: the interfaces services depend on. Adapters live in runtime.adapters.*.

Every port has one contract test suite (tests/contract) run against each adapter.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from domain.errors import Invalid
from domain.projection import Row
from domain.records import AppendResult, NewEvent, RecordedEvent

MAX_BATCH_ITEMS = 100  # DynamoDB's TransactWriteItems limit, enforced on every store alike


@dataclass(frozen=True)
class StreamAppend:
    """One stream's part of an ``append_batch``: its events and the version they were decided on."""

    stream_id: str
    events: Sequence[NewEvent]
    expected_version: int


def check_batch(appends: Sequence[StreamAppend], idempotency_key: str | None) -> None:
    """The rules every store applies to ``append_batch`` before writing anything: at least one
    stream, no stream twice, no empty part, no negative version, and at most
    ``MAX_BATCH_ITEMS`` items: one per event plus one for the idempotency key. The limit is the
    same on SQLite as on DynamoDB so that a batch that works locally works on AWS."""
    if not appends:
        raise Invalid("nothing to append", field="appends")
    seen: set[str] = set()
    for i, a in enumerate(appends):
        if a.stream_id in seen:
            raise Invalid(f"stream {a.stream_id!r} is named twice in one batch", field=f"appends[{i}].stream_id")
        seen.add(a.stream_id)
        if not a.events:
            raise Invalid("nothing to append", field=f"appends[{i}].events")
        if a.expected_version < 0:
            raise Invalid("expected_version must be >= 0", field=f"appends[{i}].expected_version")
    items = sum(len(a.events) for a in appends) + (idempotency_key is not None)
    if items > MAX_BATCH_ITEMS:
        raise Invalid(
            f"a batch holds at most {MAX_BATCH_ITEMS} items (events plus the idempotency key; "
            f"DynamoDB's TransactWriteItems limit), this one has {items}: nothing was written",
            field="appends",
        )


class EventStore(Protocol):
    def append(
        self,
        stream_id: str,
        events: Sequence[NewEvent],
        expected_version: int,
        *,
        idempotency_key: str | None = None,
    ) -> AppendResult:
        """Append atomically (all or nothing) if the stream is at ``expected_version``
        (0 = new stream), else raise ConcurrencyConflict. With an idempotency key already
        used, append nothing and return the first append's result (duplicate=True)."""
        ...

    def append_batch(
        self, appends: Sequence[StreamAppend], *, idempotency_key: str | None = None
    ) -> list[AppendResult]:
        """Append to several streams in one all-or-nothing write (SQLite: one BEGIN IMMEDIATE;
        DynamoDB: one TransactWriteItems). If any stream is not at its expected version, raise
        ConcurrencyConflict and write nothing. Results come in the order of ``appends``. Input
        rules (``check_batch``, incl. ``MAX_BATCH_ITEMS``) are checked before anything is
        written. With an idempotency key already used, append nothing and return the first
        batch's results (duplicate=True); ``idempotent_result`` gives its first stream's."""
        ...

    def idempotent_result(self, idempotency_key: str) -> AppendResult | None:
        """The first result of the append that used this key (duplicate=True), or None. For a
        batch: the result of its first stream."""
        ...

    def read(
        self,
        stream_id: str,
        *,
        after_version: int = 0,
        until_version: int | None = None,
        until_time: datetime | None = None,
    ) -> list[RecordedEvent]:
        """Events of one stream in version order; ``until_*`` bound them (inclusive)."""
        ...

    def version(self, stream_id: str) -> int:
        """Current version of a stream, 0 if it has no events."""
        ...

    def read_all(self, *, after_position: int = 0, limit: int = 1000) -> list[RecordedEvent]:
        """Every stream in commit order (stores with a global order). DynamoDB pages a scan
        instead and leaves ``position`` None; see its adapter."""
        ...


@dataclass(frozen=True)
class ViewRecord:
    view: str
    key: str
    row: Row | None  # None: tombstone kept so that old redeliveries stay no-ops
    versions: dict[str, int] = field(default_factory=dict)


class ViewStore(Protocol):
    """Read views: JSON rows per (view, key), each remembering the last version applied per
    stream. Writes of one event's effects happen in one transaction with the checkpoint."""

    def get(self, view: str, key: str) -> Row | None: ...

    def scan(self, view: str, *, prefix: str | None = None) -> Iterator[tuple[str, Row]]: ...

    def scan_partition(
        self, view: str, partition: str, *, lookups: Sequence[Sequence[Any]] | None = None
    ) -> Iterator[tuple[str, Row]]:
        """Live rows of one partition of a partitioned view (``runtime.views.layout``): e.g. one
        project's models. ``lookups`` (``SearchQuery.lookups()``) may narrow them to a superset
        of the rows a search can match; callers still check each row (``search_rows``)."""
        ...

    def clear(self, view: str) -> None: ...


@dataclass(frozen=True)
class Upload:
    upload_id: str
    key: str  # content-addressed target key, e.g. sha256/<hex>, or staging key
    part_size: int
    parts: dict[int, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class PartTarget:
    part_number: int
    url: str
    method: str = "PUT"
    headers: dict[str, str] = field(default_factory=dict)


class BlobStore(Protocol):
    """Content-addressed blobs (``sha256/<hex>``) with multipart upload."""

    def create_upload(
        self, *, expected_size: int, expected_sha256: str, part_size: int, part_crc32: Sequence[str] | None = None
    ) -> Upload:
        """``part_crc32``: base64 CRC32 of every part; when given, each part target carries the
        checksum headers to send and a part whose bytes differ is refused."""
        ...

    def part_targets(self, upload_id: str, part_numbers: Sequence[int]) -> list[PartTarget]: ...

    def upload_part(self, upload_id: str, part_number: int, data: bytes) -> str:
        """Store one part (the local server's part URL lands here); returns its etag."""
        ...

    def list_parts(self, upload_id: str) -> dict[int, dict[str, Any]]: ...

    def join_parts(self, upload_id: str) -> None:
        """Fast first half of completion (S3: CompleteMultipartUpload into the staging key,
        which fires the ObjectCreated trigger); Invalid if the part layout is wrong."""
        ...

    def complete_upload(self, upload_id: str) -> str:
        """Join the parts, verify size and sha256 (Invalid if wrong: nothing visible), and
        return the blob key ``sha256/<hex>``."""
        ...

    def abort_upload(self, upload_id: str) -> None: ...

    def exists(self, key: str) -> bool: ...

    def size(self, key: str) -> int: ...

    def open_range(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Stream bytes [start, end] inclusive (HTTP Range semantics)."""
        ...

    def download_url(self, key: str, *, filename: str | None = None, expires_s: int = 3600) -> str: ...

    def delete(self, key: str) -> None: ...


# ---------------------------------------------------------------- jobs

JOB_STATES = ("Pending", "InProgress", "Completed", "Failed", "Stopping", "Stopped")


@dataclass(frozen=True)
class JobSpec:
    """One job in SageMaker's training-container terms. Locally the runner maps channels, the
    model dir and the checkpoint dir onto a job directory (the ``/opt/ml`` layout)."""

    name: str  # unique job name ([a-zA-Z0-9-], <= 63 chars, SageMaker's rule)
    program: str  # entry point in jobs/: "train" | "evaluate" | "compile" | "package" | ...
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    channels: dict[str, str] = field(default_factory=dict)  # name -> local dir or s3:// uri
    output_uri: str = ""  # where model artifacts go (local dir or s3:// prefix)
    checkpoint_uri: str | None = None
    instance_type: str = "ml.g5.xlarge"
    instance_count: int = 1
    use_spot: bool = False
    max_runtime_s: int = 3600
    max_wait_s: int | None = None  # spot only: >= max_runtime_s
    metric_definitions: list[dict[str, str]] = field(default_factory=list)  # {"Name", "Regex"}
    environment: dict[str, str] = field(default_factory=dict)
    cpu_limit: float | None = None  # local only: cores
    memory_limit_mb: int | None = None  # local only


@dataclass(frozen=True)
class JobStatus:
    name: str
    state: str  # one of JOB_STATES
    failure_reason: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    metrics: dict[str, float] = field(default_factory=dict)  # final/latest value per metric
    model_artifacts: str | None = None  # output location of the model files
    queue_position: int | None = None  # Pending in the job queue: 1-based place (runtime.services.job_queue)


class JobRunner(Protocol):
    def start(self, spec: JobSpec) -> str:
        """Launch; returns the job name. Raises Conflict if the name is taken."""
        ...

    def describe(self, name: str) -> JobStatus: ...

    def stop(self, name: str) -> None:
        """Ask the job to stop (SIGTERM then SIGKILL locally; StopTrainingJob on SageMaker)."""
        ...

    def logs(self, name: str, *, start: int = 0) -> tuple[list[str], int]:
        """Log lines from index ``start``; returns (lines, next start)."""
        ...


# ---------------------------------------------------------------- workflows


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    workflow: str
    status: str  # running | cancelling | succeeded | failed | cancelled


class WorkflowEngine(Protocol):
    """What drives workflow runs: the local runner (``runtime.adapters.local_workflows``) or
    Step Functions (``runtime.adapters.stepfunctions.runner``). A run's id names it on both (the
    execution name on AWS). Contract suite: tests/contract/test_workflow_engine_contract.py."""

    def start(self, workflow: str, input: dict[str, Any], *, run_id: str | None = None) -> str:
        """Start a run of ``workflow``; returns its id. NotFound for an unknown workflow. A
        run id already used never starts a second run (Conflict, or the same id back)."""
        ...

    def state(self, run_id: str) -> Any:
        """The run as ``domain.workflows.run.RunState`` (status, output, error, current step);
        NotFound for an unknown run."""
        ...

    def cancel(self, run_id: str, *, reason: str = "") -> Any:
        """Stop the run and its jobs; Conflict if it has ended already."""
        ...

    def list_runs(self, workflow: str) -> list[RunInfo]:
        """The runs of one workflow."""
        ...

    def resume_incomplete(self) -> list[str]:
        """Drive on every run whose driver died (locally, after a restart); ids resumed."""
        ...


# ---------------------------------------------------------------- serving

SERVING_RUNTIMES = ("onnxruntime-int8", "onnxruntime-fp32")
SERVING_STATES = ("starting", "healthy", "unhealthy", "stopped")


@dataclass(frozen=True)
class ServingSpec:
    """One serving slot of a deployment: a compiled package (``model.onnx``, ``tokenizer.json``,
    ``labels.json``, ``config.json``) served by ``jobs.serve``. ``slot`` names the copy within the
    deployment (``blue``/``green`` or a version id); traffic between slots is the caller's choice."""

    deployment_id: str  # [a-zA-Z0-9-], <= 40 chars (goes into process and endpoint names)
    slot: str  # [a-zA-Z0-9-], <= 20 chars
    model_uri: str  # local dir / blob key ``sha256/<hex>`` of a package tar.gz / ``s3://`` uri
    runtime: str = "onnxruntime-int8"  # one of SERVING_RUNTIMES (what the package was compiled to)
    threads: int = 1  # onnxruntime intra-op threads
    max_batch: int = 16  # dynamic batching: at most this many texts in one session.run
    batch_delay_ms: float = 2.0  # ... collected for at most this long after the first (0: no batching)
    max_seq_len: int = 128
    timeout_s: float = 30.0  # per invocation
    max_texts: int = 64  # texts in one invocation (more: Invalid field="texts")
    instance_type: str = "ml.m5.large"  # AWS only
    instance_count: int = 1  # AWS only
    environment: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ServingEndpoint:
    deployment_id: str
    slot: str
    url: str  # http://127.0.0.1:<port> locally; the SageMaker endpoint name on AWS
    spec: ServingSpec


@dataclass(frozen=True)
class ServingHealth:
    status: str  # one of SERVING_STATES
    detail: str = ""
    restarts: int = 0  # crashes healed by the supervisor (always 0 on a managed endpoint)


@dataclass(frozen=True)
class Prediction:
    label: str
    score: float  # probability of ``label``
    scores: dict[str, float] = field(default_factory=dict)  # label -> probability


@dataclass(frozen=True)
class ServingMetrics:
    """Counters since the slot started (locally: summed over restarts of its process) and latency
    percentiles over ``window_s`` (None when nothing was measured)."""

    invocations: int = 0  # requests to /invocations
    errors: int = 0  # of which failed (4xx + 5xx)
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    window_s: float | None = None


class ServingBackend(Protocol):
    """Where deployments run: supervised local processes (``runtime.adapters.local_serving``) or
    SageMaker real-time endpoints (``runtime.adapters.sagemaker_serving``), both serving
    ``jobs.serve``. Contract suite: tests/contract/test_serving_backend_contract.py. Every method
    but ``start`` and ``list`` raises NotFound for an unknown deployment+slot."""

    def start(self, spec: ServingSpec) -> ServingEndpoint:
        """Launch the slot and return at once (health says when it is ``healthy``). Idempotent per
        deployment+slot: a second start with the same spec returns the running endpoint; with a
        different spec it is Conflict (stop it first). Invalid (field=) for a bad spec."""
        ...

    def health(self, deployment_id: str, slot: str) -> ServingHealth:
        """``stopped`` after ``stop`` (the slot is remembered until started again)."""
        ...

    def invoke(self, deployment_id: str, slot: str, texts: Sequence[str]) -> list[Prediction]:
        """One prediction per text, in order. Invalid(field="texts") for an empty list or a
        non-string, TooLarge(field="texts") for more than ``max_texts``; Conflict(field="slot")
        on a stopped slot; Unavailable when it is not serving (starting, crashed, failing)."""
        ...

    def metrics(self, deployment_id: str, slot: str) -> ServingMetrics:
        """Also after ``stop``: the totals it reached."""
        ...

    def stop(self, deployment_id: str, slot: str) -> None:
        """Stop serving (SIGTERM, wait, then SIGKILL locally; DeleteEndpoint on AWS). Stopping a
        stopped slot does nothing."""
        ...

    def list(self) -> list[ServingEndpoint]:
        """The slots not stopped."""
        ...


SERVING_ID_RE = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,39}$")
SLOT_RE = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,19}$")
_SPEC_BOUNDS = {"threads": (1, 64), "max_batch": (1, 256), "batch_delay_ms": (0, 1000), "max_seq_len": (8, 8192),
                "timeout_s": (0.1, 300), "max_texts": (1, 1024), "instance_count": (1, 20)}


def check_serving_ids(deployment_id: str, slot: str) -> None:
    if not isinstance(deployment_id, str) or not SERVING_ID_RE.match(deployment_id):
        raise Invalid("deployment_id must be 1-40 letters, digits and inner hyphens", field="deployment_id")
    if not isinstance(slot, str) or not SLOT_RE.match(slot):
        raise Invalid("slot must be 1-20 letters, digits and inner hyphens", field="slot")


def check_serving_spec(spec: ServingSpec) -> None:
    """The rules every ServingBackend applies to a spec before starting anything."""
    check_serving_ids(spec.deployment_id, spec.slot)
    if spec.runtime not in SERVING_RUNTIMES:
        raise Invalid(f"runtime must be one of {', '.join(SERVING_RUNTIMES)}", field="runtime")
    if not isinstance(spec.model_uri, str) or not spec.model_uri:
        raise Invalid("model_uri is required (a compiled package)", field="model_uri")
    for name, (lo, hi) in _SPEC_BOUNDS.items():
        value = getattr(spec, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
            raise Invalid(f"{name} must be between {lo} and {hi}", field=name)
