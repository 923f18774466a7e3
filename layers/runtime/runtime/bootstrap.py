"""The composition root: settings -> adapters -> services. Lambda handlers, the local server,
the CLI's embedded mode and tests all build their services here (tests pass their own settings
or clients). Nothing is built at import time; ``get_container()`` builds once per process."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from runtime.settings import Settings, get_settings


@dataclass
class Container:
    settings: Settings
    store: Any  # runtime.ports.EventStore
    views: Any  # runtime.ports.ViewStore
    blobs: Any  # runtime.ports.BlobStore
    idempotency: Any  # powertools BasePersistenceLayer
    db: Any = None  # local: runtime.adapters.sqlite.db.Database
    projector: Any = None  # local: LocalProjector (AWS: the Streams Lambda)
    aws_session: Any = None  # aws: the boto3 session the adapters' clients come from
    _services: dict[str, Any] = field(default_factory=dict)

    @property
    def library(self) -> Any:
        if "library" not in self._services:
            from runtime.services.library import LibraryService

            local = self.settings.backend == "local"
            self._services["library"] = LibraryService(
                self.store,
                self.views,
                self.blobs,
                min_part_bytes=self.settings.min_part_bytes,
                max_part_bytes=self.settings.max_part_bytes,
                # locally the S3 trigger's handler runs in-process once the parts are joined
                on_assembled=(lambda upload_id: _local_trigger(self, upload_id)) if local else None,
            )
        return self._services["library"]

    @property
    def configs(self) -> Any:
        if "configs" not in self._services:
            from runtime.services.access import Access
            from runtime.services.configs import ConfigService

            self._services["configs"] = ConfigService(self.store, authorize=Access(self.store).check)
        return self._services["configs"]

    @property
    def jobs(self) -> Any:
        """The JobRunner port: locally subprocesses under ``<data_dir>/jobs``. On AWS a
        SageMakerJobRunner from ``TLM_SAGEMAKER_ROLE_ARN`` and ``TLM_JOB_IMAGE_URI(S)`` (an
        Unavailable 503 without them)."""
        if "jobs" not in self._services:
            if self.settings.backend != "local":
                self._services["jobs"] = _sagemaker_jobs(self)
                return self._services["jobs"]
            from runtime.adapters.local_jobs import LocalJobRunner

            runner = LocalJobRunner(self.settings.data_dir / "jobs")
            runner.attach_log_sink(self.job_logs.sink)  # every finished job's log into the blob store
            self._services["jobs"] = runner
        return self._services["jobs"]

    @property
    def job_logs(self) -> Any:
        if "job_logs" not in self._services:
            from runtime.services.job_logs import JobLogArchive

            self._services["job_logs"] = JobLogArchive(self.store, self.artifacts)
        return self._services["job_logs"]

    @property
    def arch_tests(self) -> Any:
        if "arch_tests" not in self._services:
            from runtime.services.access import Access
            from runtime.services.arch_tests import ArchTestService

            self._services["arch_tests"] = ArchTestService(self.configs, self.jobs, Access(self.store).check)
        return self._services["arch_tests"]

    @property
    def artifacts(self) -> Any:
        """Library entries as job channels, job outputs as blobs (runtime.services.artifacts)."""
        if "artifacts" not in self._services:
            from runtime.services.artifacts import Artifacts

            self._services["artifacts"] = Artifacts(self.store, self.views, self.blobs, self.library, self.settings)
        return self._services["artifacts"]

    @property
    def workflows(self) -> Any:
        """Locally: the LocalWorkflowRunner driving the shipped workflows (definitions built
        with local options and substitutions) with the step functions of
        ``runtime.workflows.steps``. On AWS Step Functions drives them: a
        StepFunctionsWorkflowRunner on the state machines ``TLM_STATE_MACHINE_PREFIX`` and
        ``TLM_ACCOUNT_ID`` name (an Unavailable 503 without them)."""
        if "workflows" not in self._services:
            if self.settings.backend != "local":
                self._services["workflows"] = _stepfunctions_runner(self)
                return self._services["workflows"]
            from runtime.adapters.local_workflows.runner import LocalWorkflowRunner
            from runtime.workflows.definitions import DEFAULT_SUBSTITUTIONS, WORKFLOWS
            from runtime.workflows.steps import registry

            data = self.settings.data_dir.resolve()
            # locally a job that failed will fail again: no retries, short polls
            options = {"job_retries": 0, "retry_interval_s": 5, "poll_seconds": 1}
            self._services["workflows"] = LocalWorkflowRunner(
                self.store,
                self.jobs,
                workflows={name: build(**options) for name, build in WORKFLOWS.items()},
                steps=registry(self),
                substitutions={
                    **DEFAULT_SUBSTITUTIONS,
                    "ArtifactsUri": str(data / "artifacts"),
                    "CheckpointsUri": str(data / "checkpoints"),
                },
                poll_interval_s=0.5,
            )
        return self._services["workflows"]

    @property
    def runs(self) -> Any:
        """Workflow runs for the API/CLI (runtime.workflows.service.WorkflowService)."""
        if "runs" not in self._services:
            from runtime.adapters.stepfunctions.runner import StepFunctionsWorkflowRunner
            from runtime.workflows.service import WorkflowService

            if self.settings.backend != "local" and isinstance(self._aws_workflows(), StepFunctionsWorkflowRunner):
                from runtime.adapters.stepfunctions.service import StepFunctionsWorkflowService

                self._services["runs"] = StepFunctionsWorkflowService(self.workflows)
                return self._services["runs"]
            runner = self.workflows if self.settings.backend == "local" else self._services.get("workflows")
            self._services["runs"] = WorkflowService(self.store, runner)
        return self._services["runs"]

    def _aws_workflows(self) -> Any:
        """The configured workflow runner on AWS, or None (reads then fall back to the store)."""
        from domain.errors import Unavailable

        try:
            return self.workflows
        except Unavailable:
            return self._services.get("workflows")

    @property
    def project_runs(self) -> Any:
        """Runs authorized by their project, for the API (runtime.services.runs)."""
        if "project_runs" not in self._services:
            from runtime.adapters.stepfunctions.service import StepFunctionsRunsService, StepFunctionsWorkflowService
            from runtime.services.runs import RunsService

            if isinstance(self.runs, StepFunctionsWorkflowService):
                self._services["project_runs"] = StepFunctionsRunsService(self.store, self.runs)
                return self._services["project_runs"]
            self._services["project_runs"] = RunsService(self.store, self.runs)
        return self._services["project_runs"]

    @property
    def compiles(self) -> Any:
        if "compiles" not in self._services:
            from runtime.services.compiles import CompileService

            self._services["compiles"] = CompileService(self)
        return self._services["compiles"]

    @property
    def training(self) -> Any:
        """Training runs and the demo dataset importer (runtime.services.training)."""
        if "training" not in self._services:
            from runtime.services.training import TrainingService

            if self.settings.backend == "local":
                root = str(self.settings.data_dir.resolve() / "trainings")
            else:
                root = f"s3://{self.settings.blobs_bucket}/trainings"
            self._services["training"] = TrainingService(self, output_root=root)
        return self._services["training"]

    @property
    def leaderboard(self) -> Any:
        """Metrics and lineage on models, leaderboards, comparisons (runtime.services.leaderboard)."""
        if "leaderboard" not in self._services:
            from runtime.services.leaderboard import LeaderboardService

            self._services["leaderboard"] = LeaderboardService(self)
        return self._services["leaderboard"]

    @property
    def pretraining(self) -> Any:
        """Masked-LM pretraining jobs registered as library models (runtime.services.pretraining)."""
        if "pretraining" not in self._services:
            from runtime.services.pretraining import PretrainService

            self._services["pretraining"] = PretrainService(self)
        return self._services["pretraining"]

    def catch_up(self) -> None:
        """Local read-your-writes: bring the views up to the log (no-op on AWS)."""
        if self.projector is not None:
            self.projector.catch_up()

    def close(self) -> None:
        if self.projector is not None:
            self.projector.stop()
        if self.db is not None:
            self.db.close()


def _session(container: Container) -> Any:
    if container.aws_session is None:
        import boto3

        container.aws_session = boto3.session.Session(region_name=container.settings.region)
    return container.aws_session


def _stepfunctions_runner(container: Container) -> Any:
    from domain.errors import Unavailable
    from runtime.adapters.stepfunctions.runner import StepFunctionsWorkflowRunner
    from runtime.workflows.definitions import WORKFLOWS, all_workflows

    s = container.settings
    arns = s.state_machine_arns(sorted(WORKFLOWS))
    if arns is None:
        raise Unavailable(
            "no workflow runner is configured for the aws backend (TLM_STATE_MACHINE_PREFIX and "
            "TLM_ACCOUNT_ID name the state machines)",
            field="backend",
        )
    sfn = _session(container).client("stepfunctions", endpoint_url=s.endpoint_url)
    return StepFunctionsWorkflowRunner(sfn, arns, workflows=all_workflows())


def _sagemaker_jobs(container: Container) -> Any:
    from domain.errors import Unavailable
    from runtime.adapters.local_jobs.runner import DEFAULT_PROGRAMS
    from runtime.adapters.sagemaker.runner import SageMakerJobRunner
    from runtime.services.training import IMPORT_PROGRAM

    s = container.settings
    programs = [*DEFAULT_PROGRAMS, IMPORT_PROGRAM]
    images = {p: s.job_image_uri for p in programs if s.job_image_uri} | dict(s.job_image_uris)
    if not (s.sagemaker_role_arn and images):
        raise Unavailable(
            "no job runner is configured for the aws backend (TLM_SAGEMAKER_ROLE_ARN and "
            "TLM_JOB_IMAGE_URI or TLM_JOB_IMAGE_URIS)",
            field="backend",
        )
    session = _session(container)
    return SageMakerJobRunner(
        session.client("sagemaker", endpoint_url=s.endpoint_url),
        session.client("logs", endpoint_url=s.endpoint_url),
        role_arn=s.sagemaker_role_arn,
        image_uris=images,
        bucket=s.artifacts_bucket or s.blobs_bucket,
        s3_client=session.client("s3", endpoint_url=s.endpoint_url),
    )


def _local_trigger(container: Container, upload_id: str) -> dict[str, Any]:
    from functions.triggers.s3_upload import process, s3_event

    return process(s3_event("local", f"uploads/{upload_id}"), container)[0]


def build_local(settings: Settings) -> Container:
    from runtime import projections
    from runtime.adapters.fs.blob_store import LocalBlobStore
    from runtime.adapters.sqlite.db import Database
    from runtime.adapters.sqlite.event_store import SqliteEventStore
    from runtime.adapters.sqlite.idempotency import SqliteIdempotencyLayer
    from runtime.adapters.sqlite.views import LocalProjector, SqliteViewStore

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.sqlite_path, synchronous=settings.sqlite_synchronous)
    views = SqliteViewStore(db)
    store = SqliteEventStore(db)
    blobs = LocalBlobStore(
        settings.blobs_dir,
        settings.base_url,
        settings.data_dir / "secret.key",
        min_part_bytes=settings.min_part_bytes,
        max_part_bytes=settings.max_part_bytes,
    )
    projector = LocalProjector(db, views, projections.all())
    return Container(settings, store, views, blobs, SqliteIdempotencyLayer(db), db=db, projector=projector)


def build_aws(settings: Settings, *, session: Any = None) -> Container:
    import boto3
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    from runtime.adapters.dynamodb import keys
    from runtime.adapters.dynamodb.event_store import DynamoDbEventStore
    from runtime.adapters.dynamodb.views import DynamoDbViewStore
    from runtime.adapters.s3.blob_store import S3BlobStore

    session = session or boto3.session.Session(region_name=settings.region)
    ddb = session.client("dynamodb", endpoint_url=settings.endpoint_url)
    s3 = session.client("s3", endpoint_url=settings.endpoint_url)
    store = DynamoDbEventStore(
        ddb, s3, settings.events_table, settings.blobs_bucket, offload_threshold=settings.payload_offload_bytes
    )
    idem = DynamoDBPersistenceLayer(
        table_name=settings.idempotency_table,
        key_attr=keys.IDEMPOTENCY_TABLE_PK,
        expiry_attr=keys.IDEMPOTENCY_TABLE_TTL,
        boto3_client=ddb,
    )
    blobs = S3BlobStore(
        s3, settings.blobs_bucket, min_part_bytes=settings.min_part_bytes, max_part_bytes=settings.max_part_bytes
    )
    return Container(settings, store, DynamoDbViewStore(ddb, settings.views_table), blobs, idem, aws_session=session)


def build(settings: Settings | None = None) -> Container:
    settings = settings or get_settings()
    return build_aws(settings) if settings.backend == "aws" else build_local(settings)


_container: Container | None = None
_lock = threading.Lock()


def get_container() -> Container:
    global _container
    if _container is None:
        with _lock:
            if _container is None:
                _container = build()
    return _container


def set_container(container: Container | None) -> None:
    """Install a container (the local server, tests); None resets to lazy building."""
    global _container
    with _lock:
        _container = container
