"""The study routes through the API's Lambda handler on the local container: bad input is a 422
naming the field (space path, range, log scale, objective without a metric, strict types), with
nothing written; a good request is 201 and the reads answer."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from runtime.bootstrap import build_local, set_container
from runtime.settings import Settings
from tests.integration._crash_reactions import dataset_dir
from tlm.asgi import _Context, proxy_event

pytestmark = pytest.mark.integration
SPACE = {"training.learning_rate": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True}}


class Api:
    def __init__(self, container: Any) -> None:
        self.c = container

    def __call__(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        from functions.api.handler import handler

        data = json.dumps(body).encode() if body is not None else b""
        res = handler(proxy_event(method, path, {"Content-Type": "application/json"}, data, "alice"), _Context())
        return int(res["statusCode"]), json.loads(res["body"])

    def events(self) -> int:
        return sum(1 for _ in self.c.store.iter_all())


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp = Path(tmp_path_factory.mktemp("studies"))
    c = build_local(Settings(data_dir=tmp / "data"))
    set_container(c)
    a = Api(c)
    pid = a("POST", "/projects", {"name": "p"})[1]["project_id"]
    c.jobs.register_program("train", str(Path(__file__).with_name("_fake_trial.py")))  # fast trials
    did = c.artifacts.ingest_dir(_alice(), pid, dataset_dir(tmp / "src"), name="ds", family="other", kind="dataset")
    cid = a("POST", f"/projects/{pid}/configs", {"template": "bert-tiny"})[1]["config_id"]
    a.ids = {"pid": pid, "did": did, "cid": cid}  # type: ignore[attr-defined]
    yield a
    set_container(None)
    c.close()


def _alice() -> Any:
    from runtime.services.commands import Caller

    return Caller("alice")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"space": {"training.hidden": {"type": "int", "low": 1, "high": 2}}}, "space.training.hidden"),
        ({"space": {"training.epochs": {"type": "int", "low": 3, "high": 2}}}, "space.training.epochs.low"),
        ({"space": {"training.weight_decay": {"type": "float", "low": 0.0, "high": 0.5, "log": True}}},
         "space.training.weight_decay.low"),
        ({"objectives": ["1 + 1"]}, "objectives[0].expression"),
        ({"objectives": [{"expression": "os.system", "direction": "maximize"}]}, "objectives[0].expression"),
        ({"max_trials": "10"}, "max_trials"),
        ({"strategy": "bayes"}, "strategy"),
        ({"parallelism": 99}, "parallelism"),
        ({"enqueue": [{"training.learning_rate": 5.0}]}, "enqueue[0].training.learning_rate"),
    ],
)
def test_bad_input_is_a_422_naming_the_field_and_nothing_is_written(api, change, field):
    ids = api.ids
    body = {"name": "s", "config_id": ids["cid"], "dataset_id": ids["did"], "space": SPACE, **change}
    before = api.events()
    status, answer = api("POST", f"/projects/{ids['pid']}/studies", body)
    assert (status, answer.get("field")) == (422, field), answer
    assert api.events() == before


def test_a_study_is_started_and_read_through_the_api(api):
    ids = api.ids
    body = {"name": "s", "config_id": ids["cid"], "dataset_id": ids["did"], "space": SPACE, "strategy": "random",
            "max_trials": 1, "objectives": [{"expression": "val_accuracy", "direction": "maximize"}]}  # fmt: skip
    status, study = api("POST", f"/projects/{ids['pid']}/studies", body)
    assert status == 201 and study["status"] == "running", study
    sid = study["study_id"]
    assert api("POST", f"/studies/{sid}/cancel", {"reason": "enough"})[0] == 200
    deadline = time.monotonic() + 60
    while (doc := api("GET", f"/studies/{sid}")[1])["finished_reason"] is None:
        api.c.catch_up()
        assert time.monotonic() < deadline, doc
        time.sleep(0.2)
    assert doc["finished_reason"] == "cancelled" and doc["best_model_id"] is None
    assert all(t["reason"] == "cancelled" for t in api("GET", f"/studies/{sid}/trials")[1]["items"])
    data = api("GET", f"/studies/{sid}/data")[1]
    assert data["directions"] == ["maximize"] and data["space"][0]["path"] == "training.learning_rate"
    assert api("GET", f"/studies/{sid}/plots")[0] == 200
    listed = api("GET", f"/projects/{ids['pid']}/studies")[1]["items"]
    assert [(i["study_id"], i["status"]) for i in listed] == [(sid, "cancelled")]
    assert listed[0]["counts"] == doc["counts"] and listed[0]["best_value"] is None  # the studies view's row
    assert api("GET", "/studies/nope")[0] == 404
    assert api("GET", f"/studies/{sid}/best")[0] == 404
