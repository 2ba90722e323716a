"""What the console reads before anyone signs in: whether the demo users are offered and
where the identity provider is (OpenID Connect, authorization code with PKCE)."""

from __future__ import annotations

from pydantic import BaseModel

from app.auth.dependencies import SettingsDep
from app.core.routing import api_router

router = api_router(prefix="/api/v1/console", tags=["console"])


class OidcOut(BaseModel):
    authorization_endpoint: str
    token_endpoint: str
    client_id: str
    scope: str


class ConsoleConfig(BaseModel):
    demo: bool
    """Demo users may be picked (``GET /api/v1/demo/users``, ``POST /api/v1/demo/tokens``)."""
    oidc: OidcOut | None
    """The identity provider the API trusts, if one is configured."""


@router.get("/config", response_model=ConsoleConfig)
async def console_config(settings: SettingsDep) -> ConsoleConfig:
    """How the console may sign in here (no token needed: nothing in it is secret)."""
    oidc = None
    if settings.oidc_authorization_endpoint and settings.oidc_token_endpoint:
        oidc = OidcOut(
            authorization_endpoint=settings.oidc_authorization_endpoint,
            token_endpoint=settings.oidc_token_endpoint,
            client_id=settings.oidc_client_id,
            scope=settings.oidc_scope,
        )
    return ConsoleConfig(demo=settings.demo_clock, oidc=oidc)
