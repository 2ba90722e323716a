"""Completion records of the recurring duties (append-only)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, UTCDateTime, append_only


@append_only
class Completion(Base):
    __tablename__ = "obligation_completion"
    __table_args__ = (Index("ix_obligation_completion_kind_period", "kind", "period"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    period: Mapped[str] = mapped_column(String(8))
    """``2026-04`` (a month), ``2026-H1`` (a half year) or ``2026`` (a year)."""
    party: Mapped[str] = mapped_column(String(40))
    """A township's area code, or a department's identifier."""
    note: Mapped[str | None] = mapped_column(String(2000))
    evidence_sha256: Mapped[str | None] = mapped_column(String(64))
    completed_by: Mapped[str] = mapped_column(String(200))
    completed_at: Mapped[datetime] = mapped_column(UTCDateTime())
