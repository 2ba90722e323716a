"""Taking a warning batch in (streamed, all or nothing), and the city's dispositions."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import tempfile
import uuid
from collections.abc import AsyncIterator
from datetime import date, datetime
from typing import IO, Any, cast

from sqlalchemy import ARRAY, String, Table, any_, bindparam, func, insert, select, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.areas.models import Area
from app.auth.tokens import Principal
from app.cases import opening
from app.cases import service as cases
from app.cases.models import Case
from app.core import blind
from app.core.config import Settings
from app.core.crypto import cipher_for, context
from app.core.errors import ProblemError, Unprocessable
from app.department_warnings import parsing
from app.department_warnings.errors import (
    BatchReferenceReused,
    FileEmpty,
    LineRepeated,
    SourceNotYours,
    TooManyRows,
    WarningAlreadyDecided,
    WarningBatchNotFound,
    WarningNotAccepted,
)
from app.department_warnings.models import DepartmentWarning, WarningBatch, WarningDisposition
from app.households import idnumber, registry
from app.households.card import HouseholdFacts
from app.households.models import Household, Member
from app.households.repository import household_of_person
from app.households.schemas import HouseholdIn
from workflows.calendar import local_date
from workflows.case import CURRENT as CURRENT_WORKFLOW
from workflows.case import OPEN_ACTIONS
from workflows.vocabulary import Channel, Role

CHUNK = 1000
"""Rows checked, matched and inserted together; memory holds one chunk."""
SPOOL_IN_MEMORY = 1 << 20
"""Uploads larger than this are spooled to a temporary file while they arrive."""
SHOWN_REJECTED = 100
MAX_ROWS = 500_000
"""More than the largest list a department sends; a compressed workbook cannot expand past it."""


class UnsupportedMediaType(ProblemError):
    status = 415


MEDIA = {
    "text/csv": "csv",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "application/json": "json",
}


def media_of(content_type: str | None) -> tuple[str, str | None]:
    """(format, charset) of an upload's Content-Type."""
    kind, _, rest = (content_type or "").partition(";")
    fmt = MEDIA.get(kind.strip().lower())
    if fmt is None:
        raise UnsupportedMediaType(
            "media_type_unsupported",
            "Send text/csv (charset utf-8 or gb18030), an XLSX workbook or application/json.",
            accepted=sorted(MEDIA),
        )
    charset = None
    for parameter in rest.split(";"):
        key, _, value = parameter.partition("=")
        if key.strip().lower() == "charset":
            charset = value.strip().strip('"')
    return fmt, charset


def sender_of(principal: Principal, source: str) -> str:
    """Whose batch this is: a department sends its own; the city enters media and petition
    signals."""
    if principal.role == Role.department:
        if source != "department" or not principal.department:
            raise SourceNotYours(department=True)
        return principal.department
    if source == "department":
        raise SourceNotYours(department=False)
    return source


async def spool(chunks: AsyncIterator[bytes]) -> tuple[IO[bytes], str]:
    """The upload in a temporary file (in memory while small) and its SHA-256."""
    file = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115
    digest = hashlib.sha256()
    async for chunk in chunks:
        digest.update(chunk)
        file.write(chunk)
    file.seek(0)
    return file, digest.hexdigest()


def rows_of(file: IO[bytes], fmt: str, encoding: str | None) -> parsing.Rows:
    if fmt == "csv":
        return parsing.read_csv(file, encoding or "utf-8")
    if fmt == "xlsx":
        return parsing.read_xlsx(file)
    return parsing.read_json(file)


def _prepare(
    rows: parsing.Rows,
    villages: set[str],
    today: date,
    settings: Settings,
    batch_id: str,
) -> list[dict[str, Any]]:
    """Check, digest and seal the next chunk of rows (run in a worker thread)."""
    cipher = cipher_for(settings.field_keys)
    index = blind.blind_of(settings)
    prepared = []
    for line, values in itertools.islice(rows, CHUNK):
        row = parsing.check(line, values, villages, today)
        number = row.id_number
        raw_id = parsing._text(values.get("id_number"))
        prepared.append(
            {
                "batch_id": batch_id,
                "line": line,
                "reasons": row.reasons,
                "name": row.name or parsing._text(values.get("name"))[:100] or None,
                "id_masked": idnumber.mask(number)
                if number
                else (idnumber.mask(raw_id)[:18] if len(raw_id) >= 10 else None),
                "id_digest": index.digest(number) if number else None,
                # while keys rotate, registered members may still hold an older digest
                "older_digests": index.older(number) if number else [],
                "id_number_encrypted": cipher.encrypt(
                    number, context("department_warning", f"{batch_id}:{line}", "id_number")
                )
                if number
                else None,
                "village_code": row.village_code
                or parsing._text(values.get("village_code"))[:12]
                or None,
                "risk_type": row.risk_type or parsing._text(values.get("risk_type"))[:32] or None,
                "description": row.description
                or parsing._text(values.get("description"))[:2000]
                or None,
                "flagged_on": row.flagged_on,
            }
        )
    return prepared


