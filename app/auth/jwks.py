"""Keys of an external identity provider, from its JWKS, cached against the service's clock.

The set is fetched when first needed, again when it is older than the configured lifespan,
and again (at most once a minute) when a token names a key id the cached set lacks — which
is how a provider's key rotation arrives. A key that left the set stops being accepted at
the next refresh. Algorithms are pinned by key type: RSA keys verify RS256 only, Ed25519
keys EdDSA only; nothing else is accepted from the provider.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import jwt

from app.auth.errors import InvalidToken, KeysUnavailable

ALGORITHMS = {"RSA": "RS256", "OKP": "EdDSA"}
"""Key type → the one algorithm accepted with it."""
MIN_REFRESH = timedelta(minutes=1)
MAX_BYTES = 1 << 20

Fetch = Callable[[str], Awaitable[dict[str, Any]]]


async def download(url: str) -> dict[str, Any]:
    """GET the JWKS document (in a thread: urllib blocks), at most 1 MiB, 5 s."""

    def get() -> dict[str, Any]:
        request = urllib.request.Request(url, headers={"Accept": "application/json"})
        with urllib.request.urlopen(request, timeout=5) as response:
            document: dict[str, Any] = json.loads(response.read(MAX_BYTES + 1)[:MAX_BYTES])
            return document

    return await asyncio.to_thread(get)


class JwksCache:
    def __init__(self, url: str, lifespan: timedelta, fetch: Fetch = download) -> None:
        self.url, self.lifespan, self._fetch = url, lifespan, fetch
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: datetime | None = None
        self._lock = asyncio.Lock()
        self.fetches = 0

    async def _refresh(self, now: datetime) -> None:
        document = await self._fetch(self.url)
        keys: dict[str, jwt.PyJWK] = {}
        for data in document.get("keys", []):
            kty, kid = data.get("kty"), data.get("kid")
            if kty not in ALGORITHMS or not kid or data.get("use", "sig") != "sig":
                continue
            try:
                keys[kid] = jwt.PyJWK.from_dict(data, algorithm=ALGORITHMS[kty])
            except jwt.PyJWTError:
                continue  # a key this service cannot use is skipped, not fatal
        self._keys, self._fetched_at = keys, now
        self.fetches += 1

    async def key(self, kid: str | None, now: datetime) -> jwt.PyJWK:
        if not kid:
            raise InvalidToken("The token names no key id (kid).")
        async with self._lock:
            stale = self._fetched_at is None or now - self._fetched_at >= self.lifespan
            unknown = kid not in self._keys and (
                self._fetched_at is None or now - self._fetched_at >= MIN_REFRESH
            )
            if stale or unknown:
                try:
                    await self._refresh(now)
                except (OSError, ValueError) as exc:
                    if not self._keys:
                        raise KeysUnavailable() from exc
            found = self._keys.get(kid)
        if found is None:
            raise InvalidToken(f"No key {kid!r} in the identity provider's set.")
        return found
