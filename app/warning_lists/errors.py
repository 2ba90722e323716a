"""The refusals of the townships' quarterly warning lists, each declared once (see
:class:`app.core.errors.Problem`)."""

from __future__ import annotations

from app.core.errors import Problem


class NotATownship(Problem):
    code = "area_forbidden"

    def __init__(self) -> None:
        super().__init__("A warning list is a township's: your area is not one.")


class QuarterInFuture(Problem):
    code = "quarter_in_future"

    def __init__(self, quarter: str) -> None:
        super().__init__(f"{quarter} has not begun.", field="quarter")


class UnknownVillages(Problem):
    code = "unknown_village"

    def __init__(self, villages: list[str]) -> None:
        super().__init__(
            "No such village: " + ", ".join(villages), field="entries", villages=villages
        )


class VillagesOutside(Problem):
    code = "area_forbidden"

    def __init__(self, villages: list[str]) -> None:
        super().__init__(
            "Villages outside your township: " + ", ".join(villages), villages=villages
        )


class EntryNotFound(Problem):
    code = "entry_not_found"

    def __init__(self) -> None:
        super().__init__("No such entry in your area.")


class EntryNotLinked(Problem):
    code = "entry_not_linked"

    def __init__(self) -> None:
        super().__init__(
            "The entry names no registered household: link it (the township submits the list "
            "again) or open the case with the household's data."
        )