async def _store(session: AsyncSession, batch_id: str, chunk: list[dict[str, Any]]) -> None:
    """Store a chunk: each row that passed its checks is matched to a registered household
    and its open case, then inserted as accepted unless the batch already holds an accepted
    row of the same person and risk (the partial unique index decides, so the check costs
    one index probe per row however large the batch); such a row, and each row that failed
    its checks, is stored rejected with its reasons."""
    candidates = [r for r in chunk if not r["reasons"]]
    households: dict[str, str] = {}
    registered_in: dict[str, str] = {}
    current = {old: row["id_digest"] for row in chunk for old in row.pop("older_digests")}
    if candidates:
        digests = {r["id_digest"] for r in candidates}
        digests |= {old for old, new in current.items() if new in digests}
        postgres = (await session.connection()).dialect.name == "postgresql"
        # one array parameter on PostgreSQL: one prepared statement for every chunk
        listed = bindparam("digests", list(digests), type_=ARRAY(String))
        matches = Member.id_digest == any_(listed) if postgres else Member.id_digest.in_(digests)
        found = (
            select(Member.id_digest, Member.household_id, Household.village_code)
            .join(Household, Household.id == Member.household_id)
            .where(matches)
        )
        for digest, household_id, village in (await session.execute(found)).all():
            digest = current.get(digest, digest)
            households[digest], registered_in[digest] = household_id, village
    open_cases: dict[str, str] = {}
    if households:
        query = select(Case.household_id, Case.id).where(
            Case.household_id.in_(set(households.values())), Case.is_open.is_(True)
        )
        open_cases = dict((await session.execute(query)).all())
    for row in chunk:
        row["status"] = "rejected" if row["reasons"] else "accepted"
        household = households.get(row["id_digest"]) if not row["reasons"] else None
        row["household_id"] = household
        row["case_id"] = open_cases.get(household) if household else None
        registered = registered_in.get(row["id_digest"]) if household else None
        if registered is not None and registered != row["village_code"]:
            # accepted and routed by the register; the report says so (a note, not a reason)
            row["reasons"] = [
                {
                    "code": "village_differs",
                    "field": "village_code",
                    "message": f"The person is registered in village {registered}, "
                    f"not {row['village_code']}: the warning goes there.",
                }
            ]
        row["reasons"] = row["reasons"] or None
    taken = await _insert_accepted(session, candidates) if candidates else set()
    repeated = [r for r in candidates if r["line"] not in taken]
    if repeated:
        lines = {}
        for row in repeated:  # a few per chunk; each an exact probe of the unique index
            key = (row["id_digest"], row["risk_type"])
            first = select(DepartmentWarning.line).where(
                DepartmentWarning.batch_id == batch_id,
                DepartmentWarning.id_digest == key[0],
                DepartmentWarning.risk_type == key[1],
                DepartmentWarning.status == "accepted",
            )
            lines[key] = (await session.execute(first)).scalar_one()
        for row in repeated:
            row.update(
                status="rejected",
                household_id=None,
                case_id=None,
                id_number_encrypted=None,
                reasons=[
                    {
                        "code": "duplicate_row",
                        "field": "id_number",
                        "message": "The same person and risk as line "
                        f"{lines[row['id_digest'], row['risk_type']]}.",
                    }
                ],
            )
    rejected = [r for r in chunk if r["status"] == "rejected"]
    for row in rejected:
        row["id_number_encrypted"] = None
    await _insert(session, rejected)


TABLE = cast(Table, DepartmentWarning.__table__)
COLUMNS = [c.name for c in TABLE.columns]


ON_CONFLICT = "ON CONFLICT (batch_id, id_digest, risk_type) WHERE status = 'accepted' DO NOTHING"


