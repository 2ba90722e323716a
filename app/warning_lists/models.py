"""Township warning lists (乡镇预警名单), submitted to the city at least once a quarter."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, JsonDocument, UTCDateTime, append_only


@append_only
class WarningList(Base):
    """One submission; a township may submit again in a quarter, the newest counts. Rows are
    only inserted."""

    __tablename__ = "warning_list"
    __table_args__ = (Index("ix_warning_list_quarter_township", "quarter", "township_code"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    township_code: Mapped[str] = mapped_column(ForeignKey("area.code"))
    quarter: Mapped[str] = mapped_column(String(7))
    """``2026-Q1``."""
    entries: Mapped[list[dict[str, Any]]] = mapped_column(JsonDocument)
    note: Mapped[str | None] = mapped_column(String(2000))
    submitted_by: Mapped[str] = mapped_column(String(200))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime())
