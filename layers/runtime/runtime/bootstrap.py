"""The composition root: settings -> adapters -> services. Lambda handlers, the local server,
the CLI's embedded mode and tests all build their services here (tests pass their own settings
or clients). Nothing is built at import time; ``get_container()`` builds once per process."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from runtime.settings import Settings, get_settings

if TYPE_CHECKING:  # the ports and services the container hands out (no import cost at run time)
    from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer

    from runtime.adapters.sqlite.db import Database
    from runtime.ports import BlobStore, EventStore, JobRunner, ServingBackend, ViewStore
    from runtime.reactions.local import LocalSubscription
    from runtime.reactions.registry import ReactionRegistry
    from runtime.services.arch_tests import ArchTestService
    from runtime.services.artifacts import Artifacts
    from runtime.services.compiles import CompileService
    from runtime.services.configs import ConfigService
    from runtime.services.job_logs import JobLogArchive
    from runtime.services.library import LibraryService
    from runtime.services.runs import RunDetails, RunsService
    from runtime.services.training import TrainingService
    from runtime.services.uploads import UploadVerification
    from runtime.workflows.run_status import RunStatusRecorder


@dataclass
class Container:
    """What an entry point needs, typed by port. Services are built on first use and receive the
    collaborators they use (never the container itself)."""

    settings: Settings
    store: EventStore
    views: ViewStore
    blobs: BlobStore
    idempotency: BasePersistenceLayer
    db: Database | None = None  # local only
    projector: LocalSubscription | None = None  # local: projections + reactions tail (AWS: the Streams Lambdas)
    aws_session: Any = None  # aws: the boto3 session the adapters' clients come from
    _services: dict[str, Any] = field(default_factory=dict)

    @property
    def library(self) -> LibraryService:
        if "library" not in self._services:
            from runtime.services.library import LibraryService

            local = self.settings.backend == "local"
            self._services["library"] = LibraryService(
                self.store,
                self.views,
                self.blobs,
                min_part_bytes=self.settings.min_part_bytes,
                max_part_bytes=self.settings.max_part_bytes,
                # locally the upload verification (the S3 trigger's work on AWS) runs in-process
                # once the parts are joined
                on_assembled=(lambda upload_id: self.uploads.verify_upload_id(upload_id)) if local else None,
                check_upload=self.limits.check_upload,
            )
        return self._services["library"]  # type: ignore[no-any-return]

    @property
    def uploads(self) -> UploadVerification:
        """Verification of joined uploads (the S3 trigger's work; locally run in-process)."""
        if "uploads" not in self._services:
            from runtime.services.uploads import UploadVerification

            self._services["uploads"] = UploadVerification(self.library)
        return self._services["uploads"]  # type: ignore[no-any-return]

    @property
    def users(self) -> Any:
        """E-mail -> user id for project members (runtime.users): Cognito on AWS, users.json locally."""
        if "users" not in self._services:
            from domain.errors import Unavailable
            from runtime import users

            if self.settings.backend == "local":
                self._services["users"] = users.LocalUsers(self.settings.data_dir)
            elif not self.settings.user_pool_id:
                raise Unavailable("no user pool is configured (TLM_USER_POOL_ID)", field="backend")
            else:
                idp = _session(self).client("cognito-idp", endpoint_url=self.settings.endpoint_url)
                self._services["users"] = users.CognitoUsers(idp, self.settings.user_pool_id)
        return self._services["users"]

    @property
    def configs(self) -> ConfigService:
        if "configs" not in self._services:
            from runtime.services.access import Access
            from runtime.services.configs import ConfigService

            self._services["configs"] = ConfigService(self.store, authorize=Access(self.store).check)
        return self._services["configs"]  # type: ignore[no-any-return]

    @property
    def config_list(self) -> Any:
        """A project's configs from the configs view (runtime.services.config_list)."""
        if "config_list" not in self._services:
            from runtime.services.access import Access
            from runtime.services.config_list import ConfigListService

            self._services["config_list"] = ConfigListService(self.views, Access(self.store).check, self.catch_up)
        return self._services["config_list"]

    @property
    def jobs(self) -> JobRunner:
        """The JobRunner port: locally subprocesses under ``<data_dir>/jobs``. On AWS a
        SageMakerJobRunner from ``TLM_SAGEMAKER_ROLE_ARN`` and ``TLM_JOB_IMAGE_URI(S)`` (an
        Unavailable 503 without them)."""
        if "jobs" not in self._services:
            from runtime.services.job_queue import QueuedJobRunner

            if self.settings.backend != "local":
                inner = _sagemaker_jobs(self)
            else:
                from runtime.adapters.local_jobs import LocalJobRunner
                from runtime.services.training import IMPORT_PROGRAM, IMPORT_TARGET

                inner = LocalJobRunner(self.settings.data_dir / "jobs")
                inner.register_program(IMPORT_PROGRAM, IMPORT_TARGET)  # the demo-import workflow's job
                inner.attach_log_sink(self.job_logs.sink)  # every finished job's log into the blob store
            # per-user / per-project caps on running jobs; beyond them a job waits in a queue
            self._services["jobs"] = QueuedJobRunner(inner, self.store, self.limits.caps)
        return self._services["jobs"]  # type: ignore[no-any-return]

    @property
    def job_slots(self) -> Any:
        """Job slots of workflow job steps (their admit / release steps; runtime.services.job_slots)."""
        if "job_slots" not in self._services:
            from runtime.services.job_slots import JobSlots

            self._services["job_slots"] = JobSlots(self.store, lambda project_id: self.limits.caps(project_id))
        return self._services["job_slots"]

    @property
    def limits(self) -> Any:
        """Per-project limits: model size, storage quota, job slots (runtime.services.limits)."""
        if "limits" not in self._services:
            from domain.limits import ProjectLimits
            from runtime.services.limits import LimitsService

            s = self.settings
            defaults = ProjectLimits(
                max_params=s.limit_max_params,
                max_train_memory_bytes=s.limit_max_train_memory_bytes,
                storage_bytes=s.limit_storage_bytes,
                max_jobs=s.limit_max_jobs,
                max_jobs_per_user=s.limit_max_jobs_per_user,
            )
            free = None
            if s.backend == "local":
                import shutil

                free = lambda: shutil.disk_usage(s.data_dir).free  # noqa: E731
            self._services["limits"] = LimitsService(
                self.store, self.views, defaults, free_bytes=free, catch_up=self.catch_up
            )
        return self._services["limits"]

    @property
    def job_logs(self) -> JobLogArchive:
        if "job_logs" not in self._services:
            from runtime.services.job_logs import JobLogArchive

            self._services["job_logs"] = JobLogArchive(self.store, self.artifacts)
        return self._services["job_logs"]  # type: ignore[no-any-return]

    @property
    def arch_tests(self) -> ArchTestService:
        if "arch_tests" not in self._services:
            from runtime.services.access import Access
            from runtime.services.arch_tests import ArchTestService

            report = None
            if self.settings.backend == "aws":  # the report is in the job's output.tar.gz on S3
                from runtime.workflows.steps.outputs import job_report

                report = lambda name: job_report(self, name, "arch_test.json")  # noqa: E731
            self._services["arch_tests"] = ArchTestService(
                self.configs,
                self.jobs,
                Access(self.store).check,
                check_model=self.limits.check_model,
                read_report=report,
                store=self.store,
                cancel_run=lambda run_id, reason: self.runs.cancel_run(run_id, reason=reason),
                catch_up=self.catch_up,
            )
        return self._services["arch_tests"]  # type: ignore[no-any-return]

    @property
    def artifacts(self) -> Artifacts:
        """Library entries as job channels, job outputs as blobs (runtime.services.artifacts)."""
        if "artifacts" not in self._services:
            from runtime.services.artifacts import Artifacts

            self._services["artifacts"] = Artifacts(self.store, self.views, self.blobs, self.library, self.settings)
        return self._services["artifacts"]  # type: ignore[no-any-return]

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
                self.jobs.inner,  # type: ignore[attr-defined]  # job steps hold a slot (their admit steps)
                workflows={name: build(**options) for name, build in WORKFLOWS.items()},
                steps=registry(self),
                substitutions={
                    **DEFAULT_SUBSTITUTIONS,
                    "ArtifactsUri": str(data / "artifacts"),
                    "CheckpointsUri": str(data / "checkpoints"),
                },
                poll_interval_s=0.5,
            )
            from runtime.services.pipeline_runs import PipelineWorkflows  # issue 15: pipeline versions

            runner = self._services["workflows"]
            runner.workflows = PipelineWorkflows(runner.workflows, self.store)
        return self._services["workflows"]

    @property
    def runs(self) -> RunDetails:
        """A run's details (``show_run``, ``cancel_run``): locally from the run stream
        (runtime.workflows.service.WorkflowService), on AWS from the Step Functions history."""
        if "runs" not in self._services:
            from runtime.adapters.stepfunctions.runner import StepFunctionsWorkflowRunner
            from runtime.workflows.service import WorkflowService

            if self.settings.backend != "local" and isinstance(self._aws_workflows(), StepFunctionsWorkflowRunner):
                from runtime.adapters.stepfunctions.service import StepFunctionsWorkflowService

                self._services["runs"] = StepFunctionsWorkflowService(self.workflows)
                return self._services["runs"]  # type: ignore[no-any-return]
            runner = self.workflows if self.settings.backend == "local" else self._services.get("workflows")
            self._services["runs"] = WorkflowService(self.store, runner, views=self.views)
        return self._services["runs"]  # type: ignore[no-any-return]

    def _aws_workflows(self) -> Any:
        """The configured workflow runner on AWS, or None (reads then fall back to the store)."""
        from domain.errors import Unavailable

        try:
            return self.workflows
        except Unavailable:
            return self._services.get("workflows")

    @property
    def project_runs(self) -> RunsService:
        """Runs authorized by their project, for the API (runtime.services.runs): one service for
        both backends, listing from the ``runs`` view, details from ``runs``."""
        if "project_runs" not in self._services:
            from runtime.services.access import Access
            from runtime.services.runs import RunsService

            self._services["project_runs"] = RunsService(self.views, self.runs, Access(self.store), self.catch_up)
        return self._services["project_runs"]  # type: ignore[no-any-return]

    @property
    def compiles(self) -> CompileService:
        if "compiles" not in self._services:
            from runtime.services.access import Access
            from runtime.services.compiles import CompileService

            self._services["compiles"] = CompileService(
                store=self.store,
                views=self.views,
                blobs=self.blobs,
                library=self.library,
                jobs=lambda: self.jobs,
                runs=lambda: self.runs,
                workflows=lambda: self.workflows,
                access=Access(self.store),
            )
        return self._services["compiles"]  # type: ignore[no-any-return]

    @property
    def training(self) -> TrainingService:
        """Training runs and the demo dataset importer (runtime.services.training)."""
        if "training" not in self._services:
            from runtime.services.training import TrainingDeps, TrainingService

            deps = TrainingDeps(
                store=self.store,
                views=self.views,
                configs=self.configs,
                library=self.library,
                artifacts=lambda: self.artifacts,
                jobs=lambda: self.jobs,
                runs=lambda: self.runs,
                project_runs=lambda: self.project_runs,
                catch_up=self.catch_up,
                limits=lambda: self.limits,
                settings=self.settings,
                blobs=self.blobs,
                job_slots=lambda: self.job_slots,
            )
            self._services["training"] = TrainingService(deps)
        return self._services["training"]  # type: ignore[no-any-return]

    def output_root(self, kind: str) -> str:
        """Where a workflow's outputs go: ``<data_dir>/<kind>`` locally, the blobs bucket on AWS."""
        if self.settings.backend == "local":
            return str(self.settings.data_dir.resolve() / kind)
        return f"s3://{self.settings.blobs_bucket}/{kind}"

    def job_output_root(self) -> str:
        """Where the jobs users ask for (arch tests, the demo import) write: the job runner's own
        ``jobs/output`` prefix in the artifacts bucket on AWS, ``<data_dir>/artifacts/jobs`` locally."""
        if self.settings.backend == "local":
            return str(self.settings.data_dir.resolve() / "artifacts" / "jobs")
        return f"s3://{self.settings.artifacts_bucket or self.settings.blobs_bucket}/jobs/output"

    @property
    def reactions(self) -> ReactionRegistry:
        """The process managers (runtime.reactions): request -> start its run, run ended ->
        record the outcome. Driven by the local tail (``projector``) or the reactions Lambda."""
        if "reactions" not in self._services:
            from runtime.reactions.registry import ReactionRegistry
            from runtime.reactions.runs import RunReactions

            runs = RunReactions(
                store=self.store,
                workflows=lambda: self.workflows,
                channel_uri=lambda dest: self.artifacts.channel_uri(dest),
                training_root=self.output_root("trainings"),
                compile_root=self.output_root("artifacts/compiles"),
                job_output_root=self.job_output_root(),
            )
            from runtime.reactions.releases import ReleaseReactions

            releases = ReleaseReactions(
                store=self.store, workflows=lambda: self.workflows, serving=lambda: self.serving
            )
            self._services["reactions"] = ReactionRegistry([*runs.reactions(), *releases.reactions()])
            if self.settings.backend == "local":  # issue 15: pipeline runs (local engine only so far)
                from runtime.services.pipeline_runs import start_reaction

                self._services["reactions"].register(start_reaction(self.store, lambda: self.workflows))
                self._services["reactions"].register(self.pipeline_triggers.reaction())  # new-version triggers
            if self.settings.backend == "local":  # a cancelled run frees its job slots (AWS: functions/events)
                from runtime.services.job_slots import release_reaction

                self._services["reactions"].register(release_reaction(lambda: self.job_slots))
            from runtime.reactions.studies import StudyReactions

            for reaction in StudyReactions(store=self.store, workflows=lambda: self.workflows).reactions():
                self._services["reactions"].register(reaction)
        return self._services["reactions"]  # type: ignore[no-any-return]

    @property
    def run_status(self) -> RunStatusRecorder:
        """AWS: Step Functions execution status changes -> the run's lifecycle events
        (runtime.workflows.run_status; the ``functions/events`` Lambda). Locally the runner
        writes its runs' events itself."""
        if "run_status" not in self._services:
            from domain.errors import Unavailable
            from runtime.adapters.dynamodb.event_store import DynamoDbEventStore
            from runtime.adapters.dynamodb.run_log import SequencedRunLog
            from runtime.workflows.run_status import RunStatusRecorder

            if not isinstance(self.store, DynamoDbEventStore):
                raise Unavailable("execution status changes are recorded on the aws backend only", field="backend")
            self._services["run_status"] = RunStatusRecorder(
                SequencedRunLog(self.store), state_machine_prefix=self.settings.state_machine_prefix
            )
        return self._services["run_status"]  # type: ignore[no-any-return]

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

    @property
    def pipelines(self) -> Any:
        """Pipeline definitions, versions, diff, blame, compile (runtime.services.pipelines)."""
        if "pipelines" not in self._services:
            from runtime.services.access import Access
            from runtime.services.pipelines import PipelineService

            self._services["pipelines"] = PipelineService(
                self.store, self.views, Access(self.store).check, self.catch_up
            )
        return self._services["pipelines"]

    @property
    def pipeline_runs(self) -> Any:
        """Pipeline runs: request, show (runtime.services.pipeline_runs)."""
        if "pipeline_runs" not in self._services:
            from runtime.services.access import Access
            from runtime.services.pipeline_runs import PipelineRunService
            from runtime.workflows.steps.pipeline_jobs import stop_launched

            self._services["pipeline_runs"] = PipelineRunService(
                self.store, Access(self.store).check, lambda: self.runs,
                local=self.settings.backend == "local", catch_up=self.catch_up,
                stop_work=lambda caller, kind, launched: stop_launched(self, caller, kind, launched),
                project_runs=lambda: self.project_runs,
            )  # fmt: skip
        return self._services["pipeline_runs"]

    @property
    def pipeline_triggers(self) -> Any:
        """Pipeline triggers: schedules and new versions (runtime.services.pipeline_triggers)."""
        if "pipeline_triggers" not in self._services:
            from runtime.services.access import Access
            from runtime.services.pipeline_triggers import PipelineTriggerService

            self._services["pipeline_triggers"] = PipelineTriggerService(
                self.store, Access(self.store).check, lambda: self.pipeline_runs
            )
        return self._services["pipeline_triggers"]

    @property
    def project_home(self) -> Any:
        """A project's overview, activity, members and archive (runtime.services.project_home)."""
        if "project_home" not in self._services:
            from runtime.services.project_home import ProjectHome

            self._services["project_home"] = ProjectHome(
                self.store, self.views, self.blobs, lambda: self.users, lambda: self.artifacts, self.catch_up
            )
        return self._services["project_home"]

    @property
    def versions(self) -> Any:
        """Model versions, aliases, approvals, release policy (runtime.services.model_versions)."""
        if "versions" not in self._services:
            from runtime.services.access import Access
            from runtime.services.model_versions import VersionService

            self._services["versions"] = VersionService(self.store, Access(self.store))
        return self._services["versions"]

    @property
    def releases(self) -> Any:
        """Deployments and predictions (runtime.services.releases)."""
        if "releases" not in self._services:
            from runtime.services.access import Access
            from runtime.services.releases import DeploymentService

            self._services["releases"] = DeploymentService(
                store=self.store, blobs=self.blobs, access=Access(self.store), versions=self.versions,
                serving=lambda: self.serving, catch_up=self.catch_up,
            )  # fmt: skip
        return self._services["releases"]

    @property
    def release_monitor(self) -> Any:
        """Serving metrics samples and series per deployment (runtime.services.release_monitor)."""
        if "release_monitor" not in self._services:
            from runtime.services.access import Access
            from runtime.services.release_monitor import ReleaseMonitor

            self._services["release_monitor"] = ReleaseMonitor(self.store, Access(self.store), lambda: self.serving)
        return self._services["release_monitor"]

    @property
    def studies(self) -> Any:
        """Hyperparameter search studies (runtime.services.studies)."""
        if "studies" not in self._services:
            from runtime.services.access import Access
            from runtime.services.studies import StudiesService

            self._services["studies"] = StudiesService(
                store=self.store, access=Access(self.store), training=lambda: self.training,
                catch_up=self.catch_up, project_runs=lambda: self.project_runs, views=self.views,
            )  # fmt: skip
        return self._services["studies"]

    def catch_up(self) -> None:
        """Local read-your-writes: bring the views up to the log, then run the reactions the new
        events call for (no-op on AWS)."""
        if self.projector is not None:
            self.projector.catch_up()

    @property
    def serving(self) -> ServingBackend:
        """The ServingBackend port: supervised ``jobs.serve`` processes under ``<data_dir>/serving``
        locally, SageMaker real-time endpoints on AWS (ADR 0014)."""
        if "serving" not in self._services:
            if self.settings.backend == "local":
                from runtime.adapters.local_serving import LocalServingBackend

                self._services["serving"] = LocalServingBackend(self.settings.data_dir / "serving", self.blobs)
            else:
                self._services["serving"] = _sagemaker_serving(self)
        return self._services["serving"]  # type: ignore[no-any-return]

    def close(self) -> None:
        if "serving" in self._services and hasattr(self._services["serving"], "close"):
            self._services["serving"].close()  # supervision ends; the serving processes keep running
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


