"""Personal data at rest: AES-GCM in the application, with versioned keys from settings.

A ciphertext is ``<key id>:<base64(nonce ‖ ciphertext ‖ tag)>``. The row and column it belongs
to are its associated data, so a ciphertext copied into another row or column fails to
decrypt. Rows name the key that wrote them, so keys rotate without downtime: every listed key
still decrypts, and ``fangfanpin rotate-keys`` rewrites old rows with the current one.
"""

from __future__ import annotations

import base64
import binascii
import os
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class CipherError(ValueError):
    """A ciphertext names a key this service does not hold, or was tampered with."""


class FieldCipher:
    def __init__(self, keys: dict[str, bytes], current: str) -> None:
        if current not in keys:
            raise ValueError(f"the current key {current!r} is not among the keys")
        for kid, key in keys.items():
            if len(key) != 32:
                raise ValueError(f"key {kid!r} must be 32 bytes (AES-256)")
        self.keys, self.current = keys, current
        # one AES-GCM instance per key: building one expands the key, and exports decrypt
        # millions of numbers
        self._aead = {kid: AESGCM(key) for kid, key in keys.items()}
        self._aead_by_bytes = {kid.encode(): aead for kid, aead in self._aead.items()}

    def encrypt(self, plaintext: str, context: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead[self.current].encrypt(nonce, plaintext.encode(), context.encode())
        return f"{self.current}:{base64.b64encode(nonce + sealed).decode()}"

    def decrypt(self, token: str, context: str) -> str:
        kid, _, data = token.partition(":")
        aead = self._aead.get(kid)
        if aead is None:
            raise CipherError(f"no key {kid!r} to decrypt with")
        raw = binascii.a2b_base64(data)
        try:
            return aead.decrypt(raw[:12], raw[12:], context.encode()).decode()
        except InvalidTag as exc:
            raise CipherError("the ciphertext does not belong here or was altered") from exc

    def open_sealed(self, token: bytes, context: bytes) -> bytes:
        """:meth:`decrypt` on bytes, for a million numbers in a row (the national export)."""
        kid, _, data = token.partition(b":")
        aead = self._aead_by_bytes.get(kid)
        if aead is None:
            raise CipherError(f"no key {kid!r} to decrypt with")
        raw = memoryview(binascii.a2b_base64(data))
        try:
            return aead.decrypt(raw[:12], raw[12:], context)
        except InvalidTag as exc:
            raise CipherError("the ciphertext does not belong here or was altered") from exc

    def is_current(self, token: str) -> bool:
        return token.partition(":")[0] == self.current


def parse_keys(spec: str) -> tuple[dict[str, bytes], str]:
    """``"v1:<base64>,v2:<base64>"``: every key decrypts; the last one encrypts."""
    keys: dict[str, bytes] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        kid, _, encoded = item.partition(":")
        keys[kid] = base64.b64decode(encoded)
    if not keys:
        raise ValueError("FIELD_KEYS names no key")
    return keys, list(keys)[-1]


@lru_cache(maxsize=8)
def cipher_for(spec: str) -> FieldCipher:
    keys, current = parse_keys(spec)
    return FieldCipher(keys, current)


def context(table: str, row_id: str, column: str) -> str:
    """The associated data that binds a ciphertext to its place."""
    return f"{table}:{row_id}:{column}"
