"""The audit API: signed checkpoints, proofs, the global log as a cursor, as-of reads."""

from __future__ import annotations

import asyncio
import base64
import shutil
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Query, Response, status
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, PlainTextResponse
from pydantic import AwareDatetime, BaseModel
from starlette.background import BackgroundTask

from app.audit import bundle, log, merkle, repository
from app.audit.errors import (
    CheckpointNotFound,
    IndexBeyondTree,
    LogEntryNotFound,
    NoSignedNote,
    PeriodReversed,
    SizesOutOfOrder,
)
from app.audit.models import Checkpoint
from app.audit.signing import (
    Signer,
    checkpoint_message,
    note_body,
    public_keys,
    signed_note,
    verifier_key,
)
from app.auth.dependencies import ClockDep, CurrentPrincipal, SettingsDep
from app.auth.permissions import permit, scope_within
from app.cases import replay as case_replay
from app.cases import views as case_views
from app.cases.models import CaseEvent
from app.core.canonical import utc_iso
from app.core.config import Settings
from app.core.db import ReadSessionDep, SessionDep, make_engine, make_sessionmaker
from app.core.errors import declares
from app.core.limits import MAX_INT
from app.core.routing import api_router
from workflows.permissions import Permission

router = api_router(prefix="/api/v1", tags=["audit"])

AreaCode = Annotated[str | None, Query(pattern=r"^\d{1,12}$", description="Area code prefix.")]
Limit = Annotated[int, Query(ge=1, le=1000)]


class CheckpointOut(BaseModel):
    tree_size: int
    root_hash: str
    created_at: datetime
    origin: str
    key_id: str
    signature: str
    """Base64 Ed25519 signature over ``signed_text`` (UTF-8)."""
    signed_text: str
    note: str | None
    """The same checkpoint as a C2SP tlog-checkpoint signed note (origin, tree size, base64
    root, then the signature line), which transparency-log verifiers and witnesses check
    against ``/audit/public-key``'s ``vkey``; none for checkpoints signed before notes were
    kept."""

    @classmethod
    def of(cls, point: Checkpoint, keys: dict[str, str]) -> CheckpointOut:
        text = checkpoint_message(
            point.origin, point.tree_size, point.root_hash, utc_iso(point.created_at)
        ).decode()
        return cls(
            tree_size=point.tree_size,
            root_hash=point.root_hash,
            created_at=point.created_at,
            origin=point.origin,
            key_id=point.key_id,
            signature=point.signature,
            signed_text=text,
            note=_note(point, keys),
        )


def _note(point: Checkpoint, keys: dict[str, str]) -> str | None:
    """The checkpoint's signed note, when it was signed as one (by a key this log lists)."""
    if point.note_signature is None or point.key_id not in keys:
        return None
    body = note_body(point.origin, point.tree_size, point.root_hash)
    public = base64.b64decode(keys[point.key_id])
    return signed_note(body, point.origin, public, point.note_signature)


def _keys(settings: Settings) -> dict[str, str]:
    """Every key this log's checkpoints are signed with, by key id (base64)."""
    return public_keys(Signer(settings.audit_signing_key), settings.audit_previous_public_keys)


class PreviousKeyOut(BaseModel):
    key_id: str
    public_key: str
    vkey: str


class PublicKeyOut(BaseModel):
    algorithm: str = "Ed25519"
    key_id: str
    public_key: str
    """Base64 of the raw 32-byte key."""
    origin: str
    vkey: str
    """The key as signed-note verifiers take it (C2SP signed-note): ``origin+hash+key``."""
    previous: list[PreviousKeyOut]
    """Keys that signed earlier checkpoints, before a rotation: still trusted for those."""


class InclusionOut(BaseModel):
    log_index: int
    tree_size: int
    event_hash: str
    leaf_hash: str
    """``SHA-256(0x00 ‖ event hash)``."""
    path: list[str]
    root_hash: str


class ConsistencyOut(BaseModel):
    first: int
    second: int
    first_root: str
    second_root: str
    proof: list[str]


class LogEntryOut(BaseModel):
    log_index: int
    case_id: str
    seq: int
    name: str
    from_state: str
    to_state: str
    actor_sub: str
    actor_role: str
    occurred_at: datetime
    hash: str


