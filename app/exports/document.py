"""The national document of a confirmed case, kept by the write path in its own table.

One JSON object per case, as a line of the national export: the household's and areas'
fields, the projection of the case's facts (:mod:`app.exports.projection`) and 成员, the
members. ID numbers are not in it: each member's 证件号码 holds ``#``, and the members'
numbers, in that order, are sealed together beside it (``numbers``), so the export opens one
ciphertext per case, not one per member, looks nothing up, and fills the places in by
splitting the document once and joining it with the numbers between. Key rotation
reseals them with the member rows. Ledgers and the CSV/XLSX exports read their fields from
the document.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.areas.models import Area
from app.core.crypto import CipherError, FieldCipher, cipher_for, context
from app.exports import labels
from app.exports.models import NationalDocument
from app.exports.projection import project
from app.households.models import Household, Member

HEAD_FIELDS = ("case_id", "户编号", "县", "乡", "村", "行政区划代码", "户主姓名", "家庭人口数")
MEMBER_FIELDS = (
    "member_id", "人编号", "姓名", "证件号码", "与户主关系", "性别", "民族", "出生日期",
    "文化程度", "在校生状况", "健康状况", "劳动技能", "参加城乡居民基本医疗保险",
)  # fmt: skip
ID_FIELD = "证件号码"


PLACEHOLDER = "#"
MARK = f'"{ID_FIELD}":"{PLACEHOLDER}"'.encode()
"""Where a member's number goes in a document's bytes. Anchored on the field's name and
quoted: a value cannot forge it, since quotes inside JSON strings are escaped."""
FILLED = (f'"{ID_FIELD}":"'.encode(), b'"')
OLDER_PLACE = f'"{ID_FIELD}":"{PLACEHOLDER}'.encode()
"""The start of a place of the form before revision 0021 (``#<member id>``), which only a
version from before it writes."""


def numbers_context(case_id: str) -> str:
    return context("national_document", case_id, "numbers")


def seal_numbers(cipher: FieldCipher, case_id: str, members: Sequence[Any]) -> str:
    """The members' ID numbers, in the document's order, as one ciphertext."""
    plain = [cipher.decrypt(m.id_number_encrypted, context("member", m.id, "id_number"))
             for m in members]  # fmt: skip
    return cipher.encrypt(",".join(plain), numbers_context(case_id))


def filled(case_id: bytes, numbers: bytes, text: bytes, cipher: FieldCipher) -> list[bytes]:
    """A document's pieces with its members' numbers between them: joined, the document as
    sent (UTF-8 bytes in and out). The document is cut at its places once and the filled
    fields laid between the pieces by list slices, no step per member in Python."""
    pieces = text.split(MARK)
    if len(pieces) == 1:  # no members (rare), or places this version does not fill
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
        raise CipherError(f"case {case_id.decode()}'s numbers do not match its members")
    out = pieces + fields
    out[::2], out[1::2] = pieces, fields
    return out


def _label(mapping: dict[Any, str], value: Any) -> Any:
    return None if value is None else mapping.get(value, value)


def member_fields(member: Any) -> dict[str, Any]:
    """A member row (``Member`` or a row with its columns) under the forms' names."""
    return {
        "member_id": member.id,
        "人编号": member.member_number,
        "姓名": member.name,
        ID_FIELD: PLACEHOLDER,
        "与户主关系": _label(labels.RELATION, member.relation),
        "性别": _label(labels.SEX, member.sex),
        "民族": member.ethnicity,
        "出生日期": None if member.birth_date is None else str(member.birth_date),
        "文化程度": _label(labels.EDUCATION, member.education),
        "在校生状况": _label(labels.SCHOOL_STATUS, member.school_status),
        "健康状况": _label(labels.HEALTH, member.health),
        "劳动技能": _label(labels.LABOUR_SKILL, member.labour_skill),
        "参加城乡居民基本医疗保险": _label(labels.YES_NO, member.medical_insurance),
    }


def compose(
    case_id: str,
    record: dict[str, str],
    household: Any,
    areas: tuple[str | None, str | None, str | None],
    members: Sequence[Any],
) -> str:
    """The document as text (fields in the forms' order, UTF-8 as is)."""
    county, township, village = areas
    document: dict[str, Any] = {
        "case_id": case_id,
        "户编号": household.household_number,
        "县": county,
        "乡": township,
        "村": village,
        "行政区划代码": household.village_code,
        "户主姓名": household.head_name,
        "家庭人口数": household.size,
        **record,
        "成员": [member_fields(m) for m in members],
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


async def keep(session: AsyncSession, case: Any) -> None:
    """Store the document of ``case`` (id, household, version, area and facts as they now
    stand), its members' numbers sealed with the session's field keys; nothing before the
    city confirmed it (a confirmation is never undone, so there is no document to remove)."""
    record = project(case.facts)
    if record is None:
        return
    text, members = await build(session, case.id, case.household_id, record)
    numbers = seal_numbers(cipher_for(session.info["field_keys"]), case.id, members)
    values = {"version": case.version, "area_code": case.area_code, "document": text,
              "numbers": numbers}  # fmt: skip
    found = await session.execute(
        update(NationalDocument).where(NationalDocument.case_id == case.id).values(**values)
    )
    if not found.rowcount:  # type: ignore[attr-defined]
        session.add(NationalDocument(case_id=case.id, **values))
        await session.flush()


async def build(
    session: AsyncSession, case_id: str, household_id: str, record: dict[str, str]
) -> tuple[str, Sequence[Member]]:
    """The document for the confirmed case as it now stands, and its members in order."""
    await session.flush()  # registry changes made earlier in this transaction count
    household = await session.get(Household, household_id)
    assert household is not None
    county, township, village = aliased(Area), aliased(Area), aliased(Area)
    names = (await session.execute(
        select(county.name, township.name, village.name)
        .select_from(village)
        .outerjoin(township, township.code == func.substr(village.code, 1, 9))
        .outerjoin(county, county.code == func.substr(village.code, 1, 6))
        .where(village.code == household.village_code))).first()  # fmt: skip
    in_order = (Member.relation != "head", Member.birth_date, Member.id)
    members = (await session.execute(
        select(Member).where(Member.household_id == household_id).order_by(*in_order)
    )).scalars().all()  # fmt: skip
    areas = (names[0], names[1], names[2]) if names else (None, None, None)
    return compose(case_id, record, household, areas, members), members
