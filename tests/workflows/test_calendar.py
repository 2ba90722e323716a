from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from workflows.calendar import add_months, after_full_days, after_months, local_date


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2026, 8, 31), 6, date(2027, 2, 28)),
        (date(2027, 8, 31), 6, date(2028, 2, 29)),
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2026, 3, 15), 12, date(2027, 3, 15)),
        (date(2026, 11, 30), 3, date(2027, 2, 28)),
    ],
)
def test_add_months_clamps_to_month_end(day: date, months: int, expected: date) -> None:
    assert add_months(day, months) == expected


def test_days_count_in_shanghai_not_utc() -> None:
    # 2026-03-01 17:00 UTC is already 2026-03-02 01:00 in Shanghai
    late_utc = datetime(2026, 3, 1, 17, 0, tzinfo=UTC)
    assert local_date(late_utc) == date(2026, 3, 2)
    # published on Shanghai date 03-02, 5 days: 03-03..03-07, may leave from 03-08 00:00 Shanghai
    assert after_full_days(late_utc, 5) == datetime(2026, 3, 7, 16, 0, tzinfo=UTC)


def test_after_months_is_start_of_the_local_day() -> None:
    confirmed = datetime(2026, 8, 30, 17, 0, tzinfo=UTC)  # 2026-08-31 01:00 Shanghai
    assert after_months(confirmed, 6) == datetime(2027, 2, 27, 16, 0, tzinfo=UTC)
