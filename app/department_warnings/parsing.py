"""Reading a warning batch row by row (CSV, XLSX, JSON), and checking each row.

Readers never hold the file: they yield ``(line, {field: raw value})`` from a seekable binary
file. A file that cannot be read as declared (bytes invalid in its encoding, no known header,
broken JSON or XLSX) raises :class:`Unreadable`, and the whole upload is refused.
"""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Generator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import IO, Any
from xml.etree import ElementTree
from xml.parsers import expat

import ijson

from app.households import idnumber
from app.national_sheet.labels import RISK_BY_NAME, RISK_TYPE
from workflows.vocabulary import RiskType

COLUMNS = {
    "姓名": "name",
    "name": "name",
    "证件号码": "id_number",
    "身份证号": "id_number",
    "身份证号码": "id_number",
    "id_number": "id_number",
    "村代码": "village_code",
    "village_code": "village_code",
    "风险类型": "risk_type",
    "risk_type": "risk_type",
    "预警信息": "description",
    "预警内容": "description",
    "description": "description",
    "预警日期": "flagged_on",
    "flagged_on": "flagged_on",
}
"""Headers a batch may use, Chinese as the departments' sheets have them, or the identifiers."""
REQUIRED = ("name", "id_number", "village_code", "risk_type", "description")
EXCEL_EPOCH = date(1899, 12, 30)
MAX_SHARED_STRINGS = 256 << 20
"""Uncompressed bytes of an XLSX's string table: held in memory, so bounded (a zip bomb)."""
RISK_BY_LABEL = RISK_BY_NAME


Rows = Generator[tuple[int, dict[str, Any]], None, None]
"""``(line, {field: raw value})`` of each row that is not blank."""


class Unreadable(ValueError):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code, self.detail = code, detail


def _header(cells: list[Any]) -> list[str | None]:
    names = [COLUMNS.get(str(c).strip().lstrip("\ufeff")) if c is not None else None for c in cells]
    missing = [f for f in REQUIRED if f not in names]
    if missing:
        known = ", ".join(COLUMNS)
        raise Unreadable(
            "header_unknown",
            "The first row must name the columns; missing: "
            + ", ".join(missing)
            + f". Known headers: {known}.",
        )
    return names


def _blank(values: dict[str, Any]) -> bool:
    return all(v is None or str(v).strip() == "" for v in values.values())


def read_csv(file: IO[bytes], encoding: str) -> Rows:
    # strict decoding: bytes that are not valid in the declared encoding refuse the file
    text = io.TextIOWrapper(
        file, encoding="utf-8-sig" if encoding == "utf-8" else encoding, errors="strict", newline=""
    )
    try:
        reader = csv.reader(text)
        try:
            names = _header(next(reader))
        except StopIteration:
            raise Unreadable("file_empty", "The file has no rows.") from None
        for cells in reader:
            values = {n: c for n, c in zip(names, cells, strict=False) if n}
            if not _blank(values):
                yield reader.line_num, values
    except UnicodeDecodeError as exc:
        raise Unreadable(
            "encoding_invalid",
            f"The file is not valid {encoding}: {exc.reason} "
            "(declare the charset it was saved in).",
        ) from exc
    except csv.Error as exc:
        raise Unreadable("csv_invalid", f"Not a readable CSV file: {exc}.") from exc
    finally:
        text.detach()


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _column(ref: str) -> int:
    """``C7`` → 2."""
    index = 0
    for char in ref:
        if not char.isalpha():
            break
        index = index * 26 + ord(char.upper()) - 64
    return index - 1


def _first_sheet(book: zipfile.ZipFile) -> str:
    """The path of the workbook's first sheet."""
    workbook = ElementTree.fromstring(book.read("xl/workbook.xml"))
    sheet = next(e for e in workbook.iter() if _local(e.tag) == "sheet")
    rid = next(v for k, v in sheet.attrib.items() if _local(k) == "id")
    rels = ElementTree.fromstring(book.read("xl/_rels/workbook.xml.rels"))
    target = next(e.get("Target", "") for e in rels if e.get("Id") == rid)
    return target.lstrip("/") if target.startswith("/") else "xl/" + target


