"""The refusals of the demonstration's token door, declared once (see
:class:`app.core.errors.Problem`)."""

from __future__ import annotations

from app.core.errors import Problem


class DemoUserNotFound(Problem):
    code = "demo_user_not_found"

    def __init__(self, user: str) -> None:
        super().__init__(f"No demo user {user!r}.")
