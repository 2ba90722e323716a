"""Canonical JSON (RFC 8785) and the event hash chain."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import rfc8785

GENESIS_HASH = "0" * 64


def utc_iso(instant: datetime) -> str:
    """UTC to the microsecond, always the same shape: ``2026-01-02T03:04:05.000006Z``."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_document(fields: dict[str, Any], prev_hash: str) -> bytes:
    """The bytes an event's hash covers: canonical JSON of its fields and ``prev_hash``."""
    return rfc8785.dumps({**fields, "prev_hash": prev_hash})


def event_hash(fields: dict[str, Any], prev_hash: str) -> str:
    """Lowercase hex SHA-256 over :func:`event_document`."""
    return hashlib.sha256(event_document(fields, prev_hash)).hexdigest()
