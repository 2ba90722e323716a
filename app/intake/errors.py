"""The refusals of the 12317 intake, each declared once (see
:class:`app.core.errors.Problem`)."""

from __future__ import annotations

from app.core.errors import Problem


class DeclarationNotFound(Problem):
    code = "declaration_not_found"

    def __init__(self) -> None:
        super().__init__("No declaration has this number.")
