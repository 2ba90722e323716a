"""The refusals of the published workflow definitions, declared once (see
:class:`app.core.errors.Problem`)."""

from __future__ import annotations

from app.core.errors import Problem


class WorkflowNotFound(Problem):
    code = "workflow_not_found"

    def __init__(self, version: str | None) -> None:
        super().__init__(f"No workflow version {version!r}.")
