"""The refusals of elimination rounds, each declared once (see
:class:`app.core.errors.Problem`)."""

from __future__ import annotations

from app.core.errors import Problem


class EliminationRoundNotFound(Problem):
    code = "round_not_found"

    def __init__(self, round_id: str) -> None:
        super().__init__(f"No elimination round {round_id}.")
