"""What was sent to the national system, and what it answered."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, UTCDateTime


class ExportBatch(Base):
    """One completed national export: the log range it covers and the body it sent
    (append-only)."""

    __tablename__ = "national_export_batch"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    after_index: Mapped[int] = mapped_column(BigInteger)
    """Changes after this log index…"""
    to_index: Mapped[int] = mapped_column(BigInteger)
    """…and before this one (the log's size when the export began)."""
    format: Mapped[str] = mapped_column(String(8))
    encoding: Mapped[str] = mapped_column(String(16))
    cases: Mapped[int] = mapped_column(Integer)
    rows: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    """Of the body exactly as sent."""
    created_by: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class NationalSync(Base):
    """Where a case stands with the national system."""

    __tablename__ = "national_sync"

    case_id: Mapped[str] = mapped_column(ForeignKey("monitoring_case.id"), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    """``exported`` (awaiting an answer), ``accepted`` or ``rejected``."""
    batch_id: Mapped[str] = mapped_column(String(36), index=True)
    exported_version: Mapped[int] = mapped_column(Integer)
    """The case's version when it was last sent."""
    exported_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reason: Mapped[str | None] = mapped_column(String(2000))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))
