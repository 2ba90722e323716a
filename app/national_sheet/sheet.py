"""The national monitored-household sheet (监测对象信息), as data.

The columns, their order, level, format and the service field each is read from live in
``sheets/monitored-households-<version>.tsv``, copied name by name from the national sheet.
Everything that writes the national export or the ledgers takes the columns from here; the
code only says how each service field is computed (:mod:`app.exports.projection` for the
household, :func:`member_values` for a member) and how each format is written.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

VERSION = "2022.1"
"""The national sheet's version: its names and their order."""
REVISION = 4
"""This table's revision for that version: which service field each column is read from
(2: the registry's living conditions, insurance, work and schooling fields; 3: insurance
claims, the natural disaster's sub-item, four more measure columns, the flags after an
elimination, the recording actor as 信息采集人, and 在校生状况 by grade; 4: empty fields left
out of the document)."""
STAMP = f"{VERSION}/{REVISION}"
"""What a national document records it was written under; another one is rewritten."""
SOURCE = Path(__file__).parent / "sheets" / f"monitored-households-{VERSION}.tsv"
TITLE = "监测对象信息"
FORMATS = ("text", "id", "number", "date", "month", "flag")


@dataclass(frozen=True)
class Column:
    name: str
    level: Literal["户", "人"]
    format: str
    source: str | None
    """The service field; None where the registry does not collect it yet."""


def _read(path: Path) -> Iterator[Column]:
    lines = [
        line
        for line in path.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    ]
    if lines[0].split("\t") != ["列名", "层级", "格式", "来源"]:
        raise ValueError(f"{path.name}: the header is not 列名 层级 格式 来源")
    for number, line in enumerate(lines[1:], start=2):
        name, level, form, source = line.split("\t")
        if level not in ("户", "人") or form not in FORMATS:
            raise ValueError(f"{path.name}, row {number}: level {level!r} or format {form!r}")
        yield Column(name, level, form, None if source == "-" else source)  # type: ignore[arg-type]


COLUMNS: tuple[Column, ...] = tuple(_read(SOURCE))
NAMES = tuple(c.name for c in COLUMNS)
HOUSEHOLD = tuple(c for c in COLUMNS if c.level == "户")
MEMBER = tuple(c for c in COLUMNS if c.level == "人")
ID_FIELD = "证件号码"
HOUSEHOLD_EXTRA = (
    "行政区划代码",
    "户主姓名",
    "家庭人口数",
    "家庭纯收入",
    "收入核查日期",
    "帮扶责任人单位",
)
"""The service's own household fields, after the national ones (the ledgers show them)."""
MEMBER_EXTRA = ("低保特困月保障金额（元）",)
"""The service's own member fields, after the member's id."""
NUMBERS = frozenset(
    {c.name for c in COLUMNS if c.format == "number"} | {"家庭纯收入", "家庭人口数", *MEMBER_EXTRA}
)
"""Columns written as numeric cells; every other one is a text cell."""
if len(set(NAMES)) != len(NAMES):
    raise ValueError(f"{SOURCE.name} names a column twice")


def flag(value: bool | None) -> str:
    return "" if value is None else ("是" if value else "否")


def day(value: date | str | None) -> str:
    """YYYYMMDD, as the sheet writes dates."""
    if not value:
        return ""
    return (value if isinstance(value, date) else date.fromisoformat(value)).strftime("%Y%m%d")


def cell(name: str, value: Any) -> Any:
    """A value as a spreadsheet cell: numbers in the numeric columns, text elsewhere, empty
    as None."""
    if value in ("", None):
        return None
    if name in NUMBERS:
        return Decimal(str(value))
    return str(value)


def values(sources: dict[str, Any], columns: tuple[Column, ...]) -> dict[str, Any]:
    """The columns' values from a dict of service fields (missing or uncollected: "")."""
    return {c.name: ("" if c.source is None else sources.get(c.source, "")) for c in columns}
