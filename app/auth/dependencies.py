"""The typed auth dependency: every ``/api/v1`` route takes a :class:`Principal`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.auth.tokens import Principal, verify
from app.core.clock import Clock
from app.core.config import Settings
from app.core.errors import Unauthorized

_bearer = HTTPBearer(auto_error=False, description="A JWT with claims sub, role and area.")


async def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
ClockDep = Annotated[Clock, Depends(get_clock)]


async def current_principal(
    settings: SettingsDep,
    clock: ClockDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("missing_token", "A bearer token is required.")
    return verify(settings, credentials.credentials, clock.now())


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
