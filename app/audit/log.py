"""The global log: the sequencer, Merkle roots and proofs from stored nodes, checkpoints.

Nothing here runs on the transition path. A transition appends its event and commits; the
sequencer (the worker, or anyone asking for a checkpoint) later gives committed events their
place in the log. On PostgreSQL an event's ``txid`` is its order key: the larger of its
writing transaction's id and its predecessor's key in the case (revision 0025), so every
case's events stand in seq order. The sequencer only takes events whose key is older than
every transaction still running (``txid < xmin`` of a fresh snapshot), in ``(txid, id)``
order: an event whose transaction commits late is taken by a later pass, after everything
already indexed, and is never skipped. On SQLite writers are serialised (``BEGIN IMMEDIATE``),
so every event the sequencer can see is committed and ids are in commit order. Passes are
serialised by a transaction-scoped advisory lock (PostgreSQL) or the write lock (SQLite).

The horizon is this database's: a long writing transaction in another database on the same
PostgreSQL server no longer holds the log back, provided the service's role may read every
session's transaction id (``pg_read_all_stats``; without it the cluster's horizon applies,
as before). A long writing transaction in this database holds it back until it ends; nothing
is lost or misordered, the log only lags.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy import and_, func, insert, or_, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit import merkle
from app.audit.models import Checkpoint, LogEntry, TreeNode
from app.audit.signing import Signer, checkpoint_message, note_body
from app.cases.models import CaseEvent
from app.core.canonical import utc_iso
from app.core.config import Settings

SEQUENCER_LOCK = 0x66_66_70_6C_6F_67  # "ffplog": one sequencer pass at a time
BATCH = 5000
T = TypeVar("T")


async def size(session: AsyncSession) -> int:
    """How many events the log holds."""
    last = await session.scalar(select(func.max(LogEntry.log_index)))
    return 0 if last is None else last + 1


async def sequence(session: AsyncSession, now: datetime, *, limit: int = BATCH) -> int:
    """Give up to ``limit`` committed events their log index and Merkle nodes, in the caller's
    transaction; answers how many. Call again while it answers ``limit``."""
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SEQUENCER_LOCK})
    last = (
        await session.execute(
            select(LogEntry.log_index, CaseEvent.txid, CaseEvent.id)
            .join(CaseEvent, CaseEvent.id == LogEntry.event_id)
            .order_by(LogEntry.log_index.desc())
            .limit(1)
        )
    ).first()
    count = 0 if last is None else last.log_index + 1
    query = select(CaseEvent.id, CaseEvent.hash)
    if last is not None and last.txid is None:
        query = query.where(
            or_(and_(CaseEvent.txid.is_(None), CaseEvent.id > last.id), CaseEvent.txid.is_not(None))
        )
    elif last is not None:
        query = query.where(tuple_(CaseEvent.txid, CaseEvent.id) > tuple_(last.txid, last.id))
    if postgres:
        horizon = await _horizon(session)
        query = query.where(or_(CaseEvent.txid.is_(None), CaseEvent.txid < horizon))
    query = query.order_by(CaseEvent.txid.asc().nulls_first(), CaseEvent.id).limit(limit)
    events = (await session.execute(query)).all()
    if not events:
        return 0
    frontier_keys = merkle.Frontier.positions(count)
    stored = await _nodes(session, frontier_keys)
    nodes: list[dict[str, object]] = []
    frontier = merkle.Frontier(
        count,
        [stored[key] for key in frontier_keys],
        completed=lambda level, idx, h: nodes.append({"level": level, "idx": idx, "hash": h.hex()}),
    )
    for event in events:
        frontier.append(merkle.leaf_hash(bytes.fromhex(event.hash)))
    await session.execute(
        insert(LogEntry),
        [
            {"log_index": count + i, "event_id": event.id, "sequenced_at": now}
            for i, event in enumerate(events)
        ],
    )
    await session.execute(insert(TreeNode), nodes)
    return len(events)


HORIZON = text("""
    WITH here AS (
        SELECT (pg_snapshot_xmax(pg_current_snapshot())::text)::bigint AS next,
               (pg_snapshot_xmin(pg_current_snapshot())::text)::bigint AS cluster
    ), running AS (
        SELECT a.backend_xid, a.state
          FROM pg_stat_activity a
         WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()
           AND a.backend_type = 'client backend'
    )
    SELECT CASE WHEN EXISTS (SELECT 1 FROM running WHERE state IS NULL) THEN here.cluster
                ELSE LEAST(here.next, COALESCE((
                    SELECT min(here.next - (((here.next & 4294967295)
                                             - (r.backend_xid::text)::bigint + 4294967296)
                                            % 4294967296))
                      FROM running r WHERE r.backend_xid IS NOT NULL), here.next))
           END
      FROM here""")


async def _horizon(session: AsyncSession) -> int:
    """The oldest transaction id that may still write this database's events: the oldest
    running in this database (read before the query's snapshot, so anything that runs at that
    snapshot is at or above it), else the next id. Transactions of other databases on the
    cluster do not hold the log back. Where a session of this database cannot be seen (the
    role lacks ``pg_read_all_stats``), the cluster's oldest running transaction bounds it."""
    # the sessions' activity is cached per transaction: read it afresh for this pass
    await session.execute(text("SELECT pg_stat_clear_snapshot()"))
    return int((await session.execute(HORIZON)).scalar_one())


