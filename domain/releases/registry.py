"""A project's deployments, stream ``deploymentregistry-<project id>``: their ids, oldest first,
written in the same batch as each deployment's creation (lists need no view)."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from domain.aggregate import Aggregate
from domain.errors import Invalid
from domain.events import Command, DomainEvent, event


@event("deploymentregistry.added")
class DeploymentAdded(DomainEvent):
    deployment_id: str


class Registry(BaseModel):
    model_config = ConfigDict(frozen=True)

    ids: tuple[str, ...] = ()


class AddDeployment(Command):
    deployment_id: str


def _reg_evolve(state: Registry, e: DomainEvent) -> Registry:
    return Registry(ids=(*state.ids, e.deployment_id)) if isinstance(e, DeploymentAdded) else state


def _reg_decide(state: Registry, cmd: Command) -> Sequence[DomainEvent]:
    if isinstance(cmd, AddDeployment):
        return [] if cmd.deployment_id in state.ids else [DeploymentAdded(deployment_id=cmd.deployment_id)]
    raise Invalid(f"unknown command {type(cmd).__name__}", field="command")


REGISTRY: Aggregate[Registry] = Aggregate("deploymentregistry", Registry, _reg_evolve, _reg_decide)
