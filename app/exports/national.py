"""The national export and the ledgers: one table of columns, SQL generated from it.

Each column is a national form's field name and an SQL expression over ``c`` (the case),
``h`` (its household), ``village``/``township``/``county`` (areas) and ``m`` (a member). Case
fields come from the projection the write path keeps (``monitoring_case.national``), so the
database hands out flat values; for JSON Lines it builds each case's document itself
(members nested) and the service only swaps each member's ciphertext for the ID number it
decrypts. CSV and XLSX take one row per member.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.crypto import FieldCipher, context
from app.exports import labels, projection


def _label(expression: str, mapping: dict[str, str]) -> str:
    whens = " ".join(f"WHEN '{key}' THEN '{value}'" for key, value in mapping.items())
    return f"CASE {expression} {whens} ELSE {expression} END"


def _national(field: str, postgres: bool) -> str:
    return (f"c.national ->> '{field}'" if postgres
            else f"json_extract(c.national, '$.\"{field}\"')")  # fmt: skip


def case_columns(postgres: bool) -> list[tuple[str, str]]:
    return [
        ("case_id", "c.id"),
        ("户编号", "h.household_number"),
        ("县", "county.name"),
        ("乡", "township.name"),
        ("村", "village.name"),
        ("行政区划代码", "h.village_code"),
        ("户主姓名", "h.head_name"),
        ("家庭人口数", "h.size"),
        *((field, _national(field, postgres)) for field in projection.FIELDS),
    ]


MEMBER_COLUMNS = [
    ("member_id", "m.id"),
    ("人编号", "m.member_number"),
    ("姓名", "m.name"),
    ("证件号码", "m.id_number_encrypted"),
    ("与户主关系", _label("m.relation", labels.RELATION)),
    ("性别", _label("m.sex", labels.SEX)),
    ("民族", "m.ethnicity"),
    ("出生日期", "CAST(m.birth_date AS TEXT)"),
    ("文化程度", _label("m.education", labels.EDUCATION)),
    ("在校生状况", _label("m.school_status", labels.SCHOOL_STATUS)),
    ("健康状况", _label("m.health", labels.HEALTH)),
    ("劳动技能", _label("m.labour_skill", labels.LABOUR_SKILL)),
    ("参加城乡居民基本医疗保险",
     "CASE WHEN m.medical_insurance THEN '是' WHEN NOT m.medical_insurance THEN '否' END"),
]  # fmt: skip
ID_COLUMN = "证件号码"
MEMBER_ORDER = "m.relation <> 'head', m.birth_date, m.id"
FROM = """FROM monitoring_case c
    JOIN household h ON h.id = c.household_id
    LEFT JOIN area village ON village.code = h.village_code
    LEFT JOIN area township ON township.code = substr(h.village_code, 1, 9)
    LEFT JOIN area county ON county.code = substr(h.village_code, 1, 6)"""
SELECTION = """c.national IS NOT NULL AND c.area_code LIKE :area AND (
      c.id IN (SELECT e.case_id FROM audit_log l JOIN case_event e ON e.id = l.event_id
               WHERE l.log_index > :after AND l.log_index < :to)
      OR c.id IN (SELECT s.case_id FROM national_sync s WHERE s.status = 'rejected'))"""


def headers(postgres: bool = True) -> list[str]:
    """The flat (CSV/XLSX) header row: case fields, then member fields."""
    return [name for name, _ in case_columns(postgres)] + [name for name, _ in MEMBER_COLUMNS]


def jsonl_query(postgres: bool) -> str:
    """One row per case: ``doc`` (the case's JSON document, members nested under 成员, each
    with its ID number still encrypted) and ``sealed`` (``member_id ciphertext`` pairs)."""
    obj = "json_build_object" if postgres else "json_object"
    pairs = ", ".join(f"'{name}', {expr}" for name, expr in case_columns(postgres))
    member_pairs = ", ".join(f"'{name}', {expr}" for name, expr in MEMBER_COLUMNS)
    if postgres:
        members = (f"COALESCE((SELECT json_agg({obj}({member_pairs}) ORDER BY {MEMBER_ORDER})"
                   " FROM member m WHERE m.household_id = h.id), '[]'::json)")  # fmt: skip
        sealed = ("(SELECT string_agg(m.id || ' ' || m.id_number_encrypted, ',')"
                  " FROM member m WHERE m.household_id = h.id)")  # fmt: skip
    else:
        ordered = f"SELECT * FROM member m WHERE m.household_id = h.id ORDER BY {MEMBER_ORDER}"
        members = f"(SELECT json_group_array(json({obj}({member_pairs}))) FROM ({ordered}) m)"
        sealed = ("(SELECT group_concat(m.id || ' ' || m.id_number_encrypted, ',')"
                  " FROM member m WHERE m.household_id = h.id)")  # fmt: skip
    doc = f"CAST({obj}({pairs}, '成员', {members}) AS TEXT)"
    return (f"SELECT c.id AS case_id, {doc} AS doc, {sealed} AS sealed"
            f" {FROM} WHERE {SELECTION} ORDER BY c.id")  # fmt: skip


def flat_query(postgres: bool) -> str:
    columns = ", ".join(expr for _, expr in case_columns(postgres) + MEMBER_COLUMNS)
    return (f"SELECT {columns} {FROM} JOIN member m ON m.household_id = h.id"
            f" WHERE {SELECTION} ORDER BY c.id, {MEMBER_ORDER}")  # fmt: skip


def sync_statement(postgres: bool) -> str:
    """Mark every case of a finished export as sent: the version recorded is the newest event
    of the case inside the export's log range (what was sent is at least that new)."""
    return f"""INSERT INTO national_sync (case_id, status, batch_id, exported_version, exported_at)
    SELECT c.id, 'exported', :batch, (SELECT max(e.seq) FROM case_event e
        JOIN audit_log l ON l.event_id = e.id WHERE e.case_id = c.id AND l.log_index < :to),
        :now {FROM} WHERE {SELECTION}
    ON CONFLICT (case_id) DO UPDATE SET status = 'exported', batch_id = excluded.batch_id,
        exported_version = excluded.exported_version, exported_at = excluded.exported_at,
        reason = NULL, acknowledged_at = NULL, acknowledged_by = NULL"""


