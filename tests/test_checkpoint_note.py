"""Checkpoints as C2SP tlog-checkpoint signed notes, checked here the way a transparency-log
verifier or witness checks them: from the specification, not through the service's code."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from app.audit.signing import open_note
from tests.helpers import Api
from tests.test_audit_log import AUDITOR, checkpoint


def check(note: str, vkey: str) -> tuple[str, int, bytes]:
    """c2sp.org/signed-note and c2sp.org/tlog-checkpoint, from their text: the verifier key is
    name+hash+base64(0x01 ‖ key); the note is its text, a blank line, and lines
    "— name base64(hash[4] ‖ signature[64])"; the signature covers the text."""
    name, key_hash, encoded = vkey.split("+", 2)  # the key's base64 may hold "+" itself
    raw = base64.b64decode(encoded)
    assert raw[0] == 1
    assert len(raw) == 33
    assert hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4].hex() == key_hash
    text, blank, signatures = note.partition("\n\n")
    assert blank
    assert note.endswith("\n")
    origin, size, root, *_extensions = text.split("\n")
    [line] = signatures.splitlines()
    assert line.startswith("\u2014 ")
    signer, encoded_signature = line[2:].split(" ")
    signature = base64.b64decode(encoded_signature)
    assert signer == name
    assert signature[:4].hex() == key_hash
    assert len(signature) == 68
    Ed25519PublicKey.from_public_bytes(raw[1:]).verify(signature[4:], (text + "\n").encode())
    return origin, int(size), base64.b64decode(root)


async def test_a_checkpoint_is_a_signed_note_a_witness_can_check(api: Api) -> None:
    await api.open_case("cadre_found")
    signed = await checkpoint(api)
    key = (await api.get(AUDITOR, "/api/v1/audit/public-key")).json()
    origin, size, root = check(signed["note"], key["vkey"])
    assert (origin, size, root.hex()) == (key["origin"], signed["tree_size"], signed["root_hash"])
    assert open_note(signed["note"], key["vkey"]) == (origin, size, signed["root_hash"])
    served = await api.get(AUDITOR, "/api/v1/audit/checkpoint")
    assert served.status_code == 200
    assert served.text == signed["note"]
    assert served.headers["content-type"].startswith("text/plain")
    listed = (await api.get(AUDITOR, "/api/v1/audit/checkpoints")).json()
    assert listed[0]["note"] == signed["note"]
    # the log grows: the next note is of the larger tree, and the earlier one still holds
    await api.open_case("cadre_found")
    later = await checkpoint(api)
    assert check(later["note"], key["vkey"])[1] > size
    assert check(signed["note"], key["vkey"])[1] == size


async def test_an_altered_note_or_another_key_fails(api: Api) -> None:
    await api.open_case("cadre_found")
    signed = await checkpoint(api)
    key = (await api.get(AUDITOR, "/api/v1/audit/public-key")).json()
    origin, size, _ = check(signed["note"], key["vkey"])
    altered = signed["note"].replace(f"\n{size}\n", f"\n{size + 1}\n", 1)
    with pytest.raises(InvalidSignature):
        check(altered, key["vkey"])
    with pytest.raises(ValueError, match="no valid signature"):
        open_note(altered, key["vkey"])
    other = "+".join(
        [origin, *key["vkey"].split("+")[1:2], base64.b64encode(b"\x01" + bytes(32)).decode()]
    )
    with pytest.raises(ValueError, match="malformed"):
        open_note(signed["note"], other)


async def test_no_note_before_the_first_checkpoint(api: Api) -> None:
    assert (await api.get(AUDITOR, "/api/v1/audit/checkpoint")).status_code == 404
