"""Screening (排查): rounds of screening work, the households each covers, and the visits.

A *round* is either a concentrated screening campaign (集中排查) the city opens for April or
October over chosen areas, or the screening a regional risk alert (区域性风险预警) calls for. At
opening, every household registered in the round's areas becomes one task of it, and so does
every household registered there later while the round runs (``app.screening.scope``). A *visit*
records what a cadre found at one household: routinely (no round) or as the household's result
in a round. Rounds, tasks and visits are only inserted.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, JsonDocument, UTCDateTime, append_only


@append_only
class ScreeningRound(Base):
    __tablename__ = "screening_round"
    __table_args__ = (Index("ix_screening_round_kind_starts", "kind", "starts_on"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    """``campaign`` or ``regional_alert``."""
    title: Mapped[str] = mapped_column(String(200))
    period: Mapped[str | None] = mapped_column(String(7))
    """A campaign's month, ``2027-04`` or ``2027-10``."""
    cause: Mapped[str | None] = mapped_column(String(40))
    """An alert's regional risk (``RegionalRisk``)."""
    description: Mapped[str | None] = mapped_column(Text)
    area_codes: Mapped[list[str]] = mapped_column(JsonDocument)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    """The last day a visit of the round may be dated (none: until further notice)."""
    opened_by: Mapped[str] = mapped_column(String(200))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())


@append_only
class ScreeningTask(Base):
    """One household in a round's scope: the work a village must record a result for."""

    __tablename__ = "screening_task"
    __table_args__ = (Index("ix_screening_task_round_village", "round_id", "village_code"),)

    round_id: Mapped[str] = mapped_column(ForeignKey("screening_round.id"), primary_key=True)
    household_id: Mapped[str] = mapped_column(ForeignKey("household.id"), primary_key=True)
    village_code: Mapped[str] = mapped_column(String(12))


@append_only
class ScreeningVisit(Base):
    """排查走访台账: one visit to one household, and what it found."""

    __tablename__ = "screening_visit"
    __table_args__ = (
        UniqueConstraint("round_id", "household_id", name="uq_screening_visit_round_household"),
        Index("ix_screening_visit_village_date", "village_code", "visited_on"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    household_id: Mapped[str] = mapped_column(ForeignKey("household.id"), index=True)
    village_code: Mapped[str] = mapped_column(String(12))
    round_id: Mapped[str | None] = mapped_column(ForeignKey("screening_round.id"))
    """None for a routine visit; a round takes one result per household."""
    visited_on: Mapped[date] = mapped_column(Date)
    result: Mapped[str] = mapped_column(String(16))
    risk_type: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(String(2000))
    case_id: Mapped[str | None] = mapped_column(ForeignKey("monitoring_case.id"), index=True)
    """The case a finding opened, or the open case it was reported to."""
    visited_by: Mapped[str] = mapped_column(String(200))
    visited_by_name: Mapped[str | None] = mapped_column(String(100))
    """The visitor's name as their token gave it (走访人)."""
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
