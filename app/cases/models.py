"""The case (one household's path through the mechanism) and its append-only events."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import (
    BigInteger,
    FetchedValue,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, JsonDocument, UTCDateTime, WholeDocument, append_only

SOMETIMES = (
    "monitoring_type",
    "measures_due_at",
    "acceptance_due_at",
    "notice_ends_at",
    "elimination_due_at",
)
"""A case's columns that are empty for most cases most of the time."""


class Case(Base):
    __tablename__ = "monitoring_case"
    __table_args__ = (
        # At most one open case per household, enforced by the database itself.
        Index(
            "uq_case_household_open",
            "household_id",
            unique=True,
            postgresql_where=text("is_open"),
            sqlite_where=text("is_open"),
        ),
        Index("ix_case_list_order", "opened_at", "id"),
        # The inbox: open cases, the nearest deadline first, read in index order.
        Index(
            "ix_case_inbox_order",
            "due_at",
            "opened_at",
            "id",
            postgresql_where=text("is_open"),
            sqlite_where=text("is_open"),
        ),
        # An area's open cases by state, from the index alone (the dashboard's counts).
        Index(
            "ix_case_open_area_state",
            "area_code",
            "workflow_version",
            "state",
            postgresql_ops={"area_code": "varchar_pattern_ops"},
            postgresql_where=text("is_open"),
            sqlite_where=text("is_open"),
        ),
        # The inbox's count: the open cases in the states a role acts in, each state's range
        # narrowed to the caller's area, from the index alone (only the cases counted are read).
        Index(
            "ix_case_open_state_area",
            "state",
            "area_code",
            "workflow_version",
            postgresql_ops={"area_code": "varchar_pattern_ops"},
            postgresql_where=text("is_open"),
            sqlite_where=text("is_open"),
        ),
        # Area scoping is a prefix match; pattern ops let PostgreSQL use the index for it.
        Index(
            "ix_monitoring_case_area_code",
            "area_code",
            postgresql_ops={"area_code": "varchar_pattern_ops"},
        ),
        # What most cases lack at any moment (a deadline, a type before the confirmation) is
        # indexed only where present: a step that moves the case writes no entry into these
        # for it, and every query on them names a value, which implies one (revision 0040).
        *(
            Index(
                f"ix_monitoring_case_{column}",
                column,
                postgresql_where=text(f"{column} IS NOT NULL"),
                sqlite_where=text(f"{column} IS NOT NULL"),
            )
            for column in SOMETIMES
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    household_id: Mapped[str] = mapped_column(ForeignKey("household.id"), index=True)
    area_code: Mapped[str] = mapped_column(String(12))
    """The household's village code; area scoping matches its prefix."""
    channel: Mapped[str] = mapped_column(String(32), index=True)
    state: Mapped[str] = mapped_column(String(48), index=True)
    version: Mapped[int] = mapped_column(Integer)
    """Bumped by every event; equals the newest event's ``seq``."""
    workflow_version: Mapped[str] = mapped_column(String(32))
    policy_version: Mapped[str] = mapped_column(String(32))
    is_open: Mapped[bool] = mapped_column(index=True)
    monitoring_type: Mapped[str | None] = mapped_column(String(32))
    facts: Mapped[dict[str, Any]] = mapped_column(WholeDocument)
    """The fold of the case's events by its workflow's reducer (``workflows.facts.evolve``);
    replay recomputes it."""
    last_hash: Mapped[str] = mapped_column(String(64))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    identification_due_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    """00:00 Asia/Shanghai on the day after the identification limit ends."""
    measures_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """When a confirmed case without any planned measure becomes late (措施落实时限)."""
    acceptance_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """A 12317 self-declaration still waiting for the village is late from this moment."""
    notice_ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """While a public notice runs (识别 or 风险消除公示): when the case may leave it."""
    elimination_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """An assisted (or watched) case has been monitored long enough for an elimination
    assessment from this moment (监测满规定期限)."""
    risk_types: Mapped[str | None] = mapped_column(String(200))
    """The classification's risk types, each between commas (``,illness,disability,``), so
    the dashboard counts them with one indexed-free scan of the area's open cases."""
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """The case's next deadline (``app.cases.snapshot.next_deadline``), kept with every event
    so the inbox reads its cases in this order from an index."""
    due_kind: Mapped[str | None] = mapped_column(String(16))
    """Which deadline ``due_at`` is: notice_end, acceptance, identification, measures,
    elimination."""


@append_only
class CaseEvent(Base):
    """One transition or recorded fact; rows are only ever inserted."""

    __tablename__ = "case_event"
    __table_args__ = (
        UniqueConstraint("case_id", "seq"),
        Index("ix_case_event_log_order", "txid", "id"),
        Index("ix_case_event_occurred_at", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    case_id: Mapped[str] = mapped_column(ForeignKey("monitoring_case.id"))
    seq: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(48))
    from_state: Mapped[str] = mapped_column(String(48))
    to_state: Mapped[str] = mapped_column(String(48))
    actor_sub: Mapped[str] = mapped_column(String(200))
    actor_role: Mapped[str] = mapped_column(String(32))
    actor_area: Mapped[str] = mapped_column(String(12))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    workflow_version: Mapped[str] = mapped_column(String(32))
    policy_version: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    txid: Mapped[int | None] = mapped_column(BigInteger, server_default=FetchedValue())
    """On PostgreSQL, the event's place in the log's order, set by the database: the larger of
    the writing transaction's id (``pg_current_xact_id()``) and the case's previous event's
    key, so a case's events keep their seq order (revision 0025). The sequencer gives events
    their place only once every transaction older than the key has ended. Not part of the
    hash; NULL on SQLite."""

    def hashed_fields(self) -> dict[str, Any]:
        """The fields the chain covers, in their canonical shapes."""
        return chained_fields(partial(getattr, self))


def chained_fields(column: Callable[[str], Any]) -> dict[str, Any]:
    """The fields the chain covers, in their canonical shapes, from an event's column values
    by name: an ORM event's attributes, or the row the write path is about to insert."""
    from app.core.canonical import utc_iso

    return {
        "case_id": column("case_id"),
        "seq": column("seq"),
        "name": column("name"),
        "from_state": column("from_state"),
        "to_state": column("to_state"),
        "actor": {
            "sub": column("actor_sub"),
            "role": column("actor_role"),
            "area": column("actor_area"),
        },
        "occurred_at": utc_iso(column("occurred_at")),
        "workflow_version": column("workflow_version"),
        "policy_version": column("policy_version"),
        "payload": column("payload"),
    }
