"""Audit bundles: the log (all of it, an area's cases, or the cases active in a period), its
signed checkpoints and the public key, for :mod:`app.audit.verify` to check offline."""

from __future__ import annotations

import getpass
import itertools
import json
from collections.abc import Callable
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.access_log import record as access_log
from app.audit import log, merkle
from app.audit.models import Checkpoint, LogEntry
from app.audit.signing import Signer, public_keys
from app.audit.verify import FORMAT
from app.cases.models import Case, CaseEvent
from app.cases.repository import in_area
from app.core.canonical import event_document, utc_iso
from app.core.config import Settings


def _selected_cases(
    tree_size: int, area: str | None, since: datetime | None, until: datetime | None
) -> Select[Any] | None:
    """Case ids in the selection; None selects the whole log."""
    if area is None and since is None and until is None:
        return None
    query = select(CaseEvent.case_id).join(LogEntry, LogEntry.event_id == CaseEvent.id)
    query = query.where(LogEntry.log_index < tree_size)
    if area is not None:
        query = query.join(Case, Case.id == CaseEvent.case_id).where(in_area(Case.area_code, area))
    if since is not None:
        query = query.where(CaseEvent.occurred_at >= since)
    if until is not None:
        query = query.where(CaseEvent.occurred_at < until)
    return query.distinct()


async def export(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    now: datetime,
    out: Path,
    *,
    area: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    progress: Callable[[int], None] | None = None,
    actor: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """Write a bundle into the directory ``out``; answers its manifest. The log is cut at a
    checkpoint signed now; a selection takes every event of each chosen case up to that cut
    (an area's cases, or those with an event in ``[since, until)``), so chains are whole."""
    signer = Signer(settings.audit_signing_key)
    selection = {
        key: value
        for key, value in (
            ("area", area),
            ("since", since and utc_iso(since)),
            ("until", until and utc_iso(until)),
        )
        if value is not None
    }
    async with sessionmaker() as session, session.begin():
        point = (await log.checkpoint(session, signer, settings.audit_origin, now)).checkpoint
        # the bundle carries the trail's exact bytes (older masks included): a privileged
        # export, in the access log like any read of personal data
        sub, role = actor or (f"cli:{getpass.getuser()}", "admin")
        access_log.record(
            session,
            (sub, role, area or ""),
            "audit_bundle",
            str(point.tree_size),
            fields=["trail"],
            at=now,
            purpose="audit bundle " + json.dumps(selection, ensure_ascii=False),
        )
    tree_size = point.tree_size
    chosen = _selected_cases(tree_size, area, since, until)
    out.mkdir(parents=True, exist_ok=False)  # noqa: ASYNC240 (a command, not a request)
    events = 0
    async with sessionmaker() as session:
        checkpoints = (
            (
                await session.execute(
                    select(Checkpoint)
                    .where(Checkpoint.tree_size <= tree_size)
                    .order_by(Checkpoint.tree_size)
                )
            )
            .scalars()
            .all()
        )
        with (out / "checkpoints.jsonl").open("w", encoding="utf-8") as file:
            for p in checkpoints:
                file.write(
                    json.dumps(
                        {
                            "tree_size": p.tree_size,
                            "root_hash": p.root_hash,
                            "origin": p.origin,
                            "created_at": utc_iso(p.created_at),
                            "key_id": p.key_id,
                            "signature": p.signature,
                            "note_signature": p.note_signature,
                        }
                    )
                    + "\n"
                )
        query = (
            select(LogEntry.log_index, CaseEvent)
            .join(CaseEvent, CaseEvent.id == LogEntry.event_id)
            .where(LogEntry.log_index < tree_size)
            .order_by(LogEntry.log_index)
            .execution_options(yield_per=2000)
        )
        if chosen is not None:
            query = query.where(CaseEvent.case_id.in_(chosen))
        indices: list[int] = []
        with (out / "events.tsv").open("wb") as file:
            async for index, event in await session.stream(query):
                document = event_document(event.hashed_fields(), event.prev_hash)
                file.write(b"%d\t%s\t%s\n" % (index, event.hash.encode(), document))
                events += 1
                if chosen is not None:
                    indices.append(index)
                if progress is not None and events % 100_000 == 0:
                    progress(events)
        heads = select(Case.id, Case.version, Case.state, Case.last_hash).order_by(Case.id)
        heads = heads.where(
            Case.id.in_(chosen if chosen is not None else select(CaseEvent.case_id))
        )
        with (out / "heads.jsonl").open("w", encoding="utf-8") as file:
            for row in (await session.execute(heads)).all():
                file.write(
                    json.dumps(
                        {"case_id": row[0], "version": row[1], "state": row[2], "last_hash": row[3]}
                    )
                    + "\n"
                )
        if chosen is not None:
            await _write_proofs(
                session, out, indices, tree_size, [p.tree_size for p in checkpoints]
            )
    manifest = {
        "format": FORMAT,
        "origin": settings.audit_origin,
        "public_key": signer.public_key_b64,
        "key_id": signer.key_id,
        "public_keys": public_keys(signer, settings.audit_previous_public_keys),
        "selection": selection,
        "tree_size": tree_size,
        "events": events,
        "created_at": utc_iso(now),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", "utf-8")
    return manifest


async def _write_proofs(
    session: AsyncSession, out: Path, indices: list[int], tree_size: int, sizes: list[int]
) -> None:
    with (out / "proofs.jsonl").open("w", encoding="utf-8") as file:
        for index in indices:
            path = await log.with_nodes(session, partial(_inclusion, index=index, size=tree_size))
            file.write(json.dumps({"log_index": index, "path": [p.hex() for p in path]}) + "\n")
    with (out / "consistency.jsonl").open("w", encoding="utf-8") as file:
        for first, second in itertools.pairwise(sizes):
            if first == 0:
                continue
            proof = await log.with_nodes(session, partial(_consistency, first=first, second=second))
            file.write(
                json.dumps({"first": first, "second": second, "proof": [p.hex() for p in proof]})
                + "\n"
            )


def _inclusion(get: merkle.Lookup, *, index: int, size: int) -> list[bytes]:
    return merkle.inclusion_proof(get, index, size)


def _consistency(get: merkle.Lookup, *, first: int, second: int) -> list[bytes]:
    return merkle.consistency_proof(get, first, second)
