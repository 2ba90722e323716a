"""Bearer tokens: HS256 with a configured secret, algorithm pinned, every claim checked."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import jwt

from app.auth.errors import (
    AreaOutsideDeployment,
    InvalidToken,
    TokenExpired,
    TokenNotYetValid,
)
from app.core.config import Settings
from workflows.vocabulary import Role

ALGORITHM = "HS256"
KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,32}$")
AREA_PATTERN = re.compile(r"^\d{0,12}$")
TOKEN_ROLES = frozenset(role for role in Role if role is not Role.system)


@dataclass(frozen=True)
class Principal:
    """Who calls: ``area`` is the code prefix they act within ('' is everywhere)."""

    sub: str
    role: Role
    area: str
    department: str | None = None
    name: str | None = None
    """The person's name (the OpenID Connect ``name`` claim), as ledgers show who acted."""

    @property
    def display_name(self) -> str:
        return self.name or self.sub

    def covers(self, area_code: str) -> bool:
        return area_code.startswith(self.area)


SYSTEM_TIMER = Principal(sub="system:timer", role=Role.system, area="")


@lru_cache(maxsize=8)
def keys_of(listed: str | None) -> dict[str, str]:
    """``JWT_KEYS`` as key id to secret, in the order listed (the last one signs); a
    malformed list is a ValueError naming what is wrong, never the secrets."""
    keys: dict[str, str] = {}
    for number, item in enumerate((listed or "").split(","), start=1):
        if not item.strip() and not listed:
            continue
        kid, colon, secret = item.strip().partition(":")
        if not colon or not KEY_ID.match(kid) or not secret:
            raise ValueError(f"key {number} is not kid:secret (kid: letters, digits, . _ -)")
        if kid in keys:
            raise ValueError(f"key id {kid!r} is listed twice")
        keys[kid] = secret
    return keys


def mint(
    settings: Settings,
    *,
    sub: str,
    role: Role,
    area: str,
    now: datetime,
    ttl: timedelta = timedelta(hours=8),
    department: str | None = None,
    name: str | None = None,
) -> str:
    """A signed token for local use and tests."""
    claims: dict[str, Any] = {
        "sub": sub,
        "role": role.value,
        "area": area,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": int(now.timestamp()),
        "nbf": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
    }
    if department:
        claims["department"] = department
    if name:
        claims["name"] = name
    keys = keys_of(settings.jwt_keys)
    if keys:
        kid = list(keys)[-1]
        return jwt.encode(claims, keys[kid], algorithm=ALGORITHM, headers={"kid": kid})
    return jwt.encode(claims, settings.jwt_secret, algorithm=ALGORITHM)


def _local_key(secret: str, keys: str | None, token: str) -> str:
    """The secret an HS256 token is checked with: the key its header names, or
    ``jwt_secret`` for a token without a key id."""
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.PyJWTError as exc:
        raise InvalidToken(f"The bearer token is not valid: {exc}.") from exc
    if kid is None:
        return secret
    named = keys_of(keys).get(kid) if isinstance(kid, str) else None
    if named is None:
        raise InvalidToken(
            f"The token's key id {str(kid)[:32]!r} is not one this service holds (rotated out?)."
        )
    return named


