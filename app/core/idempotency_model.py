"""Stored answers for ``Idempotency-Key`` retries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, JsonDocument, UTCDateTime


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_record"

    subject: Mapped[str] = mapped_column(String(200), primary_key=True)
    method: Mapped[str] = mapped_column(String(8), primary_key=True)
    path: Mapped[str] = mapped_column(String(500), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    status_code: Mapped[int | None] = mapped_column(Integer)
    """None while the first request is still running."""
    response_headers: Mapped[dict[str, Any] | None] = mapped_column(JsonDocument)
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)
