"""The refusals of policy versions, each declared once (see :class:`app.core.errors.Problem`)."""

from __future__ import annotations

from app.core.errors import Problem


class NoPolicyInEffect(Problem):
    code = "no_policy_in_effect"

    def __init__(self) -> None:
        super().__init__("No policy version is in effect on this date.")


class EffectiveDateInPast(Problem):
    code = "effective_date_in_past"

    def __init__(self) -> None:
        super().__init__(
            "A policy change takes effect today or later; decisions taken stay as they were.",
            field="effective_from",
        )


class PolicyVersionExists(Problem):
    code = "policy_version_exists"

    def __init__(self, version: str) -> None:
        super().__init__(f"A version {version} exists already.")


class PolicyNotFound(Problem):
    code = "policy_not_found"

    def __init__(self, version: str) -> None:
        super().__init__(f"No policy version {version!r}.")