def _shared_strings(book: zipfile.ZipFile) -> list[str]:
    if "xl/sharedStrings.xml" not in book.namelist():
        return []
    if book.getinfo("xl/sharedStrings.xml").file_size > MAX_SHARED_STRINGS:
        raise Unreadable("xlsx_invalid", "The workbook's strings are too large to be a batch.")
    strings: list[str] = []
    with book.open("xl/sharedStrings.xml") as stream:
        for _, element in ElementTree.iterparse(stream):
            if _local(element.tag) == "si":
                parts = [
                    t.text or ""
                    for child in element
                    if _local(child.tag) in ("t", "r")
                    for t in ([child] if _local(child.tag) == "t" else child)
                    if _local(t.tag) == "t"
                ]
                strings.append("".join(parts))
                element.clear()
    return strings


class _Sheet:
    """Expat callbacks turning a sheet's XML into rows, without building a tree: one cell's
    state at a time, and the rows of the last block fed."""

    def __init__(self, strings: list[str]) -> None:
        self.strings = strings
        self.rows: list[tuple[int, dict[int, Any]]] = []
        self.cells: dict[int, Any] = {}
        self.line = self.counted = self.position = self.column = 0
        self.kind = "n"
        self.text: list[str] | None = None
        self.phonetic = False
        self.parser = expat.ParserCreate()
        self.parser.buffer_text = True
        self.parser.StartElementHandler = self.start
        self.parser.EndElementHandler = self.end
        self.parser.CharacterDataHandler = self.data

    def start(self, name: str, attrs: dict[str, str]) -> None:
        local = name.rpartition(":")[2]
        if local == "c":
            ref = attrs.get("r")
            self.column = _column(ref) if ref else self.position
            self.position += 1
            self.kind = attrs.get("t", "n")
            self.text = None
        elif local == "v" or (local == "t" and not self.phonetic):
            self.text = self.text if self.text is not None else []
        elif local == "rPh":
            self.phonetic = True
        elif local == "row":
            self.counted += 1
            self.line = int(attrs.get("r") or self.counted)
            self.cells, self.position = {}, 0

    def data(self, text: str) -> None:
        if self.text is not None and not self.phonetic:
            self.text.append(text)

    def end(self, name: str) -> None:
        local = name.rpartition(":")[2]
        if local == "c":
            self.cells[self.column] = self.value()
            self.text = None
        elif local == "rPh":
            self.phonetic = False
        elif local == "row":
            self.rows.append((self.line, self.cells))

    def value(self) -> Any:
        if self.text is None:
            return None
        text = "".join(self.text)
        if self.kind == "s":
            return self.strings[int(text)]
        if self.kind in ("inlineStr", "str", "e"):
            return text
        if self.kind == "b":
            return text == "1"
        number = float(text)
        return int(number) if number.is_integer() and "E" not in text.upper() else number


def read_xlsx(file: IO[bytes]) -> Rows:
    """The first sheet, streamed from the archive: only the shared strings are held."""
    try:
        book = zipfile.ZipFile(file)
        path = _first_sheet(book)
        strings = _shared_strings(book)
        stream = book.open(path)
    except (zipfile.BadZipFile, KeyError, StopIteration, ElementTree.ParseError) as exc:
        raise Unreadable("xlsx_invalid", "Not a readable XLSX workbook.") from exc
    sheet = _Sheet(strings)
    names: list[str | None] | None = None
    try:
        while True:
            block = stream.read(1 << 16)
            sheet.parser.Parse(block, not block)
            for line, cells in sheet.rows:
                if names is None:
                    width = max(cells, default=-1) + 1
                    names = _header([cells.get(i) for i in range(width)])
                    continue
                values = {n: cells.get(i) for i, n in enumerate(names) if n}
                if not _blank(values):
                    yield line, values
            sheet.rows.clear()
            if not block:
                break
    except (expat.ExpatError, ValueError, IndexError, zipfile.BadZipFile) as exc:
        raise Unreadable("xlsx_invalid", f"Not a readable XLSX sheet: {exc}.") from exc
    finally:
        stream.close()
    if names is None:
        raise Unreadable("file_empty", "The first sheet has no rows.")


