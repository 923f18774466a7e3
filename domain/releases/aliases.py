"""Stage aliases of a model (``production``, ``staging``, ``champion`` ...), stream
``modelaliases-<model id>``, and the per-project release policy, stream ``releasepolicy-<project id>``.

An alias points at one version of the model; every move is an ``alias.moved`` event (who and why
in its metadata, the previous target in its data). The policy names the protected stages
(default ``production``): moving a protected alias needs an approval of the version for that
stage by someone other than its requester (``domain.releases.versions``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from domain.aggregate import Aggregate
from domain.errors import Conflict, Invalid, NotFound
from domain.events import Command, DomainEvent, event

ALIAS = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
DEFAULT_PROTECTED = ("production",)


def clean_alias(alias: str, field: str = "alias") -> str:
    if not isinstance(alias, str) or not ALIAS.match(alias):
        raise Invalid("an alias is lower case letters, digits, - or _ (at most 63, a letter first)", field=field)
    return alias


@event("alias.moved")
class AliasMoved(DomainEvent):
    model_id: str
    alias: str
    version_id: str
    previous_version_id: str | None = None


@event("alias.removed")
class AliasRemoved(DomainEvent):
    model_id: str
    alias: str
    version_id: str


class Aliases(BaseModel):
    model_config = ConfigDict(frozen=True)

    model_id: str = ""
    targets: dict[str, str] = Field(default_factory=dict)  # alias -> version id


class MoveAlias(Command):
    model_id: str
    alias: str
    version_id: str
    version_model_id: str  # the version's model: an alias never points across models
    protected: bool = False  # the policy protects this stage
    approved: bool = False  # the version is approved for this stage


class RemoveAlias(Command):
    alias: str


def _evolve(state: Aliases, e: DomainEvent) -> Aliases:
    if isinstance(e, AliasMoved):
        return Aliases(model_id=e.model_id, targets={**state.targets, e.alias: e.version_id})
    if isinstance(e, AliasRemoved):
        return Aliases(model_id=state.model_id, targets={k: v for k, v in state.targets.items() if k != e.alias})
    return state


def _decide(state: Aliases, cmd: Command) -> Sequence[DomainEvent]:
    if isinstance(cmd, MoveAlias):
        clean_alias(cmd.alias)
        if cmd.version_model_id != cmd.model_id:
            raise Invalid(f"{cmd.version_id} is a version of {cmd.version_model_id}", field="version_id")
        if state.targets.get(cmd.alias) == cmd.version_id:
            return []
        if cmd.protected and not cmd.approved:
            raise Conflict(
                f"{cmd.alias} is a protected stage: {cmd.version_id} needs an approval for {cmd.alias} "
                "by someone other than its requester first",
                field="version_id",
            )
        return [AliasMoved(model_id=cmd.model_id, alias=cmd.alias, version_id=cmd.version_id,
                           previous_version_id=state.targets.get(cmd.alias))]  # fmt: skip
    if isinstance(cmd, RemoveAlias):
        if cmd.alias not in state.targets:
            raise NotFound(f"no alias {cmd.alias!r}", field="alias")
        return [AliasRemoved(model_id=state.model_id, alias=cmd.alias, version_id=state.targets[cmd.alias])]
    raise Invalid(f"unknown command {type(cmd).__name__}", field="command")


ALIASES: Aggregate[Aliases] = Aggregate("modelaliases", Aliases, _evolve, _decide)


# ------------------------------------------------------------------ release policy


@event("releasepolicy.set")
class PolicySet(DomainEvent):
    protected_stages: list[str]


class Policy(BaseModel):
    model_config = ConfigDict(frozen=True)

    protected_stages: tuple[str, ...] = DEFAULT_PROTECTED

    def protects(self, stage: str) -> bool:
        return stage in self.protected_stages


class SetPolicy(Command):
    protected_stages: list[str]


def _evolve_policy(state: Policy, e: DomainEvent) -> Policy:
    if isinstance(e, PolicySet):
        return Policy(protected_stages=tuple(e.protected_stages))
    return state


def _decide_policy(state: Policy, cmd: Command) -> Sequence[DomainEvent]:
    if isinstance(cmd, SetPolicy):
        stages = [clean_alias(s, "protected_stages") for s in cmd.protected_stages]
        if len(stages) > 32:
            raise Invalid("at most 32 protected stages", field="protected_stages")
        if tuple(stages) == state.protected_stages:
            return []
        return [PolicySet(protected_stages=stages)]
    raise Invalid(f"unknown command {type(cmd).__name__}", field="command")


POLICIES: Aggregate[Policy] = Aggregate("releasepolicy", Policy, _evolve_policy, _decide_policy)
