"""Ed25519 signatures over checkpoints, in a text form anyone can rebuild and check."""

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
