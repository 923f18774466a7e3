"""Project aggregate: name, members and their roles (viewer < editor < owner)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from domain.aggregate import Aggregate
from domain.errors import Conflict, Invalid, NotFound
from domain.events import Command, DomainEvent, event
from domain.library.values import ROLES, clean_name, clean_user_id


@event("project.created")
class ProjectCreated(DomainEvent):
    project_id: str
    name: str
    description: str = ""
    owner: str


@event("project.member_set")
class MemberSet(DomainEvent):
    user_id: str
    role: str


@event("project.member_removed")
class MemberRemoved(DomainEvent):
    user_id: str


class CreateProject(Command):
    project_id: str
    name: str
    description: str = ""
    owner: str


class SetMember(Command):
    user_id: str
    role: str


class RemoveMember(Command):
    user_id: str


@dataclass(frozen=True)
class Project:
    project_id: str = ""
    name: str = ""
    description: str = ""
    members: dict[str, str] = field(default_factory=dict)

    @property
    def exists(self) -> bool:
        return bool(self.project_id)

    def role_of(self, user_id: str) -> str | None:
        return self.members.get(user_id)


def evolve(state: Project, evt: DomainEvent) -> Project:
    if isinstance(evt, ProjectCreated):
        return Project(evt.project_id, evt.name, evt.description, {evt.owner: "owner"})
    if isinstance(evt, MemberSet):
        return replace(state, members={**state.members, evt.user_id: evt.role})
    if isinstance(evt, MemberRemoved):
        return replace(state, members={k: v for k, v in state.members.items() if k != evt.user_id})
    return state


def decide(state: Project, cmd: Command) -> Sequence[DomainEvent]:
    if isinstance(cmd, CreateProject):
        if state.exists:
            raise Conflict(f"project {cmd.project_id} exists", field="project_id")
        name = clean_name(cmd.name)
        clean_user_id(cmd.owner, field="owner")
        return [ProjectCreated(project_id=cmd.project_id, name=name, description=cmd.description, owner=cmd.owner)]
    if not state.exists:
        raise NotFound("no such project", field="project_id")
    if isinstance(cmd, SetMember):
        clean_user_id(cmd.user_id)
        if cmd.role not in ROLES:
            raise Invalid(f"role must be one of {', '.join(ROLES)}", field="role")
        if state.members.get(cmd.user_id) == cmd.role:
            return []
        if state.members.get(cmd.user_id) == "owner" and _last_owner(state, cmd.user_id):
            raise Conflict("a project keeps at least one owner", field="role")
        return [MemberSet(user_id=cmd.user_id, role=cmd.role)]
    if isinstance(cmd, RemoveMember):
        if cmd.user_id not in state.members:
            raise NotFound("not a member", field="user_id")
        if _last_owner(state, cmd.user_id):
            raise Conflict("a project keeps at least one owner", field="user_id")
        return [MemberRemoved(user_id=cmd.user_id)]
    raise Invalid(f"unknown command {type(cmd).__name__}")


def _last_owner(state: Project, user_id: str) -> bool:
    owners = [u for u, r in state.members.items() if r == "owner"]
    return owners == [user_id]


PROJECTS = Aggregate[Project]("project", Project, evolve, decide)
