"""The intake's rows: a declaration's receipt, written with the case it opened or reported on."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table

from app.core.direct import DirectInsert
from app.intake.models import IntakeReceipt

_RECEIPT = DirectInsert(cast(Table, IntakeReceipt.__table__))
"""Compiled once: every declaration writes one."""


def receipt(
    tracking_number: str, case_id: str, received_at: datetime
) -> tuple[DirectInsert, dict[str, Any]]:
    """A declaration's receipt as a row the opening writes with its case
    (``app.cases.opening.open_case``'s ``with_case``)."""
    return _RECEIPT, {
        "tracking_number": tracking_number,
        "case_id": case_id,
        "received_at": received_at,
    }