class LogPage(BaseModel):
    items: list[LogEntryOut]
    next_after: int | None
    """Pass as ``after`` for the next page; None when the page reached the log's end."""
    size: int
    """The log's size when read: entries up to it are final and never change."""


class CaseAsOf(BaseModel):
    case_id: str
    at: datetime
    state: str | None
    """None when the case did not exist yet."""
    version: int
    facts: dict[str, Any]


class CaseStateAsOf(BaseModel):
    case_id: str
    area_code: str
    channel: str
    state: str
    version: int


class CaseListAsOf(BaseModel):
    as_of: datetime
    items: list[CaseStateAsOf]
    next_after: str | None


class ActivityOut(BaseModel):
    items: list[LogEntryOut]
    next_after: int | None
    """Event id to pass as ``after`` for the next page."""


class ActivitySummary(BaseModel):
    actor_sub: str
    actor_role: str
    name: str
    count: int


def _entry(index: int, e: CaseEvent) -> LogEntryOut:
    return LogEntryOut(
        log_index=index,
        case_id=e.case_id,
        seq=e.seq,
        name=e.name,
        from_state=e.from_state,
        to_state=e.to_state,
        actor_sub=e.actor_sub,
        actor_role=e.actor_role,
        occurred_at=e.occurred_at,
        hash=e.hash,
    )


@router.get("/audit/public-key", response_model=PublicKeyOut)
async def public_key(principal: CurrentPrincipal, settings: SettingsDep) -> PublicKeyOut:
    """The key that signs checkpoints; auditors pin it (``audit verify --public-key``)."""
    permit(principal, Permission.audit_keys)
    signer = Signer(settings.audit_signing_key)
    previous = [
        PreviousKeyOut(
            key_id=kid,
            public_key=encoded,
            vkey=verifier_key(settings.audit_origin, base64.b64decode(encoded)),
        )
        for kid, encoded in _keys(settings).items()
        if kid != signer.key_id
    ]
    return PublicKeyOut(
        key_id=signer.key_id,
        public_key=signer.public_key_b64,
        origin=settings.audit_origin,
        previous=previous,
        vkey=verifier_key(settings.audit_origin, signer.public_key),
    )


@router.get(
    "/audit/checkpoint",
    response_class=PlainTextResponse,
    responses={
        200: {
            "content": {"text/plain": {}},
            "description": "The newest checkpoint as a C2SP signed note.",
        },
        **declares(404),
    },
)
async def latest_note(
    principal: CurrentPrincipal, session: SessionDep, settings: SettingsDep
) -> PlainTextResponse:
    """The newest checkpoint as a C2SP tlog-checkpoint signed note, for transparency-log
    verifiers and witnesses (their ``/checkpoint``): check it against the ``vkey`` of
    ``/audit/public-key``, and its growth with ``/audit/consistency``."""
    permit(principal, Permission.audit_keys)
    point = await repository.latest_signed(session)
    note = _note(point, _keys(settings)) if point else None
    if note is None:
        raise NoSignedNote()
    return PlainTextResponse(note, media_type="text/plain; charset=utf-8")


@router.get("/audit/checkpoints", response_model=list[CheckpointOut])
async def list_checkpoints(
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    before: Annotated[int | None, Query(ge=1, description="Tree sizes below this.")] = None,
    limit: Limit = 100,
) -> list[CheckpointOut]:
    """Signed checkpoints, largest tree first."""
    permit(principal, Permission.audit_keys)
    keys = _keys(settings)
    return [CheckpointOut.of(p, keys) for p in await repository.checkpoints(session, before, limit)]


