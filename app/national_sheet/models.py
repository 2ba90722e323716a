"""The city's corrections of the national code lists (:mod:`app.national_sheet.corrections`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, JsonDocument, UTCDateTime, append_only


@append_only
class CodeListCorrection(Base):
    """The city's correction of the national code lists (app.national_sheet.corrections): the lists
    as they stand after it, whole. Written once; the newest on this release's lists applies."""

    __tablename__ = "code_list_correction"

    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    base_version: Mapped[str] = mapped_column(String(16))
    """The release's lists it corrects (``2022.1``); a release with other lists starts anew."""
    lists: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    changed: Mapped[list[str]] = mapped_column(JsonDocument)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(2000))
