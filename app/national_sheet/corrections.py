"""The city corrects the national code lists without a release.

The lists ship with the release (``code_lists/<version>.json``); where an item could not be
confirmed there (marked ``provisional``), or the national system renames one, the city bureau
posts a correction: for each list it corrects, the national items and the mapping of every
service identifier to one of them. A correction is written once (``code_list_correction``,
append-only), holds the lists whole as they stand after it, and names the release lists it
corrects. The newest one on this release's lists applies: each process loads it before it
writes or reads national documents (:func:`ensure_current`), documents record the lists they
were written with (``sheet_version`` ``2022.1/3/c2``), and those written with others are
rewritten before the next export, ledger or quality report.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.permissions import permit
from app.auth.tokens import Principal
from app.national_sheet import labels, sheet
from app.national_sheet.errors import CodeListCorrectionConcurrent, CodeListInvalid
from app.national_sheet.models import CodeListCorrection
from workflows.permissions import Permission

Item = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
CHECK_EVERY = 30.0
"""Seconds a process writing documents trusts the lists it loaded before asking again."""
_checked = {"at": float("-inf"), "number": 0}


class ListCorrection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    national: list[Item] = Field(min_length=1, max_length=200)
    """The list's items, spelled as the national system spells them."""
    items: dict[str, Item | dict[Literal["male", "female"], Item]]
    """Every service identifier of the list, to its item (by the head's sex where it
    depends on it, as 与户主关系's in-laws do)."""


class CorrectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Text
    lists: dict[str, ListCorrection] = Field(min_length=1, max_length=20)


def forget() -> None:
    """Back to the release's lists, as a new process starts (tests reset the database)."""
    labels.apply(labels.RELEASED, labels.CODE_LISTS_VERSION)
    _checked.update(at=float("-inf"), number=0)


def stamp() -> str:
    """What a document written now records: the sheet's version and the lists used."""
    number = _checked["number"]
    return f"{sheet.STAMP}/c{number}" if number else sheet.STAMP


def _problems(current: dict[str, Any], body: CorrectionIn) -> list[dict[str, str]]:
    found = []

    def refuse(field: str, message: str) -> None:
        found.append({"field": field, "type": "code_list_invalid", "message": message})

    for name, change in body.lists.items():
        where = f"lists.{name}"
        if name not in current:
            refuse(where, f"No code list {name!r}; the lists are {', '.join(sorted(current))}.")
            continue
        if len(set(change.national)) != len(change.national):
            refuse(f"{where}.national", "An item is listed twice.")
        known, given = set(current[name]["items"]), set(change.items)
        if known - given:
            refuse(
                f"{where}.items",
                f"Every identifier maps to an item; missing: {', '.join(sorted(known - given))}.",
            )
        if given - known:
            refuse(
                f"{where}.items",
                f"No such identifier: {', '.join(sorted(given - known))} "
                "(the service's identifiers change with a release only).",
            )
        for identifier, item in change.items.items():
            for value in item.values() if isinstance(item, dict) else [item]:
                if value not in change.national:
                    refuse(f"{where}.items.{identifier}", f"{value!r} is not in the list.")
    return found


async def current(session: AsyncSession) -> CodeListCorrection | None:
    """The newest correction of this release's lists, if any."""
    query = (
        select(CodeListCorrection)
        .where(CodeListCorrection.base_version == labels.CODE_LISTS_VERSION)
        .order_by(CodeListCorrection.number.desc())
        .limit(1)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def ensure_current(session: AsyncSession, *, fresh: bool = True) -> None:
    """Load the newest lists into this process; ``fresh=False`` (the write path) asks the
    database at most every :data:`CHECK_EVERY` seconds."""
    now = time.monotonic()
    if not fresh and now - _checked["at"] < CHECK_EVERY:
        return
    newest = await session.scalar(
        select(func.max(CodeListCorrection.number)).where(
            CodeListCorrection.base_version == labels.CODE_LISTS_VERSION
        )
    )
    _checked["at"] = now
    if (newest or 0) == _checked["number"]:
        return
    row = await current(session)
    if row is None:
        labels.apply(labels.RELEASED, labels.CODE_LISTS_VERSION)
        _checked["number"] = 0
    else:
        labels.apply(row.lists, f"{labels.CODE_LISTS_VERSION}/c{row.number}")
        _checked["number"] = row.number


async def correct(
    session: AsyncSession, principal: Principal, body: CorrectionIn, now: datetime
) -> CodeListCorrection:
    """A new correction over the lists now in force; 422 with every reason when it does not
    hold (each identifier mapped, each item in its list)."""
    permit(principal, Permission.policy_write)
    before = await current(session)
    lists = copy.deepcopy(before.lists if before else labels.RELEASED)
    found = _problems(lists, body)
    if found:
        raise CodeListInvalid(found)
    for name, change in body.lists.items():
        spec = lists[name]
        spec["national"], spec["items"] = change.national, change.items
        spec.pop("provisional", None)  # the city has said what the national list is
        if "retired" in spec:  # a stage's item that left the list goes out empty
            spec["retired"] = {
                k: v if v in change.national else "" for k, v in spec["retired"].items()
            }
    last = await session.scalar(select(func.max(CodeListCorrection.number)))
    row = CodeListCorrection(
        number=(last or 0) + 1,
        base_version=labels.CODE_LISTS_VERSION,
        lists=lists,
        changed=sorted(body.lists),
        created_at=now,
        created_by=principal.sub,
        reason=body.reason,
    )
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError as exc:
        raise CodeListCorrectionConcurrent() from exc
    await ensure_current(session)
    return row


async def listed(session: AsyncSession) -> Sequence[CodeListCorrection]:
    """Every correction, oldest first."""
    query = select(CodeListCorrection).order_by(CodeListCorrection.number)
    return (await session.execute(query)).scalars().all()
