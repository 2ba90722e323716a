"""Department data snapshots for the data comparison (数据比对)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, JsonDocument, UTCDateTime


class DepartmentSnapshot(Base):
    """One upload of a dataset; the newest snapshot of each dataset is the one compared."""

    __tablename__ = "department_snapshot"
    __table_args__ = (Index("ix_department_snapshot_latest", "dataset", "imported_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    dataset: Mapped[str] = mapped_column(String(64))
    department: Mapped[str] = mapped_column(String(64))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime())
    imported_by: Mapped[str] = mapped_column(String(200))
    row_count: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    """Of the upload's canonical JSON: the same upload twice is one snapshot."""


class DepartmentRecord(Base):
    """One person's record in a snapshot, found by the keyed digest of the ID number."""

    __tablename__ = "department_record"
    __table_args__ = (Index("ix_department_record_lookup", "id_digest", "snapshot_id"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    snapshot_id: Mapped[str] = mapped_column(ForeignKey("department_snapshot.id"))
    dataset: Mapped[str] = mapped_column(String(64))
    id_digest: Mapped[str] = mapped_column(String(64))
    id_masked: Mapped[str] = mapped_column(String(18))
    attributes: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
