"""The refusals of the recorded duties (完成情况), each declared once (see
:class:`app.core.errors.Problem`)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from app.core.errors import Problem


class CompletedByRecords(Problem):
    code = "completed_by_records"

    def __init__(self, title: str, derived: str) -> None:
        super().__init__(
            f"{title} completes itself from what the service records: {derived}.", field="kind"
        )


class PeriodUnknown(Problem):
    code = "period_unknown"

    def __init__(self, title: str, known: Iterable[str]) -> None:
        super().__init__(f"{title} has the periods {', '.join(sorted(known))}.", field="period")


class PeriodNotBegun(Problem):
    code = "period_not_begun"

    def __init__(self, period: str) -> None:
        super().__init__(f"{period} has not begun.", field="period")


class AlreadyCompleted(Problem):
    code = "already_completed"

    def __init__(self, title: str, period: str, done: datetime) -> None:
        super().__init__(f"{title} {period} was recorded done at {done.isoformat()}.")
