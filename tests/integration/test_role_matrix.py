"""Who may call every write route, checked through the real Lambda handler on the local
(SQLite) container.

The route table comes from the API's own resolver (``functions.api.app.app``): every POST, PUT,
PATCH and DELETE route must have a row in ``MATRIX`` below, or ``test_every_write_route_has_a_row``
fails. For each row, on a fresh fixture object in one shared project:

- a viewer and a non-member are refused with 403 naming ``project_id`` (or the row's
  ``refused_field``, e.g. ``config_ids[0]`` for a batch) (non-members get the
  same answer as viewers everywhere: ``NON_MEMBER``), and the refused calls append no event and
  start no job;
- for an ``owner`` rule an editor is refused too;
- the lowest role the rule allows gets ``expect`` (and ``expect_field`` when set). Routes that
  start jobs are checked for the authorization outcome only: the allowed caller's ``allowed_body``
  fails a check that runs after authorization (so no job starts), while the refused callers
  send a valid ``body`` (so only authorization can refuse them).

Adding a row for a new route (e.g. at merge time)::

    ("POST", "/things/<thing_id>/poke"): Row(
        "editor",                        # "any" | "editor" | "owner": the lowest role allowed
        setup=lambda w: {"thing_id": w.thing()},   # fresh object -> path parameters
        body=lambda p: {"how": "gently"},          # a valid body (None: no body)
        expect=200,                                # what the allowed caller gets
    ),

``World`` (below) makes fixture objects through the API as the owner (``w.model()``,
``w.config()``, ``w.derived_config()``, ``w.upload(model_id)``, ...) or, for things that would
start a workflow (runs, compiles, trainings), by writing the commands to the event log; add a
method there for a new resource kind.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from domain.compiles.compile import COMPILES, RequestCompile
from domain.events import new_id
from domain.trainings import TRAININGS, RequestTraining
from domain.workflows.run import StartRun, WorkflowRun
from functions.api import handler as api
from functions.api.app import app
from runtime.bootstrap import Container, build_local, set_container
from runtime.services.commands import Caller, execute
from runtime.settings import Settings
from tlm.server import proxy_event

pytestmark = pytest.mark.integration

OWNER, EDITOR, VIEWER, OUTSIDER = "owner-1", "editor-1", "viewer-1", "outsider-1"
NON_MEMBER = 403  # what a non-member gets from every project-scoped write (never a 404 on some)
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
BLOB = b"role matrix payload\n" * 64
PIPELINE_FILE = Path(__file__).resolve().parents[1] / "fixtures" / "pipeline_sentiment.yaml"


class Context:
    function_name = "tlm-role-matrix"
    function_version = "$LATEST"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:tlm-role-matrix"
    aws_request_id = "req-matrix"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@dataclass
class World:
    container: Container
    project_id: str = ""

    def call(self, user: str, method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
        raw = json.dumps(body).encode() if body is not None else b""
        headers = {"Content-Type": "application/json"} if body is not None else {}
        response = api.handler(proxy_event(method, path, headers, raw, user), Context())
        text = response.get("body") or "{}"
        return int(response["statusCode"]), json.loads(text) if text.startswith(("{", "[")) else {}

    def ok(self, user: str, method: str, path: str, body: Any = None) -> dict[str, Any]:
        status, doc = self.call(user, method, path, body)
        assert status < 300, (method, path, status, doc)
        return doc

    # ---------------------------------------------------------------- fixture objects
    def model(self, kind: str = "model") -> str:
        if kind == "dataset":
            return str(
                self.ok(OWNER, "POST", f"/projects/{self.project_id}/datasets", {"name": new_id()[:10]})["model_id"]
            )
        body = {"name": f"m-{new_id()[:10]}", "family": "bert"}
        return str(self.ok(OWNER, "POST", f"/projects/{self.project_id}/models", body)["model_id"])

    def upload(self, model_id: str) -> str:
        body = {"path": "weights.bin", "size": len(BLOB), "sha256": hashlib.sha256(BLOB).hexdigest()}
        return str(self.ok(OWNER, "POST", f"/models/{model_id}/uploads", body)["upload_id"])

    def config(self) -> str:
        body = {"template": "bert-tiny", "name": f"c-{new_id()[:10]}"}
        return str(self.ok(OWNER, "POST", f"/projects/{self.project_id}/configs", body)["config_id"])

    def derived_config(self) -> str:
        body = {"name": f"d-{new_id()[:10]}", "edit": {"num_layers": 1}}
        return str(self.ok(OWNER, "POST", f"/configs/{self.config()}/derive", body)["config_id"])

    def portable_file(self) -> str:
        response = api.handler(proxy_event("GET", f"/configs/{self.config()}/export", {}, b"", OWNER), Context())
        assert response["statusCode"] == 200, response
        return str(response["body"])

    def run(self, workflow: str = "compile", run_id: str | None = None) -> str:
        """A run as the runner's first append records it, with no thread driving it (no job)."""
        run_id = run_id or new_id()
        cmd = StartRun(run_id=run_id, workflow=workflow, input={"project_id": self.project_id})
        execute(self.container.store, WorkflowRun, run_id, cmd, Caller(user_id="workflow-runner"))
        return run_id

    def compile(self) -> str:
        model_id, compile_id, run_id = self.model(), new_id()[:16], new_id()
        cmd = RequestCompile(compile_id=compile_id, project_id=self.project_id, model_id=model_id,
                             model_version=1, target="onnx", params={}, run_id=run_id)  # fmt: skip
        execute(self.container.store, COMPILES, compile_id, cmd, Caller(user_id=OWNER))
        self.run("compile", run_id)
        return compile_id

    def training(self) -> str:
        training_id = new_id()[:16]
        cmd = RequestTraining(training_id=training_id, project_id=self.project_id, name=f"t-{training_id}",
                              config_id=self.config(), config_version=1, family="bert",
                              dataset_id=self.model("dataset"), run_id=training_id)  # fmt: skip
        execute(self.container.store, TRAININGS, training_id, cmd, Caller(user_id=OWNER))
        self.run("train", training_id)
        return training_id

    def pipeline(self) -> str:
        body = {"file": PIPELINE_FILE.read_text()}
        return str(self.ok(OWNER, "POST", f"/projects/{self.project_id}/pipelines", body)["pipeline_id"])

    def own_project(self) -> str:
        """A fresh project with the same roles (for routes that change who owns it)."""
        pid = str(self.ok(OWNER, "POST", "/projects", {"name": f"p-{new_id()[:8]}"})["project_id"])
        for user, role in ((EDITOR, "editor"), (VIEWER, "viewer")):
            self.ok(OWNER, "PUT", f"/projects/{pid}/members/{user}", {"role": role})
        return pid

    # ---------------------------------------------------------------- release center (issue 14)
    def version(self, model_id: str | None = None) -> str:
        from tests.integration._release_fixtures import recorded_compile

        model_id = model_id or self.model()
        compile_id, _ = recorded_compile(self.container, OWNER, self.project_id, model_id)
        return str(self.container.versions.create(Caller(OWNER), compile_id=compile_id)["version_id"])

    def pending_approval(self) -> Params:
        version_id = self.version()
        self.container.versions.request_approval(Caller(OWNER), version_id, "production")
        return {"version_id": version_id, "stage": "production"}

    def alias(self) -> Params:
        model_id = self.model()
        version_id = self.version(model_id)
        self.container.versions.move_alias(Caller(OWNER), model_id, "staging", version_id)
        return {"model_id": model_id, "alias": "staging", "version_id": version_id}

    def stopped_deployment(self) -> Params:
        """A deployment as its first write records it, then stopped: no release run, no process."""
        from domain.releases import deployment as dep

        version_id = self.version()
        state = self.container.versions.state(Caller(OWNER), version_id)
        first = dep.RequestUpdate(update_id=new_id()[:16], run_id=new_id(), kind="start", version_id=version_id,
                                  params=state.params, strategy={"kind": "all_at_once"}, thresholds={},
                                  model_uri=state.files["model.tar.gz"]["blob"])  # fmt: skip
        did = new_id()[:16]
        create = dep.CreateDeployment(deployment_id=did, project_id=self.project_id, model_id=state.model_id,
                                      name="matrix", first=first)  # fmt: skip
        execute(self.container.store, dep.DEPLOYMENTS, did, create, Caller(user_id=OWNER))
        execute(self.container.store, dep.DEPLOYMENTS, did, dep.Stop(reason="matrix"), Caller(user_id=OWNER))
        return {"deployment_id": did, "version_id": self.version(state.model_id)}

    def study(self) -> str:
        """A requested study whose run is recorded (no thread drives it, no job starts)."""
        from domain.studies.events import StudyRequested
        from domain.studies.study import STUDIES, RequestStudy

        study_id = new_id()[:16]
        req = StudyRequested(study_id=study_id, project_id=self.project_id, name="s", strategy="random",
                             space=[{"path": "training.epochs", "kind": "int", "low": 1, "high": 2}],
                             objectives=[{"expression": "val_accuracy", "direction": "maximize", "name": "acc"}],
                             max_trials=2, config_id="c", config_version=1, family="bert", base_values={},
                             dataset_id="d", run_id=study_id)  # fmt: skip
        execute(self.container.store, STUDIES, study_id, RequestStudy(requested=req), Caller(user_id=OWNER))
        self.run("study", study_id)
        return study_id

    # ---------------------------------------------------------------- pipeline runs (issue 15 item 3)
    def ended_pipeline_run(self) -> Params:
        """A run of the sample pipeline, ended (its dataset node finds no demo-sentiment: it fails)."""
        import time

        run_id = self.container.pipeline_runs.request(Caller(OWNER), self.pipeline())["run_id"]
        deadline = time.monotonic() + 30
        while self.container.pipeline_runs.show(Caller(OWNER), run_id)["status"] not in ("failed", "succeeded"):
            assert time.monotonic() < deadline, "the sample run did not end"
            time.sleep(0.1)
        return {"run_id": run_id}

    def pipeline_trigger(self) -> Params:
        """A schedule trigger on a fresh pipeline."""
        pipeline_id = self.pipeline()
        body = {"kind": "schedule", "cron": "0 3 * * *"}
        trigger = self.ok(OWNER, "POST", f"/pipelines/{pipeline_id}/triggers", body)
        return {"pipeline_id": pipeline_id, "trigger_id": trigger["trigger_id"]}


