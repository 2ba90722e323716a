"""Households (户), the unit a case is about."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, UTCDateTime


class Household(Base):
    __tablename__ = "household"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    village_code: Mapped[str] = mapped_column(ForeignKey("area.code"), index=True)
    head_name: Mapped[str] = mapped_column(String(100))
    head_id_number: Mapped[str] = mapped_column(String(18))
    """Plain for now; application-level encryption is the access-control work's to add."""
    head_id_digest: Mapped[str] = mapped_column(String(64), unique=True)
    """HMAC of the head's ID number: finds the household again on a second report."""
    phone: Mapped[str | None] = mapped_column(String(20))
    size: Mapped[int]
    household_number: Mapped[str | None] = mapped_column(String(32))
    """户编号 in the national system, once known."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