async def _insert_accepted(session: AsyncSession, rows: list[dict[str, Any]]) -> set[int]:
    """Insert rows as accepted unless the partial unique index already holds the person and
    risk; answers the lines inserted. On PostgreSQL the chunk is COPied into a temporary
    table and moved over in one statement (planner-independent, one index probe a row)."""
    connection = await session.connection()
    if connection.dialect.name != "postgresql":
        statement = (
            sqlite.insert(TABLE)
            .on_conflict_do_nothing(
                index_elements=["batch_id", "id_digest", "risk_type"],
                index_where=text("status = 'accepted'"),
            )
            .returning(TABLE.c.line)
        )
        return set((await session.execute(statement, rows)).scalars())
    raw = (await connection.get_raw_connection()).driver_connection
    assert raw is not None
    await raw.execute(
        "CREATE TEMP TABLE IF NOT EXISTS warning_stage "
        "(LIKE department_warning) ON COMMIT DELETE ROWS"
    )
    await raw.execute("TRUNCATE warning_stage")
    await raw.copy_records_to_table("warning_stage", records=_records(rows), columns=COLUMNS)
    names = ", ".join(COLUMNS)
    move = (
        f"INSERT INTO department_warning ({names}) SELECT {names} FROM warning_stage "
        f"ORDER BY line {ON_CONFLICT} RETURNING line"
    )
    inserted = await raw.fetch(move)
    return {row[0] for row in inserted}


def _records(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        tuple(
            json.dumps(row[c], ensure_ascii=False) if c == "reasons" and row[c] else row[c]
            for c in COLUMNS
        )
        for row in rows
    ]


