"""Department warning batches (部门筛查预警): what a sector department, or the city for media
and petition (信访) signals, sends; every row as validated; the city's disposition of each
accepted warning. All three tables are only inserted."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Date,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, JsonDocument, UTCDateTime, append_only, sealed


@append_only
class WarningBatch(Base):
    __tablename__ = "warning_batch"
    __table_args__ = (
        UniqueConstraint("area_code", "sender", "sha256", name="uq_warning_batch_sha256"),
        UniqueConstraint("area_code", "sender", "reference", name="uq_warning_batch_reference"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    source: Mapped[str] = mapped_column(String(16))
    """``department``, ``media`` or ``petition``."""
    sender: Mapped[str] = mapped_column(String(64))
    """The department's identifier (``civil_affairs``), or ``media`` / ``petition``."""
    area_code: Mapped[str] = mapped_column(String(12))
    """The sender's area (the city): its villages are the ones rows may name, and only
    callers within it see the batch."""
    reference: Mapped[str | None] = mapped_column(String(64))
    """The sender's own batch number, if it gives one."""
    format: Mapped[str] = mapped_column(String(8))
    encoding: Mapped[str | None] = mapped_column(String(16))
    filename: Mapped[str | None] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    """Of the bytes uploaded: the same file again is the same batch."""
    uploaded_by: Mapped[str] = mapped_column(String(200))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime())


@append_only
@sealed(("id_number_encrypted", "id_number"), key=None)  # bound to "batch:line"
class DepartmentWarning(Base):
    """One row of a batch, accepted or rejected with its reasons (an accepted row's are notes)."""

    __tablename__ = "department_warning"
    __table_args__ = (
        # one accepted warning per person and risk in a batch: a repeated row is rejected
        Index(
            "uq_department_warning_accepted",
            "batch_id",
            "id_digest",
            "risk_type",
            unique=True,
            postgresql_where=text("status = 'accepted'"),
            sqlite_where=text("status = 'accepted'"),
        ),
    )

    batch_id: Mapped[str] = mapped_column(ForeignKey("warning_batch.id"), primary_key=True)
    line: Mapped[int] = mapped_column(Integer, primary_key=True)
    """The row's line in the file (the header is line 1; in JSON, the item's position + 1)."""
    status: Mapped[str] = mapped_column(String(8))
    reasons: Mapped[list[dict[str, Any]] | None] = mapped_column(JsonDocument)
    name: Mapped[str | None] = mapped_column(String(100))
    id_masked: Mapped[str | None] = mapped_column(String(18))
    id_digest: Mapped[str | None] = mapped_column(String(64))
    id_number_encrypted: Mapped[str | None] = mapped_column(Text)
    """Accepted rows only: the household is registered from it when the city distributes."""
    village_code: Mapped[str | None] = mapped_column(String(12))
    risk_type: Mapped[str | None] = mapped_column(String(32))
    description: Mapped[str | None] = mapped_column(String(2000))
    flagged_on: Mapped[date | None] = mapped_column(Date)
    household_id: Mapped[str | None] = mapped_column(String(36))
    """The registered household the person belongs to, found at upload."""
    case_id: Mapped[str | None] = mapped_column(String(36))
    """The household's open case at upload."""


@append_only
class WarningDisposition(Base):
    """The city's classification of one accepted warning: distributed to the township (a
    ``department_flagged`` case, or a report to the open case), or dismissed with a reason."""

    __tablename__ = "warning_disposition"
    __table_args__ = (
        ForeignKeyConstraint(
            ["batch_id", "line"], ["department_warning.batch_id", "department_warning.line"]
        ),
    )

    batch_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    line: Mapped[int] = mapped_column(Integer, primary_key=True)
    decision: Mapped[str] = mapped_column(String(12))
    """``distributed`` or ``dismissed``."""
    risk_type: Mapped[str | None] = mapped_column(String(32))
    """As the city classified it."""
    township_code: Mapped[str | None] = mapped_column(String(9))
    reason: Mapped[str | None] = mapped_column(String(2000))
    case_id: Mapped[str | None] = mapped_column(ForeignKey("monitoring_case.id"), index=True)
    attached: Mapped[bool | None]
    """True when the warning was reported to the household's open case."""
    decided_by: Mapped[str] = mapped_column(String(200))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime())
