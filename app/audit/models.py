"""The global log over every case's events, its Merkle nodes and its signed checkpoints.

All three tables are append-only (triggers refuse UPDATE and DELETE). ``case_event`` itself is
never touched by the log: an event's place in it is a row here, written by the sequencer.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, UTCDateTime, append_only


@append_only
class LogEntry(Base):
    """The event at ``log_index`` of the global log (gap-free, in commit order)."""

    __tablename__ = "audit_log"

    log_index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    event_id: Mapped[int] = mapped_column(ForeignKey("case_event.id"), unique=True)
    sequenced_at: Mapped[datetime] = mapped_column(UTCDateTime())


@append_only
class TreeNode(Base):
    """A perfect aligned subtree of the log's Merkle tree: ``2**level`` leaves from leaf
    ``idx * 2**level``. Level 0 holds the leaf hashes ``SHA-256(0x00 ‖ event hash)``."""

    __tablename__ = "audit_node"

    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(64))


@append_only
class Checkpoint(Base):
    """A signed tree head: the log's size and Merkle root at a moment, signed with Ed25519."""

    __tablename__ = "audit_checkpoint"

    tree_size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    origin: Mapped[str] = mapped_column(String(100))
    key_id: Mapped[str] = mapped_column(String(16))
    signature: Mapped[str] = mapped_column(String(100))
    """Base64 Ed25519 signature over :func:`app.audit.signing.checkpoint_message`."""
    note_signature: Mapped[str | None] = mapped_column(String(100))
    """Base64 Ed25519 signature over the C2SP checkpoint body (:func:`app.audit.signing.
    note_body`), by the same key; none for checkpoints signed before it was kept."""