async def _insert(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Rows in bulk: COPY on PostgreSQL (in this transaction), a multi-row INSERT elsewhere."""
    if not rows:
        return
    connection = await session.connection()
    if connection.dialect.name != "postgresql":
        await session.execute(insert(TABLE), rows)
        return
    raw = (await connection.get_raw_connection()).driver_connection
    assert raw is not None
    await raw.copy_records_to_table("department_warning", records=_records(rows), columns=COLUMNS)


async def take(
    session: AsyncSession,
    principal: Principal,
    file: IO[bytes],
    sha256: str,
    *,
    source: str,
    sender: str,
    reference: str | None,
    fmt: str,
    encoding: str | None,
    filename: str | None,
    now: datetime,
    settings: Settings,
) -> tuple[WarningBatch, bool]:
    """Store the batch and every row in one transaction; (batch, True) when it is new, the
    earlier batch and False when the same bytes came before."""
    same = select(WarningBatch).where(
        WarningBatch.area_code == principal.area,
        WarningBatch.sender == sender,
        WarningBatch.sha256 == sha256,
    )
    earlier = (await session.execute(same)).scalar_one_or_none()
    if earlier is not None:
        return earlier, False
    batch = WarningBatch(
        id=str(uuid.uuid4()),
        source=source,
        sender=sender,
        area_code=principal.area,
        reference=reference,
        format=fmt,
        encoding=encoding,
        filename=filename,
        sha256=sha256,
        uploaded_by=principal.sub,
        uploaded_at=now,
    )
    today = local_date(now)
    try:
        async with session.begin_nested():
            if reference is not None:
                taken = select(WarningBatch.id).where(
                    WarningBatch.area_code == principal.area,
                    WarningBatch.sender == sender,
                    WarningBatch.reference == reference,
                )
                if (await session.execute(taken)).first() is not None:
                    raise BatchReferenceReused(reference)
            session.add(batch)
            await session.flush()
            ours = select(Area.code).where(
                Area.level == "village", Area.code.like(principal.area + "%")
            )
            villages = set((await session.execute(ours)).scalars())
            rows = rows_of(file, fmt, encoding)
            try:
                count = 0
                while True:
                    try:
                        chunk = await asyncio.to_thread(
                            _prepare, rows, villages, today, settings, batch.id
                        )
                    except parsing.Unreadable as exc:
                        raise Unprocessable(exc.code, exc.detail) from exc
                    if not chunk:
                        break
                    count += len(chunk)
                    if count > MAX_ROWS:
                        raise TooManyRows(MAX_ROWS)
                    await _store(session, batch.id, chunk)
            finally:
                rows.close()  # the reader lets go of the file before it is closed
            if count == 0:
                raise FileEmpty()
    except IntegrityError:
        # the same upload, sent twice at once, was taken by the other request
        earlier = (await session.execute(same)).scalar_one_or_none()
        if earlier is None:
            raise
        return earlier, False
    return batch, True


async def visible_batch(session: AsyncSession, principal: Principal, batch_id: str) -> WarningBatch:
    """A department sees only its own batches (another's answers 404, as if absent)."""
    batch = await session.get(WarningBatch, batch_id)
    if (
        batch is None
        or not (principal.covers(batch.area_code) or principal.area.startswith(batch.area_code))
        or (principal.role == Role.department and batch.sender != principal.department)
    ):
        raise WarningBatchNotFound()
    return batch


async def summary(session: AsyncSession, batch_ids: list[str]) -> dict[str, dict[str, int]]:
    rows = (
        await session.execute(
            select(
                DepartmentWarning.batch_id,
                DepartmentWarning.status,
                func.count(),
                func.count(DepartmentWarning.household_id),
                func.count(DepartmentWarning.case_id),
            )
            .where(DepartmentWarning.batch_id.in_(batch_ids))
            .group_by(DepartmentWarning.batch_id, DepartmentWarning.status)
        )
    ).all()
    decided = (
        await session.execute(
            select(WarningDisposition.batch_id, WarningDisposition.decision, func.count())
            .where(WarningDisposition.batch_id.in_(batch_ids))
            .group_by(WarningDisposition.batch_id, WarningDisposition.decision)
        )
    ).all()
    out = {
        b: dict.fromkeys(
            (
                "rows",
                "accepted",
                "rejected",
                "matched_households",
                "matched_open_cases",
                "distributed",
                "dismissed",
            ),
            0,
        )
        for b in batch_ids
    }
    for batch_id, status, count, households, open_cases in rows:
        into = out[batch_id]
        into["rows"] += count
        into[status] += count
        into["matched_households"] += households
        into["matched_open_cases"] += open_cases
    for batch_id, decision, count in decided:
        out[batch_id][decision] += count
    return out


async def dispose(
    session: AsyncSession,
    principal: Principal,
    batch: WarningBatch,
    items: list[dict[str, Any]],
    now: datetime,
    settings: Settings,
) -> list[WarningDisposition]:
    """Classify and distribute (or dismiss) accepted warnings, all in one transaction."""
    lines = [item["line"] for item in items]
    if len(set(lines)) != len(lines):
        raise LineRepeated()
    warnings = {
        w.line: w
        for w in (
            await session.execute(
                select(DepartmentWarning).where(
                    DepartmentWarning.batch_id == batch.id, DepartmentWarning.line.in_(lines)
                )
            )
        ).scalars()
    }
    problems = [
        line for line in lines if line not in warnings or warnings[line].status != "accepted"
    ]
    if problems:
        raise WarningNotAccepted(problems)
    taken = select(WarningDisposition.line).where(
        WarningDisposition.batch_id == batch.id, WarningDisposition.line.in_(lines)
    )
    decided = (await session.execute(taken)).scalars()
    again = sorted(decided)
    if again:
        raise WarningAlreadyDecided(again)
    cipher = cipher_for(settings.field_keys)
    step = CURRENT_WORKFLOW.step(OPEN_ACTIONS[Channel.department_flagged], "new")
    assert step is not None
    out = []
    for item in items:
        warning = warnings[item["line"]]
        risk = item.get("risk_type") or warning.risk_type
        disposition = WarningDisposition(
            batch_id=batch.id,
            line=warning.line,
            decision=item["decision"],
            risk_type=risk,
            reason=item.get("reason"),
            decided_by=principal.sub,
            decided_at=now,
        )
        if item["decision"] == "distributed":
            assert warning.id_digest
            assert warning.id_number_encrypted
            assert warning.village_code
            number = cipher.decrypt(
                warning.id_number_encrypted,
                context("department_warning", f"{batch.id}:{warning.line}", "id_number"),
            )
            household = await _household(session, warning, number, now, settings)
            report = {
                "channel": Channel.department_flagged.value,
                "source": f"{batch.source}:{batch.sender}:{batch.id}:{warning.line}",
                "description": warning.description,
                "risk_type": risk,
            }
            snap, attached = await opening.report_on_household(
                session, principal, household, report, CURRENT_WORKFLOW, step, now
            )
            township = household.village_code[:9]
            if not attached:
                payload = {"township_code": township, "note": item.get("reason")}
                await cases.fire_on_held(session, snap, "distribute", payload, principal, now)
            disposition.case_id, disposition.attached = snap.id, attached
            disposition.township_code = township
        session.add(disposition)
        out.append(disposition)
    await session.flush()
    return out


async def _household(
    session: AsyncSession,
    warning: DepartmentWarning,
    number: str,
    now: datetime,
    settings: Settings,
) -> HouseholdFacts:
    """The person's registered household; else one registered from the warning, the person as
    its head (the village corrects it when it verifies)."""
    index = blind.blind_of(settings)
    household = await household_of_person(session, index.candidates(number))
    if household is not None:
        return household
    body = HouseholdIn(
        head_name=warning.name or "",
        head_id_number=number,
        village_code=warning.village_code or "",
        size=1,
    )
    return await registry.insert_household(session, body, index.digest(number), now, settings)
