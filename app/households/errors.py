"""The refusals of the household registry, each declared once (see
:class:`app.core.errors.Problem`)."""

from __future__ import annotations

from typing import Any

from app.core.errors import Problem


class HouseholdNotFound(Problem):
    """404: no such household in the caller's area."""

    code = "household_not_found"

    def __init__(self, household_id: str) -> None:
        super().__init__(f"No household {household_id} in your area.")


class MemberNotFound(Problem):
    code = "member_not_found"

    def __init__(self, member_id: str) -> None:
        super().__init__(f"No member {member_id} in this household.")


class VillageOutsideArea(Problem):
    code = "area_forbidden"

    def __init__(self, village_code: str) -> None:
        super().__init__(f"The village {village_code} is outside your area.")


class UnknownVillage(Problem):
    code = "unknown_village"

    def __init__(self, village_code: str) -> None:
        super().__init__(f"{village_code} is not a known village code.", field="village_code")


class HouseholdExists(Problem):
    """409: the head is registered already; the household is named when it is in the caller's
    area (``known``)."""

    code = "household_exists"

    def __init__(self, **known: Any) -> None:
        super().__init__("This person is already registered in a household.", **known)


class MemberAlreadyRegistered(Problem):
    code = "member_already_registered"

    def __init__(self, *, head: bool = False) -> None:
        super().__init__(
            "The head is already a member of a household."
            if head
            else "This person is already a member of a household."
        )


class MemberInconsistent(Problem):
    """422: the member contradicts itself or its household, every reason listed."""

    code = "member_inconsistent"

    def __init__(self, found: list[dict[str, str]]) -> None:
        names = ", ".join(p["field"] for p in found)
        super().__init__(f"The member cannot be recorded: {names}.", errors=found)