@dataclass
class Tally:
    cases: int = 0
    rows: int = 0


async def stream_jsonl(
    session: AsyncSession, params: dict[str, Any], cipher: FieldCipher, tally: Tally
) -> AsyncIterator[bytes]:
    postgres = session.get_bind().dialect.name == "postgresql"
    result = await session.stream(
        text(jsonl_query(postgres)).execution_options(yield_per=2000), params
    )
    chunk: list[str] = []
    async for _case_id, doc, sealed in result:
        for pair in (sealed or "").split(","):
            if pair:
                member_id, token = pair.split(" ", 1)
                plain = cipher.decrypt(token, context("member", member_id, "id_number"))
                doc = doc.replace(token, plain, 1)
        chunk.append(doc)
        tally.cases += 1
        tally.rows += 1
        if len(chunk) == 500:
            yield ("\n".join(chunk) + "\n").encode()
            chunk.clear()
    if chunk:
        yield ("\n".join(chunk) + "\n").encode()


async def flat_rows(
    session: AsyncSession, params: dict[str, Any], cipher: FieldCipher, tally: Tally
) -> AsyncIterator[list[Any]]:
    postgres = session.get_bind().dialect.name == "postgresql"
    result = await session.stream(
        text(flat_query(postgres)).execution_options(yield_per=2000), params
    )
    names = headers(postgres)
    id_at, member_at = names.index(ID_COLUMN), names.index("member_id")
    last_case = None
    async for row in result:
        values = list(row)
        sealed_at = context("member", values[member_at], "id_number")
        values[id_at] = cipher.decrypt(values[id_at], sealed_at)
        if values[0] != last_case:
            tally.cases, last_case = tally.cases + 1, values[0]
        tally.rows += 1
        yield values


def csv_lines(header: list[str], encoding: str) -> tuple[Callable[[list[Any]], bytes], bytes]:
    """An encoder of one row, and the file's first bytes (BOM for UTF-8, then the header)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def encode(values: list[Any]) -> bytes:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(["" if v is None else v for v in values])
        return buffer.getvalue().encode(encoding)

    start = ("\ufeff".encode() if encoding == "utf-8" else b"") + encode(header)
    return encode, start


def column_widths(header: list[str]) -> Iterator[tuple[str, float]]:
    """Excel column letters and widths that fit the Chinese headers and typical values."""
    from openpyxl.utils import get_column_letter

    for index, name in enumerate(header, start=1):
        wide = {"证件号码": 22, "case_id": 38, "member_id": 38, "行政区划代码": 15}.get(name)
        yield get_column_letter(index), float(wide or max(10, 2 * len(name) + 2))
