"""The recurring duties of the policy (SPEC §5), with their periods and due times.

* concentrated screening (集中排查) by each township, in April and in October: done when the
  campaign of that month over the township has every household's result;
* the township's warning list, each quarter: done by its submission;
* the elimination assessment (风险消除评估) of each township's monitored households, each half
  year: done when the city opens an elimination round over the township;
* township studies (乡镇研判) each half year;
* department studies (部门研判) each half year;
* department scale-risk assessments (规模性风险评估) each year.

The first three complete themselves from what the service records (``derived``); the others
are recorded once, with the evidence (the minutes' SHA-256). A duty is due by the last day of
its period, in Asia/Shanghai, and overdue from 00:00 on the day after.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from workflows.calendar import start_of_local_day

DEPARTMENTS = (
    "education",
    "housing",
    "health",
    "medical_insurance",
    "water",
    "civil_affairs",
    "agriculture",
    "emergency",
    "disabled_federation",
    "human_resources",
)
"""The sector departments of GLOSSARY.md."""


@dataclass(frozen=True)
class Duty:
    kind: str
    title: str
    party: str
    """``township`` or ``department``."""
    periods: str
    """``screening months``, ``quarter``, ``half`` or ``year``."""
    derived_from: str | None = None
    """What completes it, when the service records it (no completion is recorded by hand)."""


DUTIES = (
    Duty(
        "concentrated_screening",
        "集中排查",
        "township",
        "screening months",
        "the campaign of the month over the township, every household's result recorded",
    ),
    Duty(
        "township_warning_list",
        "乡镇预警名单报送",
        "township",
        "quarter",
        "the township's warning list for the quarter (POST /api/v1/warning-lists)",
    ),
    Duty(
        "elimination_assessment",
        "风险消除评估",
        "township",
        "half",
        "an elimination round over the township (POST /api/v1/elimination-rounds)",
    ),
    Duty("township_study", "乡镇研判", "township", "half"),
    Duty("department_study", "部门研判", "department", "half"),
    Duty("department_risk_assessment", "规模性风险评估", "department", "year"),
)
BY_KIND = {duty.kind: duty for duty in DUTIES}


def periods(duty: Duty, year: int) -> list[tuple[str, date, date]]:
    """``(period, first day, day after the last)`` of a duty's periods in ``year``."""
    if duty.periods == "screening months":
        return [(f"{year}-{m:02d}", date(year, m, 1), date(year, m + 1, 1)) for m in (4, 10)]
    if duty.periods == "quarter":
        return [
            (
                f"{year}-Q{q}",
                date(year, 3 * q - 2, 1),
                date(year + 1, 1, 1) if q == 4 else date(year, 3 * q + 1, 1),
            )
            for q in range(1, 5)
        ]
    if duty.periods == "half":
        return [
            (f"{year}-H1", date(year, 1, 1), date(year, 7, 1)),
            (f"{year}-H2", date(year, 7, 1), date(year + 1, 1, 1)),
        ]
    return [(str(year), date(year, 1, 1), date(year + 1, 1, 1))]


def covers(area_code: str, township: str) -> bool:
    """An area (the city, the township, or a village of it) meets the township."""
    return township.startswith(area_code) or area_code.startswith(township)


def overdue_from(day_after: date) -> datetime:
    return start_of_local_day(day_after)
