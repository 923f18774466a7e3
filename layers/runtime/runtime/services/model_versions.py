"""Model versions, stage aliases, approvals and the release policy (issue 14, part 1).

- ``create``: a version from a library model (a trained one: lineage, config and metrics from its
  training; or an upload) or from a succeeded compile (its ONNX graph, report and package on top
  of the model's files). The version and its number in ``versionregistry-<model>`` are one write.
- ``update_params``: the serving parameters (``domain.releases.params``), history kept.
- ``diff``: two versions' snapshots and parameters, path by path (``domain.configs.diff``).
- ``move_alias``: a stage alias to a version; a protected stage (the project's release policy,
  default ``production``) needs the version approved for that stage by someone other than its
  requester (``request_approval`` / ``approve`` / ``reject``; the evidence - metrics, compile
  report - is recorded with the approval).
- every read takes ``as_of`` (what the log held then: ``recorded_at`` <= as_of).

Authorization by project role here: viewer reads, editor writes, owner sets the policy.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.compiles.compile import COMPILES
from domain.configs.diff import diff_values
from domain.errors import Conflict, Invalid, NotFound
from domain.library.models import MODELS
from domain.releases import aliases as al
from domain.releases import versions as v
from domain.releases.params import validate_params
from domain.trainings import TRAININGS
from runtime.ports import EventStore
from runtime.services.access import Access
from runtime.services.commands import Caller, Change, execute, execute_many, load

TRAINED = "training-run:"
RUNTIME_OF_TARGET = {"onnx": "onnxruntime-fp32", "onnx-int8": "onnxruntime-int8"}
EVIDENCE_KEYS = ("accuracy", "macro_f1", "verification", "latency_ms", "size_bytes", "target")


def _fold(store: EventStore, aggregate: Any, entity_id: str, as_of: datetime | None) -> tuple[Any, int]:
    if as_of is None:
        return load(store, aggregate, entity_id)
    records = store.read(aggregate.stream_id(entity_id), until_time=as_of)
    return aggregate.fold(r.event() for r in records), (records[-1].version if records else 0)


def _numbers(metrics: dict[str, Any]) -> dict[str, float]:
    return {k: float(x) for k, x in metrics.items() if isinstance(x, int | float) and not isinstance(x, bool)}


def version_doc(state: v.ModelVersion) -> dict[str, Any]:
    return {
        "version_id": state.version_id,
        "project_id": state.project_id,
        "model_id": state.model_id,
        "number": state.number,
        "source": state.source,
        "files": state.files,
        "config": state.config,
        "compile_id": state.compile_id,
        "compile_report": state.compile_report,
        "package": state.package,
        "metrics": state.metrics,
        "lineage": state.lineage,
        "params": state.params,
        "params_revision": state.params_revision,
        "description": state.description,
        "deployable": v.PACKAGE in state.files and v.ONNX in state.files,
        "approvals": {k: a.model_dump() for k, a in state.approvals.items()},
    }


class VersionService:
    def __init__(self, store: EventStore, access: Access) -> None:
        self.store = store
        self.access = access

    # ------------------------------------------------------------------ versions
    def create(
        self,
        caller: Caller,
        *,
        model_id: str | None = None,
        compile_id: str | None = None,
        params: dict[str, Any] | None = None,
        description: str = "",
        parent_version_id: str | None = None,
        expect_model_id: str | None = None,
    ) -> dict[str, Any]:
        """``expect_model_id``: the model the caller addressed (a compile of another is refused)."""
        if (model_id is None) == (compile_id is None):
            raise Invalid("name exactly one of model_id or compile_id", field="model_id")
        snapshot: dict[str, Any] = {"compile_report": {}, "package": {}, "compile_id": None}
        if compile_id is not None:
            comp, _ = load(self.store, COMPILES, compile_id)
            if comp.status == "new":
                raise NotFound(f"no compile {compile_id!r}", field="compile_id")
            self.access.require(caller, comp.project_id, "editor")
            if comp.status != "succeeded":
                raise Conflict(f"compile {compile_id} is {comp.status}, not succeeded", field="compile_id")
            model_id = comp.model_id
            snapshot.update(compile_id=compile_id, compile_report=dict(comp.report or {}),
                            package=dict(comp.manifest or {}))  # fmt: skip
        assert model_id is not None
        if expect_model_id is not None and model_id != expect_model_id:
            raise Invalid(f"compile {compile_id} is of model {model_id}, not {expect_model_id}", field="compile_id")
        model, _ = load(self.store, MODELS, model_id)
        if not model.exists:
            raise NotFound(f"no model {model_id!r}", field="model_id")
        self.access.require(caller, model.project_id, "editor")
        if model.kind != "model":
            raise Invalid(f"{model_id} is a {model.kind}, not a model", field="model_id")
        files = {p: {"blob": f.blob, "size": f.size, "sha256": f.sha256} for p, f in model.files.items()}
        if compile_id is not None:
            files.update({p: dict(a) for p, a in comp.artifacts.items()})
        if not files:
            raise Invalid(f"model {model_id} has no files", field="model_id")
        config, metrics, lineage = self._training_facts(model.source)
        if compile_id is not None:
            metrics.update({f"compile.{k}": x for k, x in _numbers(snapshot["compile_report"]).items()})
            lineage["compile_id"] = compile_id
        registry, _ = load(self.store, v.REGISTRY, model_id)
        if parent_version_id is not None and parent_version_id not in registry.versions:
            raise NotFound(f"{parent_version_id} is not a version of {model_id}", field="parent_version_id")
        lineage["parent_version_id"] = parent_version_id or (registry.versions[-1] if registry.versions else None)
        default_runtime = RUNTIME_OF_TARGET.get(comp.target, "onnxruntime-int8") if compile_id else "onnxruntime-int8"
        checked = validate_params({"runtime": default_runtime, **(params or {})})
        number = registry.next_number
        version_id = v.version_id_of(model_id, number)
        cmd = v.CreateVersion(
            version_id=version_id, project_id=model.project_id, model_id=model_id, number=number,
            source="compile" if compile_id else ("training" if model.source.startswith(TRAINED) else "upload"),
            files=files, config=config, metrics=metrics, lineage=lineage, params=checked.model_dump(),
            description=description, **snapshot,
        )  # fmt: skip
        execute_many(self.store, [Change(v.VERSIONS, version_id, cmd),
                                  Change(v.REGISTRY, model_id, v.AddVersion(number=number, version_id=version_id))],
                     caller, retries=2)  # fmt: skip
        return self.show(caller, version_id)

    def _training_facts(self, source: str) -> tuple[dict[str, Any], dict[str, float], dict[str, Any]]:
        if not source.startswith(TRAINED):
            return {}, {}, {"source": source} if source else {}
        t, _ = load(self.store, TRAININGS, source[len(TRAINED) :])
        if not t.exists:
            return {}, {}, {"source": source}
        config = {"id": t.config_id, "version": t.config_version}
        metrics = _numbers({**(t.metrics or {}), **{f"test_{k}": x for k, x in (t.evaluation or {}).items()}})
        lineage = {"training_id": t.training_id, "dataset_id": t.dataset_id, "parent_model_id": t.parent_model_id}
        return config, metrics, lineage

    def state(self, caller: Caller, version_id: str, role: str = "viewer",
              as_of: datetime | None = None) -> v.ModelVersion:  # fmt: skip
        folded, _ = _fold(self.store, v.VERSIONS, version_id, as_of)
        state: v.ModelVersion = folded
        if not state.exists:
            raise NotFound(f"no version {version_id!r}" + (f" at {as_of.isoformat()}" if as_of else ""),
                           field="version_id")  # fmt: skip
        self.access.require(caller, state.project_id, role)
        return state

    def show(self, caller: Caller, version_id: str, *, as_of: datetime | None = None) -> dict[str, Any]:
        doc = version_doc(self.state(caller, version_id, as_of=as_of))
        doc["aliases"] = sorted(a for a, t in self._aliases(doc["model_id"], as_of).targets.items() if t == version_id)
        return doc

    def list_versions(self, caller: Caller, model_id: str, *, as_of: datetime | None = None) -> list[dict[str, Any]]:
        model, _ = load(self.store, MODELS, model_id)
        if not model.model_id:
            raise NotFound(f"no model {model_id!r}", field="model_id")
        self.access.require(caller, model.project_id, "viewer")
        registry, _ = _fold(self.store, v.REGISTRY, model_id, as_of)
        targets = self._aliases(model_id, as_of).targets
        out = []
        for vid in reversed(registry.versions):
            state, _ = _fold(self.store, v.VERSIONS, vid, as_of)
            doc = version_doc(state)
            doc["aliases"] = sorted(a for a, t in targets.items() if t == vid)
            out.append(doc)
        return out

    def update_params(self, caller: Caller, version_id: str, params: dict[str, Any]) -> dict[str, Any]:
        state = self.state(caller, version_id, "editor")
        from domain.releases.params import ServingParams

        checked = validate_params(params, ServingParams.model_validate(state.params) if state.params else None)
        execute(self.store, v.VERSIONS, version_id, v.UpdateParams(params=checked.model_dump()), caller, retries=2)
        return self.show(caller, version_id)

    def params_history(self, caller: Caller, version_id: str) -> list[dict[str, Any]]:
        self.state(caller, version_id)
        out: list[dict[str, Any]] = []
        prev: dict[str, Any] = {}
        for r in self.store.read(v.VERSIONS.stream_id(version_id)):
            if r.type in (v.VersionCreated.event_type, v.ParamsUpdated.event_type):
                params = r.data["params"]
                out.append({"revision": r.data.get("revision", 0), "params": params,
                            "changes": [c.model_dump() for c in diff_values(prev, params)] if prev else [],
                            "by": r.metadata.actor, "reason": r.metadata.reason,
                            "at": r.recorded_at.isoformat()})  # fmt: skip
                prev = params
        return out

    def diff(self, caller: Caller, a: str, b: str) -> dict[str, Any]:
        left = version_doc(self.state(caller, a))
        right = version_doc(self.state(caller, b))
        keys = ("files", "config", "compile_id", "metrics", "lineage", "params", "package")
        changes = diff_values({k: left[k] for k in keys}, {k: right[k] for k in keys})
        return {"from": a, "to": b, "changes": [c.model_dump() for c in changes]}

    # ------------------------------------------------------------------ aliases and approvals
    def _aliases(self, model_id: str, as_of: datetime | None = None) -> al.Aliases:
        return _fold(self.store, al.ALIASES, model_id, as_of)[0]  # type: ignore[no-any-return]

    def policy(self, caller: Caller, project_id: str) -> dict[str, Any]:
        self.access.require(caller, project_id, "viewer")
        state, _ = load(self.store, al.POLICIES, project_id)
        return {"project_id": project_id, "protected_stages": list(state.protected_stages)}

    def set_policy(self, caller: Caller, project_id: str, protected_stages: list[str]) -> dict[str, Any]:
        self.access.require(caller, project_id, "owner")
        execute(self.store, al.POLICIES, project_id, al.SetPolicy(protected_stages=protected_stages), caller)
        return self.policy(caller, project_id)

    def aliases(self, caller: Caller, model_id: str, *, as_of: datetime | None = None) -> dict[str, Any]:
        model, _ = load(self.store, MODELS, model_id)
        if not model.model_id:
            raise NotFound(f"no model {model_id!r}", field="model_id")
        self.access.require(caller, model.project_id, "viewer")
        history = [
            {"alias": r.data["alias"], "version_id": r.data["version_id"], "type": r.type,
             "previous_version_id": r.data.get("previous_version_id"), "by": r.metadata.actor,
             "reason": r.metadata.reason, "at": r.recorded_at.isoformat()}
            for r in self.store.read(al.ALIASES.stream_id(model_id), until_time=as_of)
        ]  # fmt: skip
        return {"model_id": model_id, "aliases": self._aliases(model_id, as_of).targets, "history": history}

    def move_alias(self, caller: Caller, model_id: str, alias: str, version_id: str) -> dict[str, Any]:
        al.clean_alias(alias)
        state = self.state(caller, version_id, "editor")
        policy, _ = load(self.store, al.POLICIES, state.project_id)
        cmd = al.MoveAlias(model_id=model_id, alias=alias, version_id=version_id, version_model_id=state.model_id,
                           protected=policy.protects(alias), approved=state.approved_for(alias))  # fmt: skip
        execute(self.store, al.ALIASES, model_id, cmd, caller, retries=2)
        return self.aliases(caller, model_id)

    def remove_alias(self, caller: Caller, model_id: str, alias: str) -> dict[str, Any]:
        model, _ = load(self.store, MODELS, model_id)
        if not model.model_id:
            raise NotFound(f"no model {model_id!r}", field="model_id")
        self.access.require(caller, model.project_id, "editor")
        execute(self.store, al.ALIASES, model_id, al.RemoveAlias(alias=al.clean_alias(alias)), caller, retries=2)
        return self.aliases(caller, model_id)

    def evidence(self, state: v.ModelVersion) -> dict[str, Any]:
        report = state.compile_report or {}
        return {
            "metrics": state.metrics,
            "compile_report": {k: report[k] for k in EVIDENCE_KEYS if k in report},
            "compile_id": state.compile_id,
            "files": {p: f.get("sha256") for p, f in state.files.items()},
        }

    def request_approval(self, caller: Caller, version_id: str, stage: str = "production") -> dict[str, Any]:
        state = self.state(caller, version_id, "editor")
        cmd = v.RequestApproval(stage=al.clean_alias(stage, "stage"), requested_by=caller.user_id,
                                evidence=self.evidence(state))  # fmt: skip
        execute(self.store, v.VERSIONS, version_id, cmd, caller, retries=2)
        return self.show(caller, version_id)

    def approve(self, caller: Caller, version_id: str, stage: str = "production", comment: str = "") -> dict[str, Any]:
        state = self.state(caller, version_id, "editor")
        cmd = v.Approve(stage=al.clean_alias(stage, "stage"), approver=caller.user_id,
                        evidence=self.evidence(state), comment=comment)  # fmt: skip
        execute(self.store, v.VERSIONS, version_id, cmd, caller, retries=2)
        return self.show(caller, version_id)

    def reject(self, caller: Caller, version_id: str, stage: str = "production", comment: str = "") -> dict[str, Any]:
        self.state(caller, version_id, "editor")
        cmd = v.Reject(stage=al.clean_alias(stage, "stage"), rejecter=caller.user_id, comment=comment)
        execute(self.store, v.VERSIONS, version_id, cmd, caller, retries=2)
        return self.show(caller, version_id)
