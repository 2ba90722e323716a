"""A streaming XLSX writer for wide sheets of a million rows: SpreadsheetML written straight
into the zip as the rows come, with constant memory.

openpyxl's write-only mode built a cell object per value (2,522 rows/s for the national sheet
before it had its 100 columns); xlsxwriter's constant-memory mode was measured at 1,743 rows/s
on the same rows (``bench/RESULTS.md``, the writer spike). Neither spends its time on anything
our sheets need: they hold text, numbers, days and moments, one style each, a frozen header and
column widths. Each row here is one string built by a list comprehension; strings are inline
(no shared-string table held in memory), cells carry no reference (they follow each other), and
the zip deflates at level 1, off the event loop.
"""

from __future__ import annotations

import contextlib
import re
import zipfile
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from typing import IO, Any
from xml.sax.saxutils import escape

from workflows.calendar import SHANGHAI

NAMESPACE = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELATIONSHIPS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PACKAGE = "http://schemas.openxmlformats.org/package/2006/relationships"
EPOCH = datetime(1899, 12, 30)
"""Day 0 of Excel's 1900 date system, as every reader counts it after 1900-03-01."""
ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
"""Characters XML 1.0 cannot carry (the API refuses most at the door; a ledger never fails)."""
DATE_STYLE, MOMENT_STYLE = 1, 2
STYLES = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<styleSheet xmlns="{NAMESPACE}"><numFmts count="2"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/>\
<numFmt numFmtId="165" formatCode="yyyy-mm-dd hh:mm:ss"/></numFmts>\
<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>\
<fills count="2"><fill><patternFill patternType="none"/></fill>\
<fill><patternFill patternType="gray125"/></fill></fills>\
<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>\
<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>\
<cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>\
<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>\
<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>\
<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>\
</styleSheet>"""
EMPTY = "<c/>"
MEMO_SIZE = 200_000
"""Distinct values whose XML a workbook remembers (ID numbers and names are distinct: the
memo is started afresh when it holds this many)."""


def _text(value: str) -> str:
    if (
        value.isprintable()
        and value[0] != " "
        and value[-1] != " "
        and "&" not in value
        and "<" not in value
        and ">" not in value
    ):
        # the common case, tested in C: every character printable (none of ILLEGAL, no
        # space but " "), no space at either end, nothing to escape
        return '<c t="inlineStr"><is><t>' + value + "</t></is></c>"
    if ILLEGAL.search(value):
        value = ILLEGAL.sub("", value)
    space = ' xml:space="preserve"' if value[:1].isspace() or value[-1:].isspace() else ""
    return f'<c t="inlineStr"><is><t{space}>{escape(value)}</t></is></c>'


def cell(value: Any) -> str:
    """One cell's XML: text inline, numbers and flags as values, days and moments as serial
    numbers in their style (an aware moment as its Asia/Shanghai wall time), nothing as an
    empty cell (so the next keeps its column)."""
    if value is None or value == "":
        return EMPTY
    kind = type(value)
    if kind is str:
        return _text(value)
    if kind is bool:
        return f'<c t="b"><v>{int(value)}</v></c>'
    if kind is int or kind is float or kind is Decimal:
        return f"<c><v>{value}</v></c>"
    if kind is datetime:
        if value.tzinfo is not None:  # Excel has no zones: the Asia/Shanghai wall time
            value = value.astimezone(SHANGHAI).replace(tzinfo=None, microsecond=0)
        serial = (value - EPOCH).total_seconds() / 86400
        return f'<c s="{MOMENT_STYLE}"><v>{serial!r}</v></c>'
    if kind is date:
        return f'<c s="{DATE_STYLE}"><v>{(value - EPOCH.date()).days}</v></c>'
    if kind is time:
        return _text(value.isoformat())
    return _text(str(value))


class Cells(dict[Any, str]):
    """Values' cell XML, text remembered: a missing value is rendered by :func:`cell`, and kept
    when it is text. Only text (and None) is ever a key, so a number never finds a text's
    cell: 1, 1.0 and True are equal keys, but none of them equals a string."""

    def __init__(self) -> None:
        super().__init__({None: EMPTY, "": EMPTY})

    def __missing__(self, value: Any) -> str:
        if value.__class__ is str:  # never empty: "" is a key from the start
            found = self[value] = _text(value)
            return found
        return cell(value)

    def forget(self) -> None:
        self.clear()
        self.update({None: EMPTY, "": EMPTY})


class Workbook:
    """Sheets written one after another into ``target`` (a file opened for binary writing).
    ``add_sheet`` opens the next sheet (closing the one before), ``rows`` appends to it,
    ``close`` writes the workbook's parts and the zip's directory."""

    def __init__(self, target: IO[bytes], level: int = 1) -> None:
        self.zip = zipfile.ZipFile(
            target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=level
        )
        self.names: list[str] = []
        self.entry: IO[bytes] | None = None
        self.row = 0
        self.memo = Cells()

    def add_sheet(self, name: str, widths: Sequence[float] = (), frozen_rows: int = 0) -> None:
        self._end_sheet()
        self.names.append(name[:31])
        path = f"xl/worksheets/sheet{len(self.names)}.xml"
        self.entry = self.zip.open(path, "w", force_zip64=True)
        pane = (
            f'<pane ySplit="{frozen_rows}" topLeftCell="A{frozen_rows + 1}" '
            'activePane="bottomLeft" state="frozen"/>'
            if frozen_rows
            else ""
        )
        columns = "".join(
            f'<col min="{n}" max="{n}" width="{w}" customWidth="1"/>'
            for n, w in enumerate(widths, start=1)
        )
        head = (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<worksheet xmlns="{NAMESPACE}" xmlns:r="{RELATIONSHIPS}"><sheetViews>'
            f'<sheetView workbookViewId="0">{pane}</sheetView></sheetViews>'
            f'<sheetFormatPr defaultRowHeight="15"/>'
            f"{f'<cols>{columns}</cols>' if columns else ''}<sheetData>"
        )
        self.entry.write(head.encode())
        self.row = 0

    def rows_xml(self, rows: Iterable[Sequence[Any]]) -> bytes:
        """Rows as the bytes :meth:`write` appends (built apart, so the caller may build them on
        one thread and deflate them on another). A sheet repeats its text (是, 否, names of
        areas, labels), so each text's XML is remembered for the next row (:class:`Cells`): a
        dict lookup instead of a search and an escape, which doubles the pace."""
        memo = self.memo
        if len(memo) > MEMO_SIZE:
            memo.forget()
        lookup = memo.__getitem__
        parts = []
        number = self.row
        for values in rows:
            number += 1
            parts.append(f'<row r="{number}">{"".join(map(lookup, values))}</row>')
        self.row = number
        return "".join(parts).encode()

    def write(self, data: bytes) -> None:
        assert self.entry is not None, "add_sheet first"
        self.entry.write(data)

    def _end_sheet(self) -> None:
        if self.entry is not None:
            self.entry.write(b"</sheetData></worksheet>")
            self.entry.close()
            self.entry = None

    def abandon(self) -> None:
        """Give the workbook up (the rows failed, or the client went): the zip is closed with
        whatever it holds, for the caller to discard its file."""
        with contextlib.suppress(Exception):
            self._end_sheet()
        with contextlib.suppress(Exception):
            self.zip.close()

    def close(self) -> None:
        self._end_sheet()
        quoted = {'"': "&quot;"}
        sheets = "".join(
            f'<sheet name="{escape(name, quoted)}" sheetId="{n}" r:id="rId{n}"/>'
            for n, name in enumerate(self.names, start=1)
        )
        count = len(self.names)
        parts = {
            "[Content_Types].xml": (
                '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Types xmlns="http://'
                'schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels"'
                ' ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                '<Default Extension="xml" ContentType="application/xml"/><Override PartName='
                '"/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.'
                'spreadsheetml.sheet.main+xml"/><Override PartName="/xl/styles.xml" ContentType='
                '"application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
                + "".join(
                    f'<Override PartName="/xl/worksheets/sheet{n}.xml" ContentType="'
                    "application/vnd.openxmlformats-officedocument.spreadsheetml."
                    'worksheet+xml"/>'
                    for n in range(1, count + 1)
                )
                + "</Types>"
            ),
            "_rels/.rels": (
                f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships '
                f'xmlns="{PACKAGE}"><Relationship Id="rId1" Type="{RELATIONSHIPS}/'
                'officeDocument" Target="xl/workbook.xml"/></Relationships>'
            ),
            "xl/workbook.xml": (
                f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<workbook '
                f'xmlns="{NAMESPACE}" xmlns:r="{RELATIONSHIPS}"><sheets>{sheets}</sheets>'
                "</workbook>"
            ),
            "xl/_rels/workbook.xml.rels": (
                f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships '
                f'xmlns="{PACKAGE}">'
                + "".join(
                    f'<Relationship Id="rId{n}" Type="{RELATIONSHIPS}/worksheet" '
                    f'Target="worksheets/sheet{n}.xml"/>'
                    for n in range(1, count + 1)
                )
                + f'<Relationship Id="rId{count + 1}" Type="{RELATIONSHIPS}/styles" '
                'Target="styles.xml"/></Relationships>'
            ),
            "xl/styles.xml": STYLES,
        }
        for name, text in parts.items():
            self.zip.writestr(name, text)
        self.zip.close()
