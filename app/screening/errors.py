"""The refusals of screening (排查): rounds, campaigns and visits, each declared once (see
:class:`app.core.errors.Problem`)."""

from __future__ import annotations

from datetime import date

from app.core.errors import Problem


class UnknownAreas(Problem):
    code = "unknown_area"

    def __init__(self, areas: list[str]) -> None:
        super().__init__("No such area: " + ", ".join(areas), field="area_codes", areas=areas)


class AreasOutside(Problem):
    code = "area_forbidden"

    def __init__(self, areas: list[str]) -> None:
        super().__init__("Outside your area: " + ", ".join(areas), areas=areas)


class AreasNested(Problem):
    code = "area_nested"

    def __init__(self, areas: list[str]) -> None:
        super().__init__(
            "Already inside another area of the list: " + ", ".join(areas),
            field="area_codes",
            areas=areas,
        )


class RoundNotFound(Problem):
    code = "round_not_found"

    def __init__(self) -> None:
        super().__init__("No such screening round in your area.")


class VisitInFuture(Problem):
    code = "visit_in_future"

    def __init__(self) -> None:
        super().__init__("A visit is recorded once it took place.", field="visited_on")


class FindingWithoutNote(Problem):
    code = "note_missing"

    def __init__(self) -> None:
        super().__init__("A finding says what was found.", field="note")


class FindingWithoutRisk(Problem):
    code = "risk_type_missing"

    def __init__(self) -> None:
        super().__init__("A finding names the risk it found (SPEC §3).", field="risk_type")


class HouseholdNotVisible(Problem):
    code = "household_not_found"

    def __init__(self) -> None:
        super().__init__("No such household in your area.")


class HouseholdNotInScope(Problem):
    code = "household_not_in_scope"

    def __init__(self) -> None:
        super().__init__("The household is not in this round's scope.", field="household_id")


class AlreadyScreened(Problem):
    code = "already_screened"

    def __init__(self) -> None:
        super().__init__("This household's result in the round is already recorded.")


class VisitOutsideRound(Problem):
    code = "visit_outside_round"

    def __init__(self, starts_on: date, until: object) -> None:
        super().__init__(f"The round runs from {starts_on} to {until}.", field="visited_on")


class ConcurrentVisit(Problem):
    """409: a concurrent visit or report of the household came first."""

    code = "concurrent_change"

    def __init__(self) -> None:
        super().__init__("Another record of this household came first; look again.")


class CampaignOver(Problem):
    code = "campaign_over"

    def __init__(self, period: str) -> None:
        super().__init__(f"The {period} campaign's month is over.", field="period")


class CampaignExists(Problem):
    code = "campaign_exists"

    def __init__(self, period: str, round_id: str) -> None:
        super().__init__(
            f"A {period} campaign already covers some of these areas.", round_id=round_id
        )


class LedgerPeriodReversed(Problem):
    code = "period_reversed"

    def __init__(self) -> None:
        super().__init__("`to` is before `from`.", field="to")