def _decoded(token: str, key: Any, algorithm: str, audience: str, issuer: str) -> dict[str, Any]:
    """The token's claims once its signature, algorithm, audience and issuer hold."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            audience=audience,
            issuer=issuer,
            # exp and nbf are checked by verify against the injected clock, not PyJWT's own.
            options={
                "require": ["exp", "nbf", "iss", "aud", "sub"],
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
            },
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(f"The bearer token is not valid: {exc}.") from exc
    return claims


@lru_cache(maxsize=4096)
def _decoded_locally(
    token: str, secret: str, keys: str | None, audience: str, issuer: str
) -> dict[str, Any]:
    """:func:`_decoded` for a locally signed token, remembered: a client sends its token with
    every request, and its signature and fixed claims hold as long as the keys (part of the
    cache key) do. Time and the other claims are checked on every use; a refusal is not
    remembered. Callers must not change the answer."""
    return _decoded(token, _local_key(secret, keys, token), ALGORITHM, audience, issuer)


def verify(
    settings: Settings,
    token: str,
    now: datetime,
    key: Any = None,
    algorithm: str = ALGORITHM,
    issuer: str | None = None,
) -> Principal:
    """The principal a token names, or :class:`Unauthorized` saying why not. Without ``key``
    the token must be HS256 with a local key (the one its ``kid`` names, or ``jwt_secret``);
    with one (from the identity provider's JWKS) exactly ``algorithm``. Its times are checked
    first, then its other claims."""
    instant, leeway = now.timestamp(), settings.jwt_leeway_seconds
    if key is None:
        known = _known_locally(
            token,
            settings.jwt_secret,
            settings.jwt_keys,
            settings.jwt_audience,
            settings.jwt_issuer,
            settings.deployment_area,
        )
        if known is not None:
            exp, nbf, principal = known
            _in_time(exp, nbf, instant, leeway)
            return principal
        claims = _decoded_locally(
            token,
            settings.jwt_secret,
            settings.jwt_keys,
            settings.jwt_audience,
            settings.jwt_issuer,
        )
    else:
        claims = _decoded(
            token, key, algorithm, settings.jwt_audience, issuer or settings.jwt_issuer
        )
    expires, begins = claims.get("exp"), claims.get("nbf")
    if not isinstance(expires, int | float) or not isinstance(begins, int | float):
        raise InvalidToken("The token's exp and nbf must be numeric dates.")
    _in_time(expires, begins, instant, leeway)
    return _claimed(claims, settings.deployment_area)


@lru_cache(maxsize=4096)
def _known_locally(
    token: str, secret: str, keys: str | None, audience: str, issuer: str, deployment_area: str
) -> tuple[float, float, Principal] | None:
    """A locally signed token's times and principal, remembered as :func:`_decoded_locally`
    remembers its claims: what a token names depends on its claims and the deployment's area
    alone, so each request of a client that sends one token checks only its times, instead of
    making its principal anew (about 20,000 instructions a request, ``bench/RESULTS.md``,
    2026-12-05). ``None`` for a token whose claims are refused: :func:`verify` then refuses
    it the long way, each time, with its reason in its order."""
    claims = _decoded_locally(token, secret, keys, audience, issuer)
    exp, nbf = claims.get("exp"), claims.get("nbf")
    if not isinstance(exp, int | float) or not isinstance(nbf, int | float):
        return None
    try:
        return exp, nbf, _claimed(claims, deployment_area)
    except (InvalidToken, AreaOutsideDeployment):
        return None


def _in_time(exp: float, nbf: float, instant: float, leeway: float) -> None:
    if instant >= exp + leeway:
        raise TokenExpired()
    if instant < nbf - leeway:
        raise TokenNotYetValid()


def _claimed(claims: dict[str, Any], deployment_area: str) -> Principal:
    """Who the token's claims name, within the deployment's area."""
    role, area = claims.get("role"), claims.get("area")
    if role not in TOKEN_ROLES:
        raise InvalidToken("The token's role claim is missing or unknown.")
    if not isinstance(area, str) or not AREA_PATTERN.match(area):
        raise InvalidToken("The token's area claim is missing or malformed.")
    if not area.startswith(deployment_area):
        raise AreaOutsideDeployment(area, deployment_area)
    department = claims.get("department")
    if role == Role.department and not department:
        raise InvalidToken("A department token must name its department.")
    name = claims.get("name")
    shown = name.strip()[:100] if isinstance(name, str) and name.strip() else None
    return Principal(
        sub=str(claims["sub"]), role=Role(role), area=area, department=department, name=shown
    )