Params = dict[str, str]


@dataclass(frozen=True)
class Row:
    rule: str  # "any" (any signed-in user) | "viewer" | "editor" | "owner": the lowest role allowed
    setup: Callable[[World], Params]  # a fresh fixture object -> the route's path parameters
    body: Callable[[Params], Any] = lambda p: None  # a valid body (refused callers send it)
    expect: int = 200  # the allowed caller's status
    allowed_body: Callable[[Params], Any] | None = None  # job routes: fails after authorization
    expect_field: str | None = None  # the field the allowed caller's 4xx names
    query: str = ""
    refused_field: str = "project_id"  # the field a refusal names


def _project(w: World) -> Params:
    return {"project_id": w.project_id}


def _member(w: World) -> Params:
    user = f"u-{new_id()[:8]}"
    w.ok(OWNER, "PUT", f"/projects/{w.project_id}/members/{user}", {"role": "viewer"})
    return {"project_id": w.project_id, "user_id": user}


def _model(w: World) -> Params:
    return {"model_id": w.model()}


def _upload(w: World) -> Params:
    model_id = w.model()
    return {"model_id": model_id, "upload_id": w.upload(model_id)}


def _config(w: World) -> Params:
    return {"config_id": w.config()}


MATRIX: dict[tuple[str, str], Row] = {
    ("POST", "/jobs/<name>/cancel"): Row(
        "editor", lambda w: {"name": f"archtest-{w.derived_config()}-0badcafe"}, expect=404, expect_field="name"
    ),
    ("PUT", "/projects/<project_id>/limits"): Row("owner", _project, body=lambda p: {"limits": {"max_jobs": 6}}),
    ("POST", "/projects"): Row("any", lambda w: {}, body=lambda p: {"name": "another"}, expect=201),
    ("PUT", "/projects/<project_id>/members/<user_id>"): Row("owner", _member, body=lambda p: {"role": "editor"}),
    ("DELETE", "/projects/<project_id>/members/<user_id>"): Row("owner", _member),
    ("POST", "/projects/<project_id>/models"): Row(
        "editor", _project, body=lambda p: {"name": f"n-{new_id()[:8]}", "family": "bert"}, expect=201
    ),
    ("PATCH", "/models/<model_id>"): Row("editor", _model, body=lambda p: {"description": "edited"}),
    ("DELETE", "/models/<model_id>"): Row("owner", _model),
    ("POST", "/models/<model_id>/uploads"): Row(
        "editor",
        _model,
        body=lambda p: {"path": "w.bin", "size": len(BLOB), "sha256": hashlib.sha256(BLOB).hexdigest()},
        expect=201,
    ),
    ("POST", "/models/<model_id>/uploads/<upload_id>/part-urls"): Row("editor", _upload, body=lambda p: {"parts": [1]}),
    # nothing was uploaded: the editor gets past authorization to the missing-parts check
    ("POST", "/models/<model_id>/uploads/<upload_id>/complete"): Row(
        "editor", _upload, expect=404, expect_field="upload_id"
    ),
    ("DELETE", "/models/<model_id>/uploads/<upload_id>"): Row("editor", _upload),
    ("POST", "/projects/<project_id>/configs"): Row(
        "editor", _project, body=lambda p: {"template": "bert-tiny", "name": f"c-{new_id()[:8]}"}, expect=201
    ),
    ("POST", "/projects/<project_id>/configs/import"): Row(
        "editor", lambda w: {**_project(w), "file": w.portable_file()}, body=lambda p: {"file": p["file"]}, expect=201
    ),
    ("PATCH", "/configs/<config_id>"): Row("editor", _config, body=lambda p: {"description": "edited"}),
    ("DELETE", "/configs/<config_id>"): Row("editor", _config),
    ("POST", "/configs/batch-edit"): Row(
        "editor",
        _config,
        body=lambda p: {"config_ids": [p["config_id"]], "set": {"training.epochs": 2}},
        refused_field="config_ids[0]",
    ),
    ("POST", "/configs/<config_id>/derive"): Row(
        "editor", _config, body=lambda p: {"name": f"d-{new_id()[:8]}", "edit": {"num_layers": 1}}, expect=201
    ),
    # job routes: the allowed caller fails a check after authorization, so no job starts
    ("POST", "/configs/<config_id>/arch-test"): Row(
        "editor", _config, body=lambda p: {}, expect=422, expect_field="config_id"
    ),
    ("POST", "/models/<model_id>/compiles"): Row(
        "editor", _model, body=lambda p: {"target": "onnx"}, expect=422, expect_field="model_id"
    ),
    ("POST", "/compiles/<compile_id>/cancel"): Row("editor", lambda w: {"compile_id": w.compile()}),
    ("POST", "/runs/<run_id>/cancel"): Row("editor", lambda w: {"run_id": w.run()}),
    ("POST", "/projects/<project_id>/datasets"): Row(
        "editor", _project, body=lambda p: {"name": f"ds-{new_id()[:8]}"}, expect=201
    ),
    ("POST", "/projects/<project_id>/datasets/demo-sentiment"): Row(
        "editor",
        _project,
        body=lambda p: {"wait": False},
        allowed_body=lambda p: {"wait": False, "name": " "},
        expect=422,
        expect_field="name",
    ),
    ("POST", "/datasets/<dataset_id>/validate"): Row("editor", lambda w: {"dataset_id": w.model("dataset")}),
    ("POST", "/projects/<project_id>/trainings"): Row(
        "editor",
        _project,
        body=lambda p: {"config_id": "c", "dataset_id": "d", "name": "t"},
        allowed_body=lambda p: {"config_id": "c", "dataset_id": "d", "name": " "},
        expect=422,
        expect_field="name",
    ),
    ("POST", "/trainings/<training_id>/cancel"): Row("editor", lambda w: {"training_id": w.training()}),
    ("POST", "/projects/<project_id>/pretrainings"): Row(
        "editor",
        _project,
        body=lambda p: {"template": "bert-tiny", "dataset_ids": ["d"], "name": "p"},
        allowed_body=lambda p: {"template": "bert-tiny", "dataset_ids": ["d"], "name": " "},
        expect=422,
        expect_field="name",
    ),
    # issue 15: pipelines and the project as home
    ("POST", "/pipelines/validate"): Row("any", lambda w: {}, body=lambda p: {"file": PIPELINE_FILE.read_text()}),
    ("POST", "/projects/<project_id>/pipelines"): Row(
        "editor", _project, body=lambda p: {"file": PIPELINE_FILE.read_text()}, expect=201
    ),
    ("PUT", "/pipelines/<pipeline_id>"): Row(
        "editor",
        lambda w: {"pipeline_id": w.pipeline()},
        body=lambda p: {"file": PIPELINE_FILE.read_text().replace("max_epochs: 1", "max_epochs: 2")},
    ),
    ("DELETE", "/pipelines/<pipeline_id>"): Row("editor", lambda w: {"pipeline_id": w.pipeline()}),
    ("POST", "/projects/<project_id>/members"): Row(
        "owner", _project, body=lambda p: {"member": f"u-{new_id()[:8]}", "role": "viewer"}, expect=201
    ),
    ("POST", "/projects/<project_id>/owner"): Row(
        "owner", lambda w: {"project_id": w.own_project()}, body=lambda p: {"member": f"u-{new_id()[:8]}"}
    ),
    ("POST", "/projects/<project_id>/export"): Row("owner", _project),
    ("POST", "/pipelines/<pipeline_id>/runs"): Row(  # a version that does not exist: no run starts
        "editor", lambda w: {"pipeline_id": w.pipeline()}, query="?version=99", expect=404, expect_field="version"
    ),
    ("POST", "/projects/import"): Row(
        "any", lambda w: {}, body=lambda p: {"archive_base64": "bm90IGEgdGFy"}, expect=422, expect_field="archive"
    ),
    # release center (issue 14): deployments are fixtures already stopped, so no serving process starts
    ("POST", "/models/<model_id>/versions"): Row(
        "editor", lambda w: {"model_id": w.model()}, body=lambda p: {}, expect=422, expect_field="model_id"
    ),
    ("PATCH", "/versions/<version_id>/params"): Row(
        "editor", lambda w: {"version_id": w.version()}, body=lambda p: {"params": {"threads": 2}}
    ),
    ("POST", "/versions/<version_id>/approvals"): Row(
        "editor", lambda w: {"version_id": w.version()}, body=lambda p: {"stage": "production"}
    ),
    ("POST", "/versions/<version_id>/approvals/<stage>/approve"): Row("editor", lambda w: w.pending_approval()),
    ("POST", "/versions/<version_id>/approvals/<stage>/reject"): Row("editor", lambda w: w.pending_approval()),
    ("PUT", "/models/<model_id>/aliases/<alias>"): Row(
        "editor", lambda w: w.alias(), body=lambda p: {"version_id": p["version_id"]}
    ),
    ("DELETE", "/models/<model_id>/aliases/<alias>"): Row("editor", lambda w: w.alias()),
    ("PUT", "/projects/<project_id>/release-policy"): Row(
        "owner", _project, body=lambda p: {"protected_stages": ["production", "staging"]}
    ),
    ("POST", "/deployments"): Row(
        "editor",
        lambda w: {"version_id": w.version()},
        body=lambda p: {"version_id": p["version_id"]},
        allowed_body=lambda p: {"version_id": p["version_id"], "thresholds": {"max_error_rate": 5.0}},
        expect=422,
        expect_field="thresholds.max_error_rate",
    ),
    ("POST", "/deployments/<deployment_id>/update"): Row(
        "editor", lambda w: w.stopped_deployment(), body=lambda p: {"version_id": p["version_id"]},
        expect=409, expect_field="deployment_id",
    ),  # fmt: skip
    ("POST", "/deployments/<deployment_id>/rollback"): Row(
        "editor", lambda w: w.stopped_deployment(), expect=409, expect_field="deployment_id"
    ),
    ("POST", "/deployments/<deployment_id>/stop"): Row("editor", lambda w: w.stopped_deployment()),
    ("POST", "/deployments/<deployment_id>/shadow"): Row(
        "editor", lambda w: w.stopped_deployment(), body=lambda p: {"version_id": p["version_id"], "percent": 10},
        expect=409, expect_field="deployment_id",
    ),  # fmt: skip
    ("DELETE", "/deployments/<deployment_id>/shadow"): Row(
        "editor", lambda w: w.stopped_deployment(), expect=409, expect_field="shadow"
    ),
    ("POST", "/deployments/<deployment_id>/predict"): Row(
        "viewer", lambda w: w.stopped_deployment(), body=lambda p: {"texts": ["好"]},
        expect=409, expect_field="deployment_id",
    ),  # fmt: skip
    ("POST", "/projects/<project_id>/studies"): Row(
        "editor",
        _project,
        body=lambda p: {"name": "s", "config_id": "c", "dataset_id": "d", "space": {"training.epochs": {
            "type": "int", "low": 1, "high": 2}}},
        allowed_body=lambda p: {"name": " ", "config_id": "c", "dataset_id": "d", "space": {}},
        expect=422,
        expect_field="name",
    ),
    ("POST", "/studies/<study_id>/settings"): Row(
        "editor", lambda w: {"study_id": w.study()}, body=lambda p: {"parallelism": 2}
    ),
    ("POST", "/studies/<study_id>/cancel"): Row("editor", lambda w: {"study_id": w.study()}),
    ("POST", "/studies/<study_id>/resume"): Row(
        "editor", lambda w: {"study_id": w.study()}, expect=409, expect_field="study_id"
    ),
    ("POST", "/pipeline-runs/<run_id>/retry"): Row(  # a node the version lacks: no run starts
        "editor", lambda w: w.ended_pipeline_run(), body=lambda p: {"from_node": "nope"}, expect=422,
        expect_field="from_node",
    ),
    ("POST", "/pipeline-runs/<run_id>/cancel"): Row(
        "editor", lambda w: w.ended_pipeline_run(), body=lambda p: {}, expect=409, expect_field="run_id"
    ),
    ("POST", "/pipeline-runs/<run_id>/approvals/<node>"): Row(  # the sample has no approval node
        "editor", lambda w: {**w.ended_pipeline_run(), "node": "gate"}, body=lambda p: {"decision": "approve"},
        expect=422, expect_field="node",
    ),
    # issue 15 item 4: pipeline triggers
    ("POST", "/pipelines/<pipeline_id>/triggers"): Row(
        "editor", lambda w: {"pipeline_id": w.pipeline()}, body=lambda p: {"kind": "schedule", "cron": "0 3 * * *"},
        expect=201,
    ),  # fmt: skip
    ("DELETE", "/pipelines/<pipeline_id>/triggers/<trigger_id>"): Row("editor", lambda w: w.pipeline_trigger()),
}


