"""What is sent to the national system, what was sent, and what it answered."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, JsonDocument, UTCDateTime, append_only, sealed


@sealed(("numbers", "numbers"), key="case_id")
class NationalDocument(Base):
    """A confirmed case as the national forms describe it, kept by the write path
    (:mod:`app.exports.document`). Its own narrow table, rows kept whole in the page on
    PostgreSQL (``toast_tuple_target``), so the export reads a million of them in one pass
    without a TOAST lookup per case."""

    __tablename__ = "national_document"
    __table_args__ = (Index("ix_national_document_sheet_version", "sheet_version"),)

    case_id: Mapped[str] = mapped_column(ForeignKey("monitoring_case.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    """The case's version the document describes (the export records it as sent)."""
    area_code: Mapped[str] = mapped_column(String(12))
    """The case's area, so that the export selects from this table alone."""
    document: Mapped[str] = mapped_column(Text)
    """A JSON object as text, fields in the forms' order; each member's 证件号码 holds
    ``#``, replaced by the number as the line goes out."""
    numbers: Mapped[str] = mapped_column(Text)
    """The members' ID numbers in the document's order, sealed together (AES-GCM, bound to
    this row and column)."""
    sheet_version: Mapped[str | None] = mapped_column(String(16))
    """The national sheet's version the document was written under (``app.national_sheet.sheet``);
    none before versions were kept. Older ones are rewritten (``document.refresh``), found by
    an index (:func:`app.exports.document.stale` asks for the ranges either side of the
    current one)."""
    quality: Mapped[str | None] = mapped_column(String(400))
    """The data-quality rules the document breaks on the day it was written, between commas
    (``app.exports.quality``): each export counts them for the cases it carries."""


@append_only
class ExportBatch(Base):
    """One completed national export: the log range it covers and the body it sent
    (append-only)."""

    __tablename__ = "national_export_batch"
    __table_args__ = (Index("uq_national_export_batch_number", "number", unique=True),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    number: Mapped[int] = mapped_column(Integer)
    """1, 2, 3…: exports run one at a time, and this is their order."""
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
    quality: Mapped[dict[str, Any] | None] = mapped_column(JsonDocument)
    """The data-quality rules broken by the cases it carried, each with its number of cases,
    as their documents were flagged when written (none before quality was kept)."""


@append_only
class ExportItem(Base):
    """One case a batch sent, at the version it sent (append-only). Written with the batch,
    in the same transaction; the case's newest item says which batch an answer belongs to.
    Keyed batch first: a batch's items go in past every earlier batch's, and a case is
    looked up batch by batch, newest first (there are few batches)."""

    __tablename__ = "national_export_item"

    batch_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    """``national_export_batch.number`` (the batch row is written when the body is complete,
    after its items, so this is not a foreign key)."""
    case_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)


class NationalSync(Base):
    """The national system's answer about a case, for the batch that last sent it."""

    __tablename__ = "national_sync"

    case_id: Mapped[str] = mapped_column(ForeignKey("monitoring_case.id"), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    """``accepted`` or ``rejected``."""
    batch_id: Mapped[str] = mapped_column(String(36), index=True)
    """The batch answered; a later batch that sends the case again supersedes the answer."""
    reason: Mapped[str | None] = mapped_column(String(2000))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))
