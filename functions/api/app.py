"""The one API resolver: routers, OpenAPI + Swagger UI, error mapping. No I/O at import."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from functions.api import errors
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

app = APIGatewayRestResolver(enable_validation=True)
for r in (
    health.router, projects.router, models.router, uploads.router, configs.router, jobs.router, compiles.router,
    runs.router,
):
    app.include_router(r)
for r in (datasets.router, trainings.router, leaderboard.router):
    app.include_router(r)
errors.install(app)
app.enable_swagger(path="/swagger", title="TLM API", version="0.1.0", description="TLM model lifecycle platform")


def openapi_json() -> str:
    return app.get_openapi_json_schema(title="TLM API", version="0.1.0")
