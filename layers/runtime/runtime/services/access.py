"""Authorization: every service call checks the caller's role in the project, read from the
project's own stream (strongly consistent), never from a view."""

from __future__ import annotations

from domain.errors import Forbidden, NotFound
from domain.library.projects import PROJECTS, Project
from domain.library.values import role_allows
from runtime.ports import EventStore
from runtime.services.commands import Caller, load


class Access:
    def __init__(self, store: EventStore) -> None:
        self.store = store

    def project(self, project_id: str) -> Project:
        state, _ = load(self.store, PROJECTS, project_id)
        if not state.exists:
            raise NotFound(f"no project {project_id!r}", field="project_id")
        return state

    def require(self, caller: Caller, project_id: str, role: str) -> Project:
        """Raise NotFound for an unknown project, Forbidden when the caller's role is below
        ``role`` (viewer reads, editor writes, owner manages members and deletes)."""
        project = self.project(project_id)
        have = project.role_of(caller.user_id)
        if have is None:
            # not a member: do not reveal more than that the project exists
            raise Forbidden("not a member of this project", field="project_id")
        if not role_allows(have, role):
            raise Forbidden(f"needs role {role} in this project (you are {have})", field="project_id")
        return project

    def check(self, caller: Caller, project_id: str, action: str) -> None:
        """Adapter for services that speak in actions: read -> viewer, write -> editor,
        manage -> owner."""
        self.require(caller, project_id, {"read": "viewer", "write": "editor", "manage": "owner"}[action])
