"""The event hash's canonical JSON (app.core.canonical): orjson's bytes where they are the
standard's, rfc8785's elsewhere; byte for byte the same as rfc8785 alone on any document."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core import canonical as module
from app.core.canonical import canonical

SAFE = 2**53 - 1
any_text = st.text(st.characters(codec="utf-8"), max_size=12)  # controls, CJK, astral
plain = st.recursive(
    st.none() | st.booleans() | st.integers(-SAFE, SAFE) | any_text,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(any_text, inner, max_size=5),
    max_leaves=30,
)
"""What events are made of, keys with any character (astral ones sort differently)."""
mixed = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**60), 2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | any_text,
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.tuples(inner, inner)
        | st.dictionaries(any_text, inner, max_size=5)
    ),
    max_leaves=30,
)


def _same(document: Any) -> None:
    try:
        expected = rfc8785.dumps(document)
    except rfc8785.CanonicalizationError as refused:
        with pytest.raises(type(refused)):
            canonical(document)
        return
    assert canonical(document) == expected


@settings(max_examples=400, deadline=None)
@given(plain)
def test_plain_documents_are_written_as_the_standard_writes_them(document: Any) -> None:
    _same(document)


@settings(max_examples=400, deadline=None)
@given(mixed)
def test_any_other_document_too(document: Any) -> None:
    _same(document)


class Kind(StrEnum):
    a = "a"


@pytest.mark.parametrize(
    "document",
    [
        {"\U0001f600": 1, "\ue000": 2},  # UTF-16 order: the astral key first
        {"n": 1.5, "m": 1e21, "k": 100.0},  # floats in ECMAScript's form
        {"big": 2**53},  # beyond the standard's integers: refused
        {"kind": Kind.a, "pair": ("x", 1)},  # an enum, a tuple
        {"lone": "\ud800"},  # a lone surrogate: refused
        {1: "a key that is no string"},
    ],
)
def test_what_orjson_would_write_otherwise_goes_to_rfc8785(document: Any) -> None:
    assert not module._plain(document) or document == {"lone": "\ud800"}
    _same(document)


def test_an_event_goes_to_orjson() -> None:
    """The fast path is the one taken: an event's fields are plain."""
    fields = {"case_id": "c", "seq": 2, "payload": {"reason": "补充材料", "at": None}}
    assert module._plain({**fields, "prev_hash": "0" * 64})