def _sagemaker_serving(container: Container) -> Any:
    from domain.errors import Unavailable
    from runtime.adapters.sagemaker_serving import SageMakerServingBackend

    s = container.settings
    role = s.serving_role_arn or s.sagemaker_role_arn
    if not (s.serving_image_uri and role):
        raise Unavailable(
            "no serving backend is configured for the aws backend (TLM_SERVING_IMAGE_URI and "
            "TLM_SERVING_ROLE_ARN or TLM_SAGEMAKER_ROLE_ARN)",
            field="backend",
        )
    session = _session(container)
    return SageMakerServingBackend(
        session.client("sagemaker", endpoint_url=s.endpoint_url),
        session.client("sagemaker-runtime", endpoint_url=s.endpoint_url),
        session.client("cloudwatch", endpoint_url=s.endpoint_url),
        image_uri=s.serving_image_uri,
        role_arn=role,
        bucket=s.blobs_bucket,
        prefix=s.serving_prefix,
    )


def build_local(settings: Settings) -> Container:
    from runtime import projections
    from runtime.adapters.fs.blob_store import LocalBlobStore
    from runtime.adapters.sqlite.db import Database
    from runtime.adapters.sqlite.event_store import SqliteEventStore
    from runtime.adapters.sqlite.idempotency import SqliteIdempotencyLayer
    from runtime.adapters.sqlite.views import SqliteViewStore
    from runtime.reactions.local import LocalReactor, LocalSubscription

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
    from runtime.adapters.fs.reclaim import reclaim_temp_files

    reclaim_temp_files(settings.blobs_dir)  # left by an upload or join that crashed
    container = Container(settings, store, views, blobs, SqliteIdempotencyLayer(db), db=db)
    # one local tail: the views first (read-your-writes), then the reactions, each with its own
    # tracking row; the reactions are built on first use (they need the workflow runner)
    container.projector = LocalSubscription(
        db, views, projections.all(), LocalReactor(db, store, lambda: container.reactions)
    )
    return container


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
        s3,
        settings.blobs_bucket,
        min_part_bytes=settings.min_part_bytes,
        max_part_bytes=settings.max_part_bytes,
        hash_max_bytes=settings.verify_hash_max_bytes,
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
