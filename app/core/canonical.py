"""Canonical JSON (RFC 8785) and the event hash chain."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import orjson
import rfc8785

GENESIS_HASH = "0" * 64


def utc_iso(instant: datetime) -> str:
    """UTC to the microsecond, always the same shape: ``2026-01-02T03:04:05.000006Z``."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(document: Any) -> bytes:
    """RFC 8785 canonical JSON of ``document``.

    rfc8785 writes it in Python, character by character: about a third of a million
    instructions for an event, 5% of a rule-checked write (``bench/instructions.py``).
    orjson (C) writes the same bytes for the documents every event is made of: strings
    (escaped as the standard escapes them), integers within the standard's ±(2**53 - 1),
    booleans, null, arrays and objects, keys sorted. Its key order is by code point, the
    standard's by UTF-16 code unit; the two differ only for keys with characters beyond the
    Basic Multilingual Plane. So a document made only of those plain values, with no such
    key, goes to orjson; any other (a float, a tuple, an enum, a large integer, such a key)
    to rfc8785, which also raises what it always raised. ``tests/test_canonical.py`` holds
    the two to the same bytes over generated documents."""
    if _plain(document):
        try:
            return orjson.dumps(document, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:  # a lone surrogate, nesting beyond orjson's depth
            pass
    return rfc8785.dumps(document)


_SAFE = 2**53 - 1
_BMP_END = "\uffff"


def _plain(value: Any) -> bool:
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return bool(-_SAFE <= value <= _SAFE)
    if kind is dict:
        return all(
            type(key) is str and (key.isascii() or max(key) <= _BMP_END) and _plain(item)
            for key, item in value.items()
        )
    if kind is list:
        return all(_plain(item) for item in value)
    return False


def event_document(fields: dict[str, Any], prev_hash: str) -> bytes:
    """The bytes an event's hash covers: canonical JSON of its fields and ``prev_hash``."""
    return canonical({**fields, "prev_hash": prev_hash})


def event_hash(fields: dict[str, Any], prev_hash: str) -> str:
    """Lowercase hex SHA-256 over :func:`event_document`."""
    return hashlib.sha256(event_document(fields, prev_hash)).hexdigest()
