"""Resident identity numbers (居民身份证号码), GB 11643-1999."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

import orjson

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


def check_character(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character of the first 17 digits."""
    return _CHECK[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def birth_date(id_number: str) -> date:
    return date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))


def problem(id_number: str, today: date | None = None) -> str | None:
    """Why ``id_number`` is not a valid 18-character ID number, or None when it is; with
    ``today``, a number whose holder is born after it is not valid either."""
    if len(id_number) != 18 or not id_number[:17].isdigit():
        return "must be 18 characters: 17 digits and a check character"
    try:
        born = birth_date(id_number)
    except ValueError:
        return "the birth date (characters 7–14) is not a calendar date"
    if born.year < 1900:
        return "the birth date (characters 7–14) is not plausible"
    if id_number[17].upper() != check_character(id_number[:17]):
        return "the check character does not match (ISO 7064 MOD 11-2)"
    if today is not None and born > today:
        return f"the birth date (characters 7–14) {born} is after today ({today})"
    return None


def sex(id_number: str) -> str:
    """The 17th character is odd for men, even for women."""
    return "male" if int(id_number[16]) % 2 else "female"


def normalize(id_number: str) -> str:
    return id_number.strip().upper()


def mask(id_number: str) -> str:
    """The last 4 characters, the rest hidden. The first 6 (where the number was issued) and
    the birth date between them are never shown together with them: with a member's birth
    date, which households show, they would rebuild the whole number."""
    return "*" * (len(id_number) - 4) + id_number[-4:]


def shown(masked: str) -> str:
    """A mask as answers show it, whatever form it was stored in: numbers masked before the
    last-4 form kept their first 6 characters too (in rows and in chained event payloads,
    which are never rewritten), so every answer re-masks."""
    return "*" * (len(masked) - 4) + masked[-4:] if len(masked) > 4 else masked


MASKED_KEYS = ("id_number_masked", "head_id_number_masked", "member", "id_masked")
"""Keys under which documents (facts, event payloads) hold a masked number."""


def redact(document: object) -> object:
    """A facts document or payload as answers show it: every masked number re-masked, and a
    birth date (which older household-change events kept whole) cut to its year.

    Every answer about a case passes its facts through here (a page of 100 cases is 10,000
    values or more). Most documents hold nothing to rewrite: no such key at all, or only
    numbers masked as :func:`mask` masks them now and no whole birth date. Their JSON text,
    which orjson writes in a few microseconds, shows it (:func:`_as_shown`), and they are
    answered as they are; the others are walked (:func:`_redact`). :func:`redacted_json`
    answers the text itself."""
    if isinstance(document, dict | list):
        try:
            text = orjson.dumps(document, default=str)
        except orjson.JSONEncodeError:  # keys that are not text: walk it
            return _redact(document)
        if _as_shown(text):
            return document
    return _redact(document)


def _as_shown(text: bytes) -> bool:
    """Whether a document's JSON text (orjson's: no spaces) holds nothing :func:`_redact`
    would rewrite: each key the walk looks at, found by a plain search, holds a value the walk
    leaves as it is (:data:`_LEFT_AS_IS`). The three keys of a masked number are found by the
    end they share (``masked":``), one search of the text instead of three: a key of another
    name that ends so is looked at too, and at worst sends the document to the walk, which
    rewrites only :data:`MASKED_KEYS`."""
    for key, left in _LEFT_AS_IS:
        at = text.find(key)
        while at != -1:
            at += len(key)
            if left.match(text, at) is None:
                return False
            at = text.find(key, at)
    return True


_SHOWN_MASK = re.compile(rb'"(?:[^"*\\]*|\*+[^"*\\]{0,4})"|null')
_YEAR = re.compile(rb'"[0-9]{4}"|null')
_LEFT_AS_IS = (
    (b'masked":', _SHOWN_MASK),  # id_number_masked, head_id_number_masked, id_masked
    (b'"member":', _SHOWN_MASK),
    (b'"birth_date":', _YEAR),
)
"""Each key the walk looks at, as orjson writes it, and the values it leaves as they are:
for a masked number, text with no ``*``, or ``*`` then at most four bytes (at most four
characters, all :func:`shown` keeps), or null; for a birth date, a year or null. Any other
value (an older mask, a whole date, a value holding an escape, a number, a list, an
object) sends the document to the walk."""


def redacted_json(document: object, dumps: Callable[[object], bytes]) -> bytes:
    """:func:`redact` as the JSON text ``dumps`` writes (in orjson's form: no spaces): the
    document's own text when it holds nothing to rewrite, as nearly every one does, so it
    is written once; else the walked document's."""
    text = dumps(document)
    return text if _as_shown(text) else dumps(_redact(document))


def _redact(document: object) -> object:
    """The document walked: each masked number under :data:`MASKED_KEYS` re-masked
    (:func:`shown`) and each whole birth date cut to its year; a value's exact type tested
    once, only dicts and lists descended into. The document itself is left as it was."""
    if isinstance(document, dict):
        return _redacted_dict(document)
    if isinstance(document, list):
        return [item if type(item) in _LEAVES else _redact(item) for item in document]
    return document


_LEAVES = frozenset({str, int, float, bool, type(None)})
_MASKED = frozenset(MASKED_KEYS)


def _redacted_dict(document: dict[str, object]) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in document.items():
        if isinstance(value, str):
            if key in _MASKED and "*" in value:
                value = shown(value)
            elif key == "birth_date" and len(value) == 10:
                value = value[:4]
        elif type(value) not in _LEAVES:
            value = _redact(value)
        out[key] = value
    return out


def make(first17: str) -> str:
    """A valid number from 17 digits (demo data and tests)."""
    return first17 + check_character(first17)
