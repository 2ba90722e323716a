"""Quarters and their due times, in Asia/Shanghai: a quarter's list is due by its last day."""

from __future__ import annotations

import re
from datetime import date, datetime

from workflows.calendar import local_date, start_of_local_day

QUARTER = re.compile(r"^([1-9]\d{3})-Q([1-4])$")


def of(instant: datetime) -> str:
    day = local_date(instant)
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def late_from(quarter: str) -> datetime:
    """00:00 Asia/Shanghai on the first day of the next quarter: late from then on."""
    found = QUARTER.match(quarter)
    if found is None:
        raise ValueError(f"not a quarter: {quarter!r}")
    year, number = int(found.group(1)), int(found.group(2))
    first = date(year + 1, 1, 1) if number == 4 else date(year, 3 * number + 1, 1)
    return start_of_local_day(first)
