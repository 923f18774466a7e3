"""The read models say what the routes really answer (issue 11 item 4): a real session through
the API's Lambda handler on the local container (SQLite, files, subprocess jobs) - projects,
library, uploads, datasets, configs, limits, runs, trainings, compiles, arch-test jobs - and every
2xx answer is validated against the schema the OpenAPI document declares for that operation and
code. Schemathesis checks the same on fuzzed requests, which rarely get past a 404; this session
gets the success answers of most operations, started jobs included (cancelled at once)."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from runtime.bootstrap import build_local, set_container
from runtime.settings import Settings
from tlm.asgi import _Context, proxy_event

pytestmark = pytest.mark.integration

TRAIN = "".join(
    json.dumps({"text": t, "label": lb}, ensure_ascii=False) + "\n"
    for t, lb in [("这部电影很好看", "pos"), ("服务太差了", "neg"), ("质量很好", "pos"), ("味道一般", "neg")] * 3
).encode()


# answers that need a run to end first (a succeeded compile; a cancel that came before the end)
FINISHED_WORK = {
    "GET /compiles/{compile_id}/download", "POST /compiles/{compile_id}/cancel", "POST /runs/{run_id}/cancel",
    "POST /jobs/{name}/cancel", "POST /trainings/{training_id}/cancel",
}  # fmt: skip
# the modules merged after this session was written (studies, release center, pipelines, project home): their
# answers are checked by Schemathesis only, not yet here (a gap named in the closing note of issue 11)
LATER_MODULES = ("/studies", "/pipeline-", "/deployments", "/versions", "/pipelines", "/release-policy", "/aliases",
                 "/models/{model_id}/versions", "/owner", "/members", "/activity", "/export", "/import")  # fmt: skip


class Session:
    """Calls the handler; validates each 2xx answer against the document; records what it saw."""

    def __init__(self, container: Any) -> None:
        from functions.api.app import openapi_json

        self.c = container
        self.doc = json.loads(openapi_json())
        self.seen: set[str] = set()
        self.ops = [(m.upper(), p, re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", p) + "$"))
                    for p, ops in self.doc["paths"].items() for m in ops]  # fmt: skip

    def operation(self, method: str, path: str) -> str:
        # a literal path (/configs/batch-edit) wins over a template (/configs/{config_id})
        hits = [p for m, p, rx in self.ops if m == method and rx.match(path)]
        assert hits, f"{method} {path} is not in the document"
        return min(hits, key=lambda p: p.count("{"))

    def __call__(self, method: str, path: str, body: Any = None, *, ok: tuple[int, ...] = (200, 201, 202)) -> Any:
        from functions.api.handler import handler

        data = json.dumps(body).encode() if body is not None else b""
        res = handler(proxy_event(method, path, {"Content-Type": "application/json"}, data, "alice"), _Context())
        self.c.catch_up()
        status, answer = int(res["statusCode"]), json.loads(res["body"])
        assert status in ok, (method, path, status, answer)
        if 200 <= status < 300:
            op = self.operation(method, path.partition("?")[0])
            schema = self.doc["paths"][op][method.lower()]["responses"][str(status)]["content"]["application/json"]
            root = {**schema["schema"], "components": self.doc["components"]}
            errors = sorted(jsonschema.Draft202012Validator(root).iter_errors(answer), key=str)
            assert not errors, f"{method} {op} {status}: " + "; ".join(
                f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:5]
            )
            self.seen.add(f"{method} {op}")
        return answer

    def upload(self, model_id: str, path: str, data: bytes) -> dict[str, Any]:
        up = self("POST", f"/models/{model_id}/uploads", {"path": path, "size": len(data),
                                                          "sha256": hashlib.sha256(data).hexdigest()})  # fmt: skip
        self("POST", f"/models/{model_id}/uploads/{up['upload_id']}/part-urls", {"parts": [1]})
        self("GET", f"/models/{model_id}/uploads/{up['upload_id']}")
        self.c.blobs.upload_part(up["upload_id"], 1, data)
        return self("POST", f"/models/{model_id}/uploads/{up['upload_id']}/complete")  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Any:
    container = build_local(Settings(data_dir=Path(tmp_path_factory.mktemp("readmodels")) / "data"))
    set_container(container)
    yield Session(container)
    container.close()


def test_success_answers_match_the_documented_read_models(api: Session) -> None:
    # Given a project with a model (with a file), a valid dataset and a config with a child
    api("GET", "/health")
    api("GET", "/me")
    pid = api("POST", "/projects", {"name": "read models"})["project_id"]
    api("GET", "/projects")
    api("GET", f"/projects/{pid}")
    api("PUT", f"/projects/{pid}/members/bob", {"role": "viewer"})
    api("DELETE", f"/projects/{pid}/members/bob")
    mid = api("POST", f"/projects/{pid}/models", {"name": "m", "family": "bert"})["model_id"]
    other = api("POST", f"/projects/{pid}/models", {"name": "m2", "family": "bert"})["model_id"]
    api("PATCH", f"/models/{mid}", {"description": "tiny"})
    api.upload(mid, "weights.bin", b"w" * 100)
    doomed = api("POST", f"/models/{mid}/uploads", {"path": "x.bin", "size": 3, "sha256": "a" * 64})
    api("GET", f"/models/{mid}/uploads")
    api("DELETE", f"/models/{mid}/uploads/{doomed['upload_id']}")
    api("GET", f"/models/{mid}")
    api("GET", f"/models/{mid}/history")
    api("GET", f"/models/{mid}/download?path=weights.bin")
    api("GET", f"/models?project_id={pid}")
    api("GET", f"/models/{mid}/metrics")
    api("GET", f"/models/{mid}/compare/{other}")
    api("DELETE", f"/models/{other}")
    did = api("POST", f"/projects/{pid}/datasets", {"name": "reviews"})["model_id"]
    for split in ("train", "validation", "test"):
        api.upload(did, f"{split}.jsonl", TRAIN)
    api("GET", f"/datasets/{did}")
    api("POST", f"/datasets/{did}/validate")
    api("GET", f"/datasets?project_id={pid}")
    api("GET", f"/projects/{pid}/leaderboard?dataset_id={did}")
    api("GET", "/config-templates")
    api("GET", "/config-templates/bert-tiny")
    cid = api("POST", f"/projects/{pid}/configs", {"template": "bert-tiny", "name": "c"})["config_id"]
    api("PATCH", f"/configs/{cid}", {"set": {"training.epochs": 1}})
    api("POST", "/configs/batch-edit", {"config_ids": [cid], "set": {"training.seed": 3}})
    api("GET", f"/configs/{cid}")
    api("GET", f"/configs/{cid}/export")
    api("GET", f"/configs/{cid}/history")
    api("GET", f"/configs/{cid}/diff?from=1&to=3")
    api("GET", f"/configs/{cid}/blame")
    child = api("POST", f"/configs/{cid}/derive", {"name": "child", "edit": {"num_layers": 1}})["config_id"]
    api("GET", f"/projects/{pid}/configs")
    exported = json.dumps(api("GET", f"/configs/{cid}/export"))
    api("POST", f"/projects/{pid}/configs/import", {"file": exported, "name": "imp"})
    scratch = api("POST", f"/projects/{pid}/configs", {"template": "bert-tiny", "name": "scratch"})["config_id"]
    api("DELETE", f"/configs/{scratch}")
    api("GET", f"/projects/{pid}/limits")
    api("PUT", f"/projects/{pid}/limits", {"limits": {"max_jobs": 3}})

    # When jobs start: an arch test, a training and a compile (each cancelled at once)
    job = api("POST", f"/configs/{child}/arch-test", {"seq_len": 8, "repeats": 1})["job_name"]
    api("GET", f"/jobs/{job}")
    api("GET", f"/jobs/{job}/logs")
    api("POST", f"/jobs/{job}/cancel", ok=(200, 409))
    tid = api("POST", f"/projects/{pid}/trainings", {"config_id": cid, "dataset_id": did, "name": "trained"})
    tid = tid["training_id"]
    api("GET", f"/trainings/{tid}")
    api("GET", f"/trainings/{tid}/logs")
    api("GET", f"/projects/{pid}/trainings")
    api("POST", f"/trainings/{tid}/cancel", ok=(200, 409))
    comp = api("POST", f"/models/{mid}/compiles", {"target": "onnx"})["compile_id"]
    api("GET", f"/compiles/{comp}")
    api("GET", f"/compiles/{comp}/logs")
    api("GET", f"/models/{mid}/compiles")
    api("POST", f"/compiles/{comp}/cancel", ok=(200, 409))
    runs = api("GET", f"/runs?project_id={pid}")["items"]
    assert runs, "the training and the compile started runs"
    api("GET", f"/runs/{runs[0]['run_id']}")
    api("POST", f"/runs/{runs[0]['run_id']}/cancel", ok=(200, 409))
    imported = api("POST", f"/projects/{pid}/datasets/demo-sentiment", {"limit": 10, "wait": False})
    api("GET", f"/projects/{pid}/datasets/imports/{imported['job_name']}")
    body = {"template": "bert-tiny", "dataset_ids": [did], "name": "pre", "max_steps": 1}
    pre = api("POST", f"/projects/{pid}/pretrainings", body)
    api("GET", f"/projects/{pid}/pretrainings/{pre['job_name']}")
    for name in (imported["job_name"], pre["job_name"]):
        api.c.jobs.stop(name)

    # Then every answer matched its schema, and the session reached every operation but those
    missed = {f"{m.upper()} {p}" for p, ops in api.doc["paths"].items() for m in ops} - api.seen
    missed = {m for m in missed if not any(part in m for part in LATER_MODULES)}
    assert missed <= FINISHED_WORK, sorted(missed)