@router.post(
    "/audit/checkpoints",
    status_code=status.HTTP_201_CREATED,
    response_model=CheckpointOut,
    responses={200: {"model": CheckpointOut, "description": "The log has not grown since."}},
)
async def create_checkpoint(
    response: Response,
    principal: CurrentPrincipal,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> CheckpointOut:
    """Sequence every committed event and sign the log's head now."""
    permit(principal, Permission.audit_sign)
    signed = await log.checkpoint(
        session, Signer(settings.audit_signing_key), settings.audit_origin, clock.now()
    )
    out = CheckpointOut.of(signed.checkpoint, _keys(settings))
    if not signed.created:
        response.status_code = status.HTTP_200_OK
    return out


async def _signed_size(session: SessionDep, tree_size: int) -> Checkpoint:
    point = await log.checkpoint_at(session, tree_size)
    if point is None:
        raise CheckpointNotFound(tree_size)
    return point


@router.get("/audit/log/{log_index}/inclusion", response_model=InclusionOut)
async def inclusion(
    log_index: Annotated[int, PathParam(ge=0, le=MAX_INT)],
    principal: CurrentPrincipal,
    session: SessionDep,
    tree_size: Annotated[
        int, Query(ge=1, le=MAX_INT, description="A signed checkpoint's tree size.")
    ],
) -> InclusionOut:
    """The audit path from the event at ``log_index`` to the root of a signed checkpoint."""
    permit(principal, Permission.audit_keys)
    point = await _signed_size(session, tree_size)
    if log_index >= tree_size:
        raise IndexBeyondTree(log_index, tree_size)
    event_hash = await repository.event_hash_at(session, log_index)
    if event_hash is None:
        raise LogEntryNotFound(log_index)
    path = await log.with_nodes(
        session, lambda get: merkle.inclusion_proof(get, log_index, tree_size)
    )
    return InclusionOut(
        log_index=log_index,
        tree_size=tree_size,
        event_hash=event_hash,
        leaf_hash=merkle.leaf_hash(bytes.fromhex(event_hash)).hex(),
        path=[p.hex() for p in path],
        root_hash=point.root_hash,
    )


@router.get("/audit/consistency", response_model=ConsistencyOut, responses=declares(404))
async def consistency(
    principal: CurrentPrincipal,
    session: SessionDep,
    first: Annotated[int, Query(ge=1, le=MAX_INT)],
    second: Annotated[int, Query(ge=1, le=MAX_INT)],
) -> ConsistencyOut:
    """Proof that the signed tree of ``second`` entries extends the one of ``first``."""
    permit(principal, Permission.audit_keys)
    if first > second:
        raise SizesOutOfOrder()
    one, two = await _signed_size(session, first), await _signed_size(session, second)
    proof = await log.with_nodes(session, lambda get: merkle.consistency_proof(get, first, second))
    return ConsistencyOut(
        first=first,
        second=second,
        first_root=one.root_hash,
        second_root=two.root_hash,
        proof=[p.hex() for p in proof],
    )


@router.get("/audit/log", response_model=LogPage)
async def read_log(
    principal: CurrentPrincipal,
    session: ReadSessionDep,
    after: Annotated[
        int, Query(ge=-1, le=MAX_INT, description="The last index you have; -1 to start.")
    ] = -1,
    limit: Limit = 500,
) -> LogPage:
    """The global log in index order: the change cursor. An index, once given, never moves
    and no event is ever given an index below one already read."""
    permit(principal, Permission.audit_cursor)
    items = [
        _entry(index, event) for index, event in await repository.log_page(session, after, limit)
    ]
    return LogPage(
        items=items,
        size=await log.size(session),
        next_after=items[-1].log_index if len(items) == limit else None,
    )


@router.get("/cases/{case_id}/as-of", response_model=CaseAsOf, tags=["audit"])
async def case_as_of(
    case_id: str,
    at: Annotated[AwareDatetime, Query(description="Any past moment, with its offset.")],
    principal: CurrentPrincipal,
    session: SessionDep,
) -> CaseAsOf:
    """The case's state and facts at ``at``, computed from its trail."""
    state, version, facts = await case_replay.as_of(session, principal, case_id, at)
    return CaseAsOf(
        case_id=case_id, at=at, state=state, version=version, facts=case_views.redacted(facts)
    )


@router.get("/audit/cases", response_model=CaseListAsOf)
async def cases_as_of(
    principal: CurrentPrincipal,
    session: ReadSessionDep,
    as_of: Annotated[AwareDatetime, Query()],
    area: AreaCode = None,
    state: Annotated[str | None, Query(max_length=48)] = None,
    after: Annotated[str | None, Query(max_length=36, description="Last case id read.")] = None,
    limit: Limit = 100,
) -> CaseListAsOf:
    """Every case that existed at ``as_of`` with the state it then stood in, from the trail."""
    permit(principal, Permission.audit_read)
    found = await repository.cases_as_of(
        session, principal.area, as_of, area=area, state=state, after=after, limit=limit
    )
    items = [
        CaseStateAsOf(case_id=i, area_code=a, channel=c, state=s, version=v)
        for i, a, c, s, v in found
    ]
    return CaseListAsOf(
        as_of=as_of, items=items, next_after=items[-1].case_id if len(items) == limit else None
    )


async def _activity_filter(
    principal: CurrentPrincipal,
    actor: Annotated[str | None, Query(max_length=200)] = None,
    area: AreaCode = None,
    since: Annotated[AwareDatetime | None, Query()] = None,
    until: Annotated[AwareDatetime | None, Query(description="Exclusive.")] = None,
) -> list[Any]:
    """The period, actor and area filters both activity routes take, as SQL conditions
    (always within the caller's area)."""
    return repository.activity_conditions(
        principal.area, actor=actor, area=area, since=since, until=until
    )


ActivityFilter = Annotated[list[Any], Depends(_activity_filter)]


@router.get("/audit/activity", response_model=ActivityOut)
async def activity(
    principal: CurrentPrincipal,
    session: ReadSessionDep,
    conditions: ActivityFilter,
    after: Annotated[int, Query(ge=0, le=MAX_INT, description="Last event id read.")] = 0,
    limit: Limit = 200,
) -> ActivityOut:
    """What an actor, or everyone in an area, did over a period: events oldest first."""
    permit(principal, Permission.audit_read)
    rows = await repository.activity(session, conditions, after, limit)
    items = [_entry(-1 if row[0] is None else row[0], row[1]) for row in rows]
    return ActivityOut(items=items, next_after=rows[-1][1].id if len(rows) == limit else None)


@router.get("/audit/activity/summary", response_model=list[ActivitySummary])
async def activity_summary(
    principal: CurrentPrincipal,
    session: ReadSessionDep,
    conditions: ActivityFilter,
) -> list[ActivitySummary]:
    """Counts of events per actor and action over a period."""
    permit(principal, Permission.audit_read)
    return [
        ActivitySummary(actor_sub=a, actor_role=r, name=n, count=c)
        for a, r, n, c in await repository.activity_summary(session, conditions)
    ]


__all__ = ["router"]


@router.get(
    "/audit/bundle",
    response_class=FileResponse,
    responses={
        200: {
            "description": "The bundle, zipped (the directory `fangfanpin audit bundle` writes).",
            "content": {"application/zip": {}},
        },
        **declares(404),
    },
)
async def download_bundle(
    principal: CurrentPrincipal,
    settings: SettingsDep,
    clock: ClockDep,
    area: Annotated[str | None, Query(pattern=r"^\d{6,12}$")] = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
) -> FileResponse:
    """An auditor's bundle, as `fangfanpin audit bundle` writes it, zipped: a checkpoint
    signed now, the log up to it (whole cases, of an area or active in a period), proofs
    and the public key the offline check needs. In the access log, under the caller."""
    permit(principal, Permission.audit_bundle)
    scope_within(principal, area)
    if since and until and until <= since:
        raise PeriodReversed()
    scratch = Path(tempfile.mkdtemp(prefix="fangfanpin-bundle-"))
    now = clock.now()

    def build() -> Path:
        # the export writes files as it reads: a thread of its own, with an engine of its
        # own, so the service's event loop never waits on the disk
        async def run() -> None:
            engine = make_engine(settings.database_url, pool_size=2)
            try:
                await bundle.export(
                    make_sessionmaker(engine, settings),
                    settings,
                    now,
                    scratch / "bundle",
                    area=area,
                    since=since,
                    until=until,
                    actor=(principal.sub, principal.role.value),
                )
            finally:
                await engine.dispose()

        asyncio.run(run())
        return Path(shutil.make_archive(str(scratch / "bundle"), "zip", scratch / "bundle"))

    try:
        archive = await asyncio.to_thread(build)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    name = f"fangfanpin-bundle-{now:%Y%m%dT%H%M%SZ}.zip"
    return FileResponse(
        archive,
        media_type="application/zip",
        filename=name,
        background=BackgroundTask(shutil.rmtree, scratch, True),
    )
