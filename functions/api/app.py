"""The one API resolver: routers, OpenAPI + Swagger UI, error mapping. No I/O at import.

The OpenAPI document (``/openapi.json``, and ``/swagger?format=json`` behind the Swagger UI)
declares a bearer security scheme - on AWS the Cognito ID token, locally the API token that
``tlm serve`` writes - so Swagger's "Authorize" then "Try it out" works; every route's status
codes and read models come from ``functions.api.openapi``.
"""

from __future__ import annotations

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

from functions.api import errors, openapi
from functions.api.read_models import RESPONSES
from functions.api.routers import (
    compiles,
    configs,
    datasets,
    health,
    jobs,
    leaderboard,
    models,
    projects,
    runs,
    trainings,
    uploads,
)
from functions.api.routers import limits as limits_router
from functions.api.routers import pipeline_triggers as pipeline_triggers_router
from functions.api.routers import pipelines as pipelines_router
from functions.api.routers import project_home as project_home_router
from functions.api.routers import releases as releases_router
from functions.api.routers import studies as studies_router

TITLE, VERSION = "TLM API", "0.1.0"
DESCRIPTION = "TLM model lifecycle platform. Authorize with a bearer token (`tlm serve` prints where it is)."
SECURITY_SCHEMES = {
    "bearer": HTTPBearer(description="Cognito ID token on AWS; the local API token with `tlm serve`"),
}
SECURITY = [{"bearer": []}]

app = APIGatewayRestResolver(enable_validation=True)
for r in (
    health.router,
    projects.router,
    models.router,
    uploads.router,
    configs.router,
    jobs.router,
    compiles.router,
    runs.router,
):
    app.include_router(r)
for r in (datasets.router, trainings.router, leaderboard.router):
    app.include_router(r)
app.include_router(limits_router.router)  # issue 11: per-project limits
app.include_router(pipelines_router.router)  # issue 15: pipelines
app.include_router(pipeline_triggers_router.router)  # issue 15: pipeline triggers
app.include_router(project_home_router.router)  # issue 15: project activity, members, archive
app.include_router(releases_router.router)  # issue 14: the release center
app.include_router(studies_router.router)  # issue 13: hyperparameter search
errors.install(app)


@app.get("/openapi.json", include_in_schema=False)
def openapi_document() -> Response[str]:
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=openapi_json())


openapi.declare(app, RESPONSES)
app.enable_swagger(
    path="/swagger", title=TITLE, version=VERSION, description=DESCRIPTION,
    security_schemes=SECURITY_SCHEMES, security=SECURITY, persist_authorization=True,
)  # fmt: skip
_document: str | None = None


def openapi_json() -> str:
    global _document
    if _document is None:  # built once per process (the routes do not change)
        _document = app.get_openapi_json_schema(
            title=TITLE, version=VERSION, description=DESCRIPTION, security_schemes=SECURITY_SCHEMES,
            security=SECURITY,
        )  # fmt: skip
    return _document
