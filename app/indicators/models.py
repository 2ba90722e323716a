"""Warning indicators (预警指标) the city defines, and the regional alerts they propose.

An indicator names a regional risk and a rule: a department's data past a threshold in
enough households of one area, or areas a disaster struck. Evaluating it proposes an alert
per area it finds; the city confirms a proposal (a regional alert opens, its screening work
with it) or dismisses it with a reason. Indicators and proposals are kept; a proposal's
decision is written once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, JsonDocument, UTCDateTime


class WarningIndicator(Base):
    __tablename__ = "warning_indicator"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    cause: Mapped[str] = mapped_column(String(40))
    """The regional risk an alert it proposes names (``RegionalRisk``)."""
    kind: Mapped[str] = mapped_column(String(24))
    """``department_threshold`` or ``disaster_area``."""
    rule: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    """The kind's parameters, as validated at definition."""
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AlertProposal(Base):
    __tablename__ = "alert_proposal"
    __table_args__ = (Index("ix_alert_proposal_indicator_area", "indicator_id", "area_code"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    indicator_id: Mapped[str] = mapped_column(ForeignKey("warning_indicator.id"))
    area_code: Mapped[str] = mapped_column(String(12))
    evidence: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    """What the evaluation found there: households past the threshold, the snapshot read."""
    proposed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(12))
    """``proposed``, ``confirmed`` or ``dismissed``."""
    alert_id: Mapped[str | None] = mapped_column(ForeignKey("screening_round.id"))
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reason: Mapped[str | None] = mapped_column(String(2000))