def write_routes() -> list[tuple[str, str]]:
    """Every write route the resolver serves, as (method, path template)."""
    routes = [*app._static_routes, *app._dynamic_routes]  # powertools keeps no public list
    return sorted({(r.method.upper(), r.path) for r in routes if r.method.upper() in WRITES})


def _fill(template: str, params: Params) -> str:
    for name, value in params.items():
        template = template.replace(f"<{name}>", value)
    assert "<" not in template, f"setup left a path parameter unfilled: {template}"
    return template


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data = tmp_path_factory.mktemp("matrix") / "data"
    container = build_local(Settings(data_dir=data, min_part_bytes=1024))
    set_container(container)
    try:
        w = World(container)
        w.project_id = w.ok(OWNER, "POST", "/projects", {"name": "matrix"})["project_id"]
        for user, role in ((EDITOR, "editor"), (VIEWER, "viewer")):
            w.ok(OWNER, "PUT", f"/projects/{w.project_id}/members/{user}", {"role": role})
        yield w
    finally:
        set_container(None)
        container.close()


def _log_end(container: Container) -> int:
    events = container.store.read_all(after_position=0, limit=1_000_000)
    return events[-1].position if events else 0


def _jobs(container: Container) -> list[str]:
    root = Path(container.settings.data_dir) / "jobs"
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


