from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from functions.api import schemas
from functions.api.deps import caller, container

router = APIGatewayRouter()


@router.post("/projects", tags=["projects"], summary="Create a project (you become its owner)", status_code=201)
def create_project(body: schemas.CreateProject) -> tuple[dict[str, Any], int]:
    return container().library.create_project(caller(router), body.name, body.description), 201


@router.get("/projects", tags=["projects"], summary="Projects you are a member of")
def list_projects() -> dict[str, Any]:
    return {"items": container().library.list_projects(caller(router))}


@router.get("/projects/<project_id>", tags=["projects"])
def get_project(project_id: str) -> dict[str, Any]:
    c, who = container(), caller(router)
    doc = c.library.get_project(who, project_id)
    return {**doc, **c.project_home.overview(who, project_id)}  # issue 15: counts of what it holds


@router.put("/projects/<project_id>/members/<user_id>", tags=["projects"], summary="Add a member or change a role")
def set_member(project_id: str, user_id: str, body: schemas.SetMember) -> dict[str, Any]:
    c = container()  # a member may be named by e-mail (resolved to the user id / Cognito sub)
    return c.library.set_member(caller(router), project_id, c.users.resolve(user_id), body.role)


@router.delete("/projects/<project_id>/members/<user_id>", tags=["projects"])
def remove_member(project_id: str, user_id: str) -> dict[str, Any]:
    c = container()
    return c.library.remove_member(caller(router), project_id, c.users.resolve(user_id))
