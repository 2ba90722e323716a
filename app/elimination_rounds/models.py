"""Periodic elimination assessment rounds (风险消除评估), opened by the city over an area."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, UTCDateTime


class EliminationRound(Base):
    __tablename__ = "elimination_round"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    area_code: Mapped[str] = mapped_column(String(12), index=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    opened_by: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(2000))
