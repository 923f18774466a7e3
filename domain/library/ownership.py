"""Ownership transfer and invitations on the project aggregate (stream ``project-<id>``), beside
``domain.library.projects`` (whose events they reuse): ``PROJECT_MEMBERS`` decides these commands
and hands every other command to the project aggregate's own ``decide``.

A transfer is owner-only and one write of two ``project.member_set`` events: the new owner first,
then the old owner as ``editor`` (``keep_role``), so the project is never without an owner, not
even between the two events.
"""

from __future__ import annotations

from collections.abc import Sequence

from domain.aggregate import Aggregate
from domain.errors import Conflict, Forbidden, Invalid, NotFound
from domain.events import Command, DomainEvent
from domain.library import projects as p
from domain.library.values import ROLES, clean_user_id


class TransferOwnership(Command):
    from_user: str
    to_user: str
    keep_role: str = "editor"


class Invite(Command):
    """Add a member who is not one yet (a role change is ``SetMember``)."""

    user_id: str
    role: str = "viewer"


def decide(state: p.Project, cmd: Command) -> Sequence[DomainEvent]:
    if isinstance(cmd, TransferOwnership):
        if not state.exists:
            raise NotFound("no such project", field="project_id")
        clean_user_id(cmd.to_user, field="user_id")
        if state.role_of(cmd.from_user) != "owner":
            raise Forbidden("only an owner transfers ownership", field="project_id")
        if cmd.to_user == cmd.from_user:
            raise Invalid("you own this project already", field="user_id")
        if cmd.keep_role not in ROLES or cmd.keep_role == "owner":
            raise Invalid("keep_role must be editor or viewer", field="keep_role")
        return [p.MemberSet(user_id=cmd.to_user, role="owner"), p.MemberSet(user_id=cmd.from_user, role=cmd.keep_role)]
    if isinstance(cmd, Invite):
        if state.exists and cmd.user_id in state.members:
            raise Conflict(f"{cmd.user_id} is a member already ({state.members[cmd.user_id]})", field="user_id")
        return p.decide(state, p.SetMember(user_id=cmd.user_id, role=cmd.role))
    return p.decide(state, cmd)


PROJECT_MEMBERS = Aggregate[p.Project]("project", p.Project, p.evolve, decide)
