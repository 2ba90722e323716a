"""The workflow definition, for frontends and auditors."""

from __future__ import annotations

from typing import Any, Literal

from fastapi.responses import PlainTextResponse, Response

from app.auth.dependencies import CurrentPrincipal
from app.auth.permissions import permit
from app.core.errors import declares
from app.core.routing import api_router
from app.workflow_api.errors import WorkflowNotFound
from workflows.case import CURRENT, workflow
from workflows.permissions import Permission
from workflows.permissions import document as permission_table
from workflows.rules import RULES

router = api_router(prefix="/api/v1/workflows", tags=["workflows"])


@router.get(
    "/case",
    response_model=None,
    responses={
        200: {
            "description": "The definition, or its diagram with ``format=mermaid``.",
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "text/vnd.mermaid": {"schema": {"type": "string"}},
            },
        },
        **declares(404),
    },
)
async def case_workflow(
    principal: CurrentPrincipal,
    format: Literal["json", "mermaid"] = "json",
    version: str | None = None,
) -> dict[str, Any] | Response:
    """States, actions, who may fire them and their rule codes; ``format=mermaid`` draws it."""
    permit(principal, Permission.workflow_read)
    try:
        flow = workflow(version) if version else CURRENT
    except LookupError:
        raise WorkflowNotFound(version) from None
    if format == "mermaid":
        return PlainTextResponse(flow.mermaid(), media_type="text/vnd.mermaid")
    return {
        **flow.describe(),
        "rules": [{"name": rule.name, "codes": list(rule.codes)} for rule in RULES.values()],
    }


@router.get("/permissions", response_model=dict[str, list[str]])
async def permissions(principal: CurrentPrincipal) -> dict[str, list[str]]:
    """Who may do what outside the case workflow (whose own table is ``/workflows/case``):
    each permission a route asks for, with the roles that hold it."""
    permit(principal, Permission.workflow_read)
    return permission_table()