def read_json(file: IO[bytes]) -> Rows:
    """A JSON array of objects, keyed by the headers above. A record's "line" is its position
    in the array, from 1; a blank record (no value in any column) is skipped, as a blank row
    of a sheet is."""
    try:
        first = file.read(1)
        while first in (b" ", b"\n", b"\r", b"\t"):
            first = file.read(1)
        if first != b"[":
            raise Unreadable("json_invalid", "A JSON batch is an array of objects.")
        file.seek(file.tell() - 1)
        for position, item in enumerate(ijson.items(file, "item", use_float=True), start=1):
            if not isinstance(item, dict):
                raise Unreadable("json_invalid", f"Item {position} is not an object.")
            values = {COLUMNS[k]: v for k, v in item.items() if k in COLUMNS}
            if not _blank(values):
                yield position, values
    except ijson.JSONError as exc:
        raise Unreadable("json_invalid", f"Not valid JSON: {exc}.") from exc
    except UnicodeDecodeError as exc:
        raise Unreadable("encoding_invalid", "JSON is UTF-8; the file is not.") from exc


@dataclass
class Row:
    line: int
    reasons: list[dict[str, str]] = field(default_factory=list)
    name: str | None = None
    id_number: str | None = None
    village_code: str | None = None
    risk_type: str | None = None
    description: str | None = None
    flagged_on: date | None = None

    def refuse(self, code: str, column: str, message: str) -> None:
        self.reasons.append({"code": code, "field": column, "message": message})


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _bounded(row: Row, values: dict[str, Any], column: str, most: int, missing: str) -> str | None:
    """A required text of at most ``most`` characters, or the reason it is refused."""
    text = _text(values.get(column))
    if not text:
        row.refuse(f"{column}_missing", column, missing)
    elif len(text) > most:
        row.refuse(f"{column}_too_long", column, f"At most {most} characters.")
    else:
        return text
    return None


def check(line: int, values: dict[str, Any], villages: set[str], today: date) -> Row:
    """Every reason a row is refused, not only the first."""
    row = Row(line)
    row.name = _bounded(row, values, "name", 100, "No name.")
    raw_id = values.get("id_number")
    number = idnumber.normalize(_text(raw_id))
    if isinstance(raw_id, (int, float)):
        row.refuse(
            "id_number_not_text",
            "id_number",
            "The ID number is a number in the sheet: "
            "Excel has rounded it. Store the column as text.",
        )
    elif not number:
        row.refuse("id_number_missing", "id_number", "No ID number.")
    elif problem := idnumber.problem(number, today):
        row.refuse("id_number_invalid", "id_number", f"Not a valid ID number: {problem}.")
    else:
        row.id_number = number
    village = _text(values.get("village_code"))
    if not village:
        row.refuse("village_missing", "village_code", "No village code.")
    elif village not in villages:
        row.refuse(
            "village_unknown", "village_code", f"{village[:20]} is not a village of the city."
        )
    else:
        row.village_code = village
    risk = _text(values.get("risk_type"))
    if risk in RiskType.__members__:
        row.risk_type = risk
    elif risk in RISK_BY_LABEL:
        row.risk_type = RISK_BY_LABEL[risk]
    else:
        row.refuse(
            "risk_type_unknown",
            "risk_type",
            f"Unknown risk type {risk[:20]!r}; one of " + ", ".join(RISK_TYPE.values()) + ".",
        )
    row.description = _bounded(row, values, "description", 2000, "No warning information.")
    flagged = values.get("flagged_on")
    if isinstance(flagged, (int, float)) and not isinstance(flagged, bool):
        try:  # a date cell of a spreadsheet: days since 1899-12-30
            row.flagged_on = EXCEL_EPOCH + timedelta(days=int(flagged))
        except OverflowError:
            row.refuse("date_invalid", "flagged_on", "A date is written YYYY-MM-DD.")
    elif isinstance(flagged, datetime):
        row.flagged_on = flagged.date()
    elif isinstance(flagged, date):
        row.flagged_on = flagged
    elif _text(flagged):
        try:
            row.flagged_on = date.fromisoformat(_text(flagged).replace("/", "-"))
        except ValueError:
            row.refuse("date_invalid", "flagged_on", "A date is written YYYY-MM-DD.")
    if row.flagged_on is not None and row.flagged_on > today:
        row.refuse("date_in_future", "flagged_on", "The warning date is in the future.")
    return row


def sniff_encoding(declared: str | None) -> str:
    """The declared charset, by its canonical codec name: utf-8 or gb18030."""
    if declared is None:
        return "utf-8"
    try:
        name = codecs.lookup(declared).name
    except LookupError:
        name = declared.lower()
    if name in ("utf-8", "utf_8", "utf-8-sig"):
        return "utf-8"
    if name in ("gb18030",):
        return "gb18030"
    raise Unreadable(
        "encoding_unsupported", f"Charset {declared!r} is not taken: utf-8 or gb18030."
    )
