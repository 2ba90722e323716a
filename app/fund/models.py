"""The monitoring assistance fund (防返贫监测帮扶资金): requests, the ledger, a year's total."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, UTCDateTime, append_only


class FundYear(Base):
    """What a year has spent, kept in step with its ledger by every approval and reversal.

    Approval is one conditional UPDATE (spent + amount <= budget), so no two approvals can
    both take the last of the budget, however many run at once.
    """

    __tablename__ = "fund_year"

    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    spent_fen: Mapped[int] = mapped_column(BigInteger)


class Disbursement(Base):
    __tablename__ = "fund_disbursement"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("monitoring_case.id"), index=True)
    area_code: Mapped[str] = mapped_column(String(12), index=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    purpose: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(16), index=True)
    """requested, approved, rejected or reversed."""
    year: Mapped[int | None] = mapped_column(Integer)
    requested_by: Mapped[str] = mapped_column(String(200))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decision_reason: Mapped[str | None] = mapped_column(String(2000))


@append_only
class LedgerEntry(Base):
    """One line of the fund's ledger; never changed. A correction is a reversal entry."""

    __tablename__ = "fund_ledger_entry"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    year: Mapped[int] = mapped_column(Integer, index=True)
    disbursement_id: Mapped[str] = mapped_column(ForeignKey("fund_disbursement.id"))
    area_code: Mapped[str] = mapped_column(String(12))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    """Positive for money paid out, negative for a reversal."""
    kind: Mapped[str] = mapped_column(String(16))
    reverses_entry_id: Mapped[int | None] = mapped_column(BigInteger)
    created_by: Mapped[str] = mapped_column(String(200))
    created_by_name: Mapped[str | None] = mapped_column(String(100))
    """经办人 by name, as their token gave it."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    note: Mapped[str] = mapped_column(String(2000))