async def sequence_all(session: AsyncSession, now: datetime) -> int:
    total = 0
    while (done := await sequence(session, now)) == BATCH:
        total += done
    return total + done


async def _nodes(
    session: AsyncSession, keys: list[tuple[int, int]]
) -> dict[tuple[int, int], bytes]:
    if not keys:
        return {}
    found: dict[tuple[int, int], bytes] = {}
    for start in range(0, len(keys), 200):
        chunk = keys[start : start + 200]
        rows = await session.execute(
            select(TreeNode.level, TreeNode.idx, TreeNode.hash).where(
                or_(*(and_(TreeNode.level == lv, TreeNode.idx == ix) for lv, ix in chunk))
            )
        )
        found.update({(row.level, row.idx): bytes.fromhex(row.hash) for row in rows})
    missing = set(keys) - found.keys()
    if missing:
        raise LookupError(f"the log's Merkle nodes {sorted(missing)[:3]} are missing")
    return found


async def with_nodes(session: AsyncSession, build: Callable[[merkle.Lookup], T]) -> T:
    """Run a proof or root computation over stored nodes: one pass to learn which nodes it
    reads (they depend on sizes and indices only), one query for them, one pass to compute."""
    wanted: list[tuple[int, int]] = []

    def record(level: int, idx: int) -> bytes:
        wanted.append((level, idx))
        return bytes(32)

    build(record)
    found = await _nodes(session, list(dict.fromkeys(wanted)))
    return build(lambda level, idx: found[(level, idx)])


async def root(session: AsyncSession, tree_size: int) -> bytes:
    return await with_nodes(session, lambda get: merkle.root(get, tree_size))


@dataclass(frozen=True)
class Signed:
    checkpoint: Checkpoint
    created: bool


async def checkpoint(session: AsyncSession, signer: Signer, origin: str, now: datetime) -> Signed:
    """Sequence what is committed and sign the log's head (in the caller's transaction).
    Answers the newest checkpoint instead when the log has not grown since it."""
    await sequence_all(session, now)
    tree_size = await size(session)
    latest = await newest(session)
    if latest is not None and latest.tree_size >= tree_size:
        return Signed(latest, created=False)
    root_hex = (await root(session, tree_size)).hex()
    created_at = utc_iso(now)
    point = Checkpoint(
        tree_size=tree_size,
        root_hash=root_hex,
        created_at=now,
        origin=origin,
        key_id=signer.key_id,
        signature=signer.sign(checkpoint_message(origin, tree_size, root_hex, created_at)),
        note_signature=signer.sign(note_body(origin, tree_size, root_hex)),
    )
    session.add(point)
    await session.flush()
    return Signed(point, created=True)


async def newest(session: AsyncSession) -> Checkpoint | None:
    return await session.scalar(select(Checkpoint).order_by(Checkpoint.tree_size.desc()).limit(1))


async def checkpoint_at(session: AsyncSession, tree_size: int) -> Checkpoint | None:
    return await session.get(Checkpoint, tree_size)


async def maintain(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, now: datetime
) -> Checkpoint | None:
    """One worker pass: sequence what has committed and, when the newest checkpoint is older
    than the configured interval and the log has grown, sign a new one."""
    async with sessionmaker() as session, session.begin():
        await sequence_all(session, now)
        latest = await newest(session)
        due = latest is None or (
            (now - latest.created_at).total_seconds() >= settings.audit_checkpoint_interval_seconds
        )
        if not due or await size(session) == 0:
            return None
        signed = await checkpoint(
            session, Signer(settings.audit_signing_key), settings.audit_origin, now
        )
        return signed.checkpoint if signed.created else None
