"""Ed25519 signatures over checkpoints, in a text form anyone can rebuild and check: the
service's own (``fangfanpin-checkpoint/v1``) and the C2SP ``tlog-checkpoint`` signed note
that transparency-log verifiers and witnesses read (https://c2sp.org/tlog-checkpoint,
https://c2sp.org/signed-note)."""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from functools import cached_property

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

FORMAT = "fangfanpin-checkpoint/v1"


def checkpoint_message(origin: str, tree_size: int, root_hex: str, created_at: str) -> bytes:
    """The signed text: format line, origin, tree size, root (hex), UTC time; one per line."""
    return f"{FORMAT}\n{origin}\n{tree_size}\n{root_hex}\n{created_at}\n".encode()


NOTE_ED25519 = b"\x01"
"""The signed-note signature type of Ed25519 (C2SP signed-note)."""
NOTE_DASH = "\u2014"
"""A signature line opens with an em dash and a space."""


def note_body(origin: str, tree_size: int, root_hex: str) -> bytes:
    """A C2SP tlog-checkpoint: origin, tree size, root hash in standard base64, one per line."""
    root = base64.b64encode(bytes.fromhex(root_hex)).decode()
    return f"{origin}\n{tree_size}\n{root}\n".encode()


def note_key_hash(name: str, public_key: bytes) -> bytes:
    """The 4 bytes a signature line starts with: SHA-256(name ‖ 0x0A ‖ 0x01 ‖ key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + NOTE_ED25519 + public_key).digest()[:4]


def verifier_key(name: str, public_key: bytes) -> str:
    """The key as note verifiers take it: ``name+hash(hex)+base64(0x01 ‖ key)``."""
    encoded = base64.b64encode(NOTE_ED25519 + public_key).decode()
    return f"{name}+{note_key_hash(name, public_key).hex()}+{encoded}"


def signed_note(body: bytes, name: str, public_key: bytes, signature_b64: str) -> str:
    """The note as sent: its body, a blank line, and the signature line."""
    signature = note_key_hash(name, public_key) + base64.b64decode(signature_b64)
    return f"{body.decode()}\n{NOTE_DASH} {name} {base64.b64encode(signature).decode()}\n"


def open_note(note: str, vkey: str) -> tuple[str, int, str]:
    """A checkpoint note checked against a verifier key: its origin, tree size and root (hex);
    ValueError saying why it does not hold."""
    name, key_hash_hex, encoded = vkey.split("+", 2)  # base64 may hold "+" itself
    key = base64.b64decode(encoded)
    if key[:1] != NOTE_ED25519 or note_key_hash(name, key[1:]).hex() != key_hash_hex:
        raise ValueError("the verifier key is malformed")
    body, separator, signatures = note.partition("\n\n")
    if not separator or not body:
        raise ValueError("the note has no signature block")
    body_bytes = (body + "\n").encode()
    for line in signatures.splitlines():
        dash, _, rest = line.partition(" ")
        signer, _, signature_b64 = rest.partition(" ")
        raw = base64.b64decode(signature_b64)
        if dash != NOTE_DASH or signer != name or raw[:4] != bytes.fromhex(key_hash_hex):
            continue
        if verify(
            base64.b64encode(key[1:]).decode(), body_bytes, base64.b64encode(raw[4:]).decode()
        ):
            origin, size, root = body.split("\n")[:3]
            return origin, int(size), base64.b64decode(root).hex()
    raise ValueError("no valid signature by the verifier key")


def public_keys(signer: Signer, previous: str) -> dict[str, str]:
    """Every key a checkpoint of this log may be signed with, by key id (base64): the
    current one and the earlier ones listed (``AUDIT_PREVIOUS_PUBLIC_KEYS``)."""
    keys = {signer.key_id: signer.public_key_b64}
    for encoded in (k.strip() for k in previous.split(",") if k.strip()):
        try:
            raw = base64.b64decode(encoded, validate=True)
        except binascii.Error as exc:
            raise ValueError("AUDIT_PREVIOUS_PUBLIC_KEYS holds a key that is not base64") from exc
        if len(raw) != 32:
            raise ValueError("AUDIT_PREVIOUS_PUBLIC_KEYS holds a key that is not 32 bytes")
        keys.setdefault(key_id(raw), encoded)
    return keys


def key_id(public_key: bytes) -> str:
    """First 16 hex digits of SHA-256 over the raw 32-byte public key."""
    return hashlib.sha256(public_key).hexdigest()[:16]


@dataclass(frozen=True)
class Signer:
    seed_b64: str

    @cached_property
    def _key(self) -> Ed25519PrivateKey:
        try:
            seed = base64.b64decode(self.seed_b64, validate=True)
        except binascii.Error as exc:
            raise ValueError("AUDIT_SIGNING_KEY is not base64") from exc
        if len(seed) != 32:
            raise ValueError("AUDIT_SIGNING_KEY must be a 32-byte Ed25519 seed")
        return Ed25519PrivateKey.from_private_bytes(seed)

    @cached_property
    def public_key(self) -> bytes:
        return self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @property
    def public_key_b64(self) -> str:
        return base64.b64encode(self.public_key).decode()

    @property
    def key_id(self) -> str:
        return key_id(self.public_key)

    def sign(self, message: bytes) -> str:
        return base64.b64encode(self._key.sign(message)).decode()


def verify(public_key_b64: str, message: bytes, signature_b64: str) -> bool:
    try:
        public = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64))
        public.verify(base64.b64decode(signature_b64), message)
    except (InvalidSignature, ValueError, binascii.Error):
        return False
    return True
