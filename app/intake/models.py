"""Receipts for 12317 self-declarations: the number a household quotes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, UTCDateTime


class IntakeReceipt(Base):
    __tablename__ = "intake_receipt"

    tracking_number: Mapped[str] = mapped_column(String(24), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("monitoring_case.id"), index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
