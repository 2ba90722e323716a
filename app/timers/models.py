"""Durable timers: due work kept in the database, so a restart loses none."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, UTCDateTime


class Timer(Base):
    __tablename__ = "timer"
    __table_args__ = (
        # The worker's query: due timers that have not fired, oldest first.
        Index(
            "ix_timer_due",
            "due_at",
            postgresql_where=text("fired_at IS NULL"),
            sqlite_where=text("fired_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    case_id: Mapped[str] = mapped_column(ForeignKey("monitoring_case.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    """``notice_end`` (move the case on) or ``identification_deadline`` (escalate)."""
    procedure: Mapped[str | None] = mapped_column(String(16))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    fired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[str | None] = mapped_column(String(200))
    """What firing did: ``moved``, ``escalated``, ``skipped: …`` or ``refused: <codes>``."""
