"""The national document of a confirmed case, kept by the write path in its own table.

One JSON object per case, as a line of the national export: the national sheet's household
columns (:mod:`app.national_sheet.sheet`; the projection of the case's facts,
:mod:`app.exports.projection`, with the areas' and the registry's fields), the service's own
extras, and 成员, the members under the sheet's member columns. Each document records the
sheet version it was written under (``sheet_version``); :func:`refresh` rewrites those of an
older one. ID numbers and phones are not in it: each member's 证件号码 and 家庭成员联系电话 and
the household's 户联系电话 hold ``#`` (a place), and their values, in the order of the places,
are sealed together beside it (``numbers``), so the export opens one ciphertext per case, not
one per member, looks nothing up, and fills the places in by splitting the document once and
joining it with the values between. Key rotation reseals them with the member rows. Ledgers
and the CSV/XLSX exports read their fields from the document (ledgers leave the places out).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from app.areas.models import Area
from app.cases.models import Case
from app.core.crypto import CipherError, FieldCipher, cipher_for, context
from app.exports import quality
from app.exports.models import NationalDocument
from app.exports.projection import project
from app.households.models import Household, Member
from app.national_sheet import corrections, labels, sheet
from workflows.calendar import local_date

ID_FIELD = sheet.ID_FIELD
DOCUMENT_TYPE = "居民身份证"
"""证件类型: the registry takes mainland resident ID numbers only (idnumber's check)."""


PLACEHOLDER = "#"
HOUSEHOLD_PHONE, MEMBER_PHONE = "户联系电话", "家庭成员联系电话"
SEALED = (HOUSEHOLD_PHONE, ID_FIELD, MEMBER_PHONE)
"""The fields a document holds places for: the household's first, then each member's."""
SUFFIX = b'":"' + PLACEHOLDER.encode() + b'"'
"""What follows a place's field name in a document's bytes. Quotes inside JSON strings are
escaped, so it only ever follows a field's name; a place is where that name is one of
:data:`SEALED` (another field whose value is ``#`` is not one)."""
ENDINGS = tuple(b'"' + name.encode() for name in SEALED)
OLDER_PLACE = f'"{ID_FIELD}":"{PLACEHOLDER}'.encode()
"""The start of a place of the form before revision 0021 (``#<member id>``), which only a
version from before it writes."""


def numbers_context(case_id: str) -> str:
    return context("national_document", case_id, "numbers")


def place_values(household_phone: str | None, members: Sequence[tuple[str, str | None]]) -> str:
    """What fills a document's places, in their order (:data:`SEALED`): the household's phone,
    then each member's ID number and phone (an unknown phone is empty). Neither holds a comma."""
    values = [household_phone or ""]
    for number, phone in members:
        values += (number, phone or "")
    return ",".join(values)


def seal_numbers(cipher: FieldCipher, case_id: str, household: Any, members: Sequence[Any]) -> str:
    """The values of the document's places, as one ciphertext."""

    def opened(token: str | None, table: str, row: str, column: str) -> str | None:
        return cipher.decrypt(token, context(table, row, column)) if token else None

    return cipher.encrypt(
        place_values(
            opened(household.phone_encrypted, "household", household.id, "phone"),
            [
                (
                    cipher.decrypt(m.id_number_encrypted, context("member", m.id, "id_number")),
                    opened(m.phone_encrypted, "member", m.id, "phone"),
                )
                for m in members
            ],
        ),
        numbers_context(case_id),
    )


def filled(case_id: bytes, numbers: bytes, text: bytes, cipher: FieldCipher) -> list[bytes]:
    """A document's pieces with its sealed values in their places: joined, the document as
    sent (UTF-8 bytes in and out). The document is cut where a field's value is ``#`` (a
    bytes split, the fastest cut there is), a cut after a field that is not a place is joined
    back, and the filled values are laid between the pieces by list slices."""
    parts = text.split(SUFFIX)
    pieces = parts[:1]
    for part in parts[1:]:
        if pieces[-1].endswith(ENDINGS):
            pieces.append(part)
        else:  # a value "#" of another field: not a place
            pieces[-1] += SUFFIX + part
    if len(pieces) == 1:  # places this version does not fill
        if OLDER_PLACE in text:
            raise CipherError(
                f"case {case_id.decode()}'s document has places of the "
                "form before revision 0021, written by a version before it"
            )
        return pieces
    opened = cipher.open_sealed(numbers, b"national_document:" + case_id + b":numbers")
    before, after = FILLED
    fields = (before + opened.replace(b",", after + b"," + before) + after).split(b",")
    if len(fields) != len(pieces) - 1:
        raise CipherError(f"case {case_id.decode()}'s numbers do not match its places")
    out = pieces + fields
    out[::2], out[1::2] = pieces, fields
    return out


FILLED = (b'":"', b'"')
"""A filled place is its field's name (kept on the piece before), then these around the value."""


def _label(mapping: dict[Any, str], value: Any) -> str:
    return "" if value is None else mapping.get(value, value)


def _receives(member: Any, kind: str) -> str:
    """享受低保/特困: 是 or 否 where the registry knows, else empty."""
    return "" if member.social_assistance is None else sheet.flag(member.social_assistance == kind)


def member_sources(member: Any, head_sex: str | None = None) -> dict[str, Any]:
    """The service fields the sheet's member columns read, as the sheet writes them; an
    in-law's relation is named by the head's sex."""
    return {
        "member_number": member.member_number or "",
        "name": member.name,
        "document_type": DOCUMENT_TYPE,
        "id_number": PLACEHOLDER,
        "phone": PLACEHOLDER,
        "sex": _label(labels.SEX, member.sex),
        "ethnicity": member.ethnicity or "",
        "birth_date": sheet.day(member.birth_date),
        "relation": labels.relation(member.relation, head_sex),
        "education": _label(labels.EDUCATION, member.education),
        "school_status": _label(labels.SCHOOL_STATUS, member.school_status),
        "health": _label(labels.HEALTH, member.health),
        "labour_skill": _label(labels.LABOUR_SKILL, member.labour_skill),
        "medical_insurance": sheet.flag(member.medical_insurance),
        "minimum_living_allowance": _receives(member, "dibao"),
        "extreme_poverty_support": _receives(member, "tekun"),
        **{name: sheet.flag(getattr(member, name, None)) for name in MEMBER_FLAGS},
        **{name: _text(getattr(member, name, None)) for name in MEMBER_TEXT},
    }


MEMBER_FLAGS = (
    "employee_medical_insurance",
    "critical_illness_insurance",
    "resident_pension",
    "employee_pension",
    "medical_assistance",
)
MEMBER_TEXT = (
    "work_place",
    "employment_channel",
    "public_welfare_post",
    "public_welfare_months",
    "out_of_school_reason",
)
HOUSEHOLD_FLAGS = ("has_power", "road_hardened", "sanitary_toilet")
HOUSEHOLD_NUMBERS = (
    "house_area",
    "main_road_distance",
    "farmland_area",
    "forest_area",
    "returned_forest_area",
    "orchard_area",
    "pasture_area",
    "water_area",
)


def _text(value: Any) -> str:
    """A registry value as the sheet's text (numbers as written: 12, 85.50)."""
    return "" if value is None else str(value)


def member_fields(member: Any, head_sex: str | None = None) -> dict[str, Any]:
    """A member row (``Member`` or a row with its columns) under the sheet's names, after its
    service id."""
    return {
        "member_id": member.id,
        **sheet.values(member_sources(member, head_sex), sheet.MEMBER),
        sheet.MEMBER_EXTRA[0]: _text(getattr(member, "social_assistance_monthly", None)),
    }


COMPOSED = (
    "county_name",
    "township_name",
    "village_name",
    "household_number",
    "household_phone",
    "member_uninsured",
    "after_member_uninsured",
    *HOUSEHOLD_FLAGS,
    *HOUSEHOLD_NUMBERS,
)
"""Household sources :func:`compose` fills from the areas, the registry and the members."""
BY_SOURCE = {c.source: c.name for c in sheet.HOUSEHOLD if c.source in COMPOSED}


ELIMINATED = "风险是否已消除"


def _uninsured(members: Sequence[Any]) -> str:
    """是否有家庭成员未参加城乡居民（职工）基本医疗保险, where every member's answer is known."""
    known = [m.medical_insurance for m in members]
    if False in known:
        return "是"
    return "否" if known and None not in known else ""


def compose(
    case_id: str,
    record: dict[str, Any],
    household: Any,
    areas: tuple[str | None, str | None, str | None],
    members: Sequence[Any],
) -> str:
    """The document as text (the sheet's order, UTF-8 as is)."""
    return as_text(document_of(case_id, record, household, areas, members))


def as_text(document: dict[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def document_of(
    case_id: str,
    record: dict[str, Any],
    household: Any,
    areas: tuple[str | None, str | None, str | None],
    members: Sequence[Any],
) -> dict[str, Any]:
    """The document, in the sheet's order."""
    county, township, village = areas
    head_sex = next((m.sex for m in members if m.relation == "head"), None)
    composed = {
        "county_name": county or "",
        "township_name": township or "",
        "village_name": village or "",
        "household_number": household.household_number or "",
        "household_phone": PLACEHOLDER,
        "member_uninsured": _uninsured(members),
        # after an elimination, the members' answers as they stand (the registry keeps no
        # earlier answers to tell them apart)
        "after_member_uninsured": _uninsured(members) if record.get(ELIMINATED) == "是" else "",
        **{name: sheet.flag(getattr(household, name, None)) for name in HOUSEHOLD_FLAGS},
        **{name: _text(getattr(household, name, None)) for name in HOUSEHOLD_NUMBERS},
    }
    document: dict[str, Any] = {
        "case_id": case_id,
        **record,
        **{BY_SOURCE[source]: value for source, value in composed.items()},
        "行政区划代码": household.village_code,
        "户主姓名": household.head_name,
        "家庭人口数": household.size,
        "成员": [_given(member_fields(m, head_sex)) for m in members],
    }
    return _given(document)


def _given(fields: dict[str, Any]) -> dict[str, Any]:
    """The fields that hold a value: an empty one is left out (a reader takes a missing name
    as empty, and CSV and XLSX carry every column), which keeps a document of 2.5 members at
    about 1.6 KB instead of 4.3, and the export of a million cases at twice the speed."""
    return {name: value for name, value in fields.items() if value != ""}


async def keep(session: AsyncSession, case: Any) -> None:
    """Store the document of ``case`` (id, household, version, area and facts as they now
    stand), its members' numbers sealed with the session's field keys; nothing before the
    city confirmed it (a confirmation is never undone, so there is no document to remove)."""
    await corrections.ensure_current(session, fresh=False)  # the city's corrected lists
    record = project(case.facts, case.state)
    if record is None:
        return
    document, members = await build(session, case.id, case.household_id, record)
    household = await session.get(Household, case.household_id)
    numbers = seal_numbers(cipher_for(session.info["field_keys"]), case.id, household, members)
    flags = quality.flags(document, local_date(case.updated_at))  # on the dict, not re-parsed
    values = {
        "version": case.version,
        "area_code": case.area_code,
        "document": as_text(document),
        "numbers": numbers,
        "sheet_version": corrections.stamp(),
        "quality": quality.joined(flags),
    }
    found = await session.execute(
        update(NationalDocument).where(NationalDocument.case_id == case.id).values(**values)
    )
    if not found.rowcount:  # type: ignore[attr-defined]
        session.add(NationalDocument(case_id=case.id, **values))
        await session.flush()


async def build(
    session: AsyncSession, case_id: str, household_id: str, record: dict[str, str]
) -> tuple[dict[str, Any], Sequence[Member]]:
    """The document for the confirmed case as it now stands, and its members in order."""
    await session.flush()  # registry changes made earlier in this transaction count
    household = await session.get(Household, household_id)
    assert household is not None
    county, township, village = aliased(Area), aliased(Area), aliased(Area)
    names = (
        await session.execute(
            select(county.name, township.name, village.name)
            .select_from(village)
            .outerjoin(township, township.code == func.substr(village.code, 1, 9))
            .outerjoin(county, county.code == func.substr(village.code, 1, 6))
            .where(village.code == household.village_code)
        )
    ).first()
    in_order = (Member.relation != "head", Member.birth_date, Member.id)
    members = (
        (
            await session.execute(
                select(Member).where(Member.household_id == household_id).order_by(*in_order)
            )
        )
        .scalars()
        .all()
    )
    areas = (names[0], names[1], names[2]) if names else (None, None, None)
    return document_of(case_id, record, household, areas, members), members


def stale() -> Any:
    """Documents written under another version of the sheet or of its code lists (or before
    versions were kept): as ranges either side of the current one, which the version's index
    serves (for ``!=`` a database reads every document)."""
    current = corrections.stamp()
    version = NationalDocument.sheet_version
    return or_(version.is_(None), version < current, version > current)


async def refresh(sessionmaker: async_sessionmaker[AsyncSession], *, batch: int = 500) -> int:
    """Rewrite every document written under another sheet version from its case as it now
    stands; answers how many. Each batch is its own short transaction with its cases locked,
    so writers wait at most for one batch. Run by ``fangfanpin migrate`` after a release that
    changes the sheet, and by each national export, ledger and quality report before it
    reads (the city may have corrected the code lists since: app.national_sheet.corrections)."""
    async with sessionmaker() as session:
        await corrections.ensure_current(session)
    rewritten = 0
    while True:
        async with sessionmaker() as session, session.begin():
            query = (
                select(Case)
                .join(NationalDocument, NationalDocument.case_id == Case.id)
                .where(stale())
                .order_by(Case.id)
                .limit(batch)
                .with_for_update(of=Case, skip_locked=True)
            )
            cases = list((await session.execute(query)).scalars())
            for case in cases:
                await keep(session, case)
        rewritten += len(cases)
        if len(cases) < batch:
            return rewritten
