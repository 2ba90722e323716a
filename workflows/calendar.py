"""Calendar arithmetic for time rules, counted in Asia/Shanghai as the policy does."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local_date(instant: datetime) -> date:
    """The Asia/Shanghai calendar date of an aware instant."""
    return instant.astimezone(SHANGHAI).date()


def start_of_local_day(day: date) -> datetime:
    """00:00 Asia/Shanghai on ``day``, as an aware UTC instant."""
    return datetime.combine(day, time(0, 0), tzinfo=SHANGHAI).astimezone(UTC)


def add_months(day: date, months: int) -> date:
    """Calendar months from ``day``, clamped to the month's end (Aug 31 + 6 = Feb 28/29)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def after_full_days(instant: datetime, days: int) -> datetime:
    """When a period of ``days`` full days starting the day after ``instant`` has run.

    A notice published on date D runs D+1 … D+N and may be left from 00:00 on D+N+1; a case
    first reported on D with an N-day limit is overdue from 00:00 on D+N+1.
    """
    return start_of_local_day(local_date(instant) + timedelta(days=days + 1))


def after_months(instant: datetime, months: int) -> datetime:
    """00:00 Asia/Shanghai on the date ``months`` calendar months after ``instant``'s date."""
    return start_of_local_day(add_months(local_date(instant), months))