def test_every_write_route_has_a_row() -> None:
    missing = [f"{m} {p}" for m, p in write_routes() if (m, p) not in MATRIX]
    stale = [f"{m} {p}" for m, p in MATRIX if (m, p) not in set(write_routes())]
    assert not missing, f"write routes without a row in MATRIX (add one, see the docstring): {missing}"
    assert not stale, f"rows for routes the API no longer serves: {stale}"


@pytest.mark.parametrize(("method", "path"), sorted(MATRIX), ids=[f"{m} {p}" for m, p in sorted(MATRIX)])
def test_role_matrix(world: World, method: str, path: str) -> None:
    row = MATRIX[(method, path)]
    # Given a fresh fixture object in the shared project
    params = row.setup(world)
    url = _fill(path, params) + row.query
    body = row.body(params)
    refused = {"editor": (VIEWER, OUTSIDER), "owner": (EDITOR, VIEWER, OUTSIDER), "any": (),
               "viewer": (OUTSIDER,)}[row.rule]  # fmt: skip
    before, jobs_before = _log_end(world.container), _jobs(world.container)

    # When each role below the rule calls it, Then it is refused, and nothing happened
    for user in refused:
        status, doc = world.call(user, method, url, body)
        want = NON_MEMBER if user == OUTSIDER else 403
        assert (status, doc.get("field")) == (want, row.refused_field), (user, status, doc)
    assert _log_end(world.container) == before, "a refused write appended events"
    assert _jobs(world.container) == jobs_before, "a refused write started a job"

    # When the lowest allowed role calls it, Then it gets what the route's rule says
    allowed = {"editor": EDITOR, "owner": OWNER, "any": OUTSIDER, "viewer": VIEWER}[row.rule]
    send = row.allowed_body(params) if row.allowed_body else body
    status, doc = world.call(allowed, method, url, send)
    assert status == row.expect, (allowed, status, doc)
    if row.expect_field is not None:
        assert doc.get("field") == row.expect_field, doc
    assert _jobs(world.container) == jobs_before, "the matrix must not start jobs (use allowed_body)"
