"""The typed auth dependency: every ``/api/v1`` route takes a :class:`Principal`."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from app.auth.errors import InvalidToken, MissingToken
from app.auth.jwks import ALGORITHMS, JwksCache
from app.auth.tokens import ALGORITHM, Principal, verify
from app.core.clock import Clock
from app.core.config import Settings
from app.core.errors import ProblemError


class _Bearer(HTTPBearer):
    """The API's bearer scheme (what the OpenAPI document declares), which reads the
    ``Authorization`` header only when :class:`AuthFirstMiddleware` has not already checked
    the token: on every ``/api/v1`` route it has, and the credentials would go unread."""

    async def __call__(self, request: HTTPConnection) -> HTTPAuthorizationCredentials | None:
        if _checked_at_the_door(request) is not None:
            return None
        return await super().__call__(request)


def _checked_at_the_door(request: HTTPConnection) -> Principal | None:
    """The principal :class:`AuthFirstMiddleware` found for this request, if it checked it."""
    checked = request.scope.get("state", {}).get("principal")
    return checked if isinstance(checked, Principal) else None


_bearer = _Bearer(
    auto_error=False, scheme_name="HTTPBearer", description="A JWT with claims sub, role and area."
)


async def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
ClockDep = Annotated[Clock, Depends(get_clock)]


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    # the app's settings and clock straight from its state, not as sub-dependencies: every
    # request solves this one, and each dependency solved is a measurable share of a write
    checked = _checked_at_the_door(request)
    if checked is not None:  # the AuthFirstMiddleware verified it already
        return checked
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise MissingToken()
    state = request.app.state
    token, now = credentials.credentials, state.clock.now()
    principal = await _principal(request.app, state.settings, token, now)
    request.state.principal = principal  # for the request's log line
    return principal


@lru_cache(maxsize=4096)
def _header(token: str) -> dict[str, Any]:
    """The token's header, unverified (it says which key checks the token); remembered, as a
    client sends one token many times. Callers must not change it."""
    try:
        return dict(jwt.get_unverified_header(token))
    except jwt.PyJWTError as exc:
        raise InvalidToken(f"The bearer token is not valid: {exc}.") from exc


async def _principal(app: Any, settings: Settings, token: str, now: Any) -> Principal:
    header = _header(token)
    algorithm = header.get("alg")
    if algorithm == ALGORITHM:
        return verify(settings, token, now)
    jwks: JwksCache | None = getattr(app.state, "jwks", None)
    if jwks is None or algorithm not in ALGORITHMS.values():
        raise InvalidToken(f"Tokens signed with {algorithm!r} are not accepted.")
    key = await jwks.key(header.get("kid"), now)
    if key.algorithm_name != algorithm:  # RS256 only with RSA keys, EdDSA only with Ed25519
        raise InvalidToken("The token's algorithm does not match its key.")
    return verify(
        settings, token, now, key=key.key, algorithm=algorithm, issuer=settings.jwt_jwks_issuer
    )


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


OPEN_PATHS = ("/api/v1/demo/", "/api/v1/console/config")
"""Under ``/api/v1`` only the demonstration's doors (mounted in demo mode only) and how the
console signs in are open."""


class AuthFirstMiddleware:
    """The token is checked before anything reads the body: a request without a valid token
    is 401 whatever else is wrong with it (the API's order: 401, then 404, 403, 422 …).
    The principal it finds is the one the route's dependency answers."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        preflight = scope.get("method") == "OPTIONS"  # CORS asks without credentials
        if preflight or not path.startswith("/api/v1/") or path.startswith(OPEN_PATHS):
            await self.app(scope, receive, send)
            return
        from app.core.errors import problem_response

        header = next((v for k, v in scope["headers"] if k == b"authorization"), b"")
        scheme, _, token = header.decode("latin-1").partition(" ")
        try:
            if scheme.lower() != "bearer" or not token.strip():
                raise MissingToken()
            app = scope["app"]
            principal = await _principal(
                app, app.state.settings, token.strip(), app.state.clock.now()
            )
        except ProblemError as refused:  # 401s (app.auth.errors), answered here, not raised
            await problem_response(refused)(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)
