"""Demonstrations only: they answer when ``DEMO_CLOCK`` is set and are 404 otherwise (always
routed, so the OpenAPI document is the same in every mode; its ``demo`` tag says so).

The clock an administrator moves forward (so a notice period can pass in minutes), the
service's present day, and tokens for the demo users minted on that clock: a token's lifetime
follows the moved clock, so a walk-through mints one per call and never finds it expired.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from fastapi import Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from app.areas.demo import DEMO_USERS, demo_user
from app.auth.dependencies import CurrentPrincipal
from app.auth.permissions import permit
from app.auth.tokens import mint
from app.cases.service import fire_timer
from app.core.clock import OffsetClock
from app.core.errors import NotFound, declares
from app.core.routing import api_router
from app.demo.errors import DemoUserNotFound
from app.timers.service import process_due
from workflows.calendar import local_date
from workflows.permissions import Permission
from workflows.vocabulary import Role


def demo_only(request: Request) -> None:
    """Outside a demonstration there is nothing here (checked before anything else)."""
    if not request.app.state.settings.demo_clock:
        raise NotFound("not_found", "Not Found")


router = api_router(
    prefix="/api/v1/demo",
    tags=["demo"],
    dependencies=[Depends(demo_only)],
    responses=declares(404),
)

TOKEN_HOURS = 8


class Advance(BaseModel):
    model_config = ConfigDict(extra="forbid")
    days: int = Field(default=0, ge=0, le=400)
    hours: int = Field(default=0, ge=0, le=24 * 400)


class ClockOut(BaseModel):
    now: datetime
    today: date
    """The service's present day in Asia/Shanghai: what facts recorded now are dated."""
    timers_fired: int = 0


class DemoUserOut(BaseModel):
    sub: str
    role: Role
    area: str
    department: str | None
    description: str
    name: str | None


class DemoTokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user: str = Field(min_length=1, max_length=64, examples=["cadre.pinggang"])


class DemoTokenOut(BaseModel):
    access_token: str
    token_type: str = "Bearer"
    expires_at: datetime
    """On the service's (moved) clock."""
    user: DemoUserOut


def _out(name: str) -> DemoUserOut:
    found = demo_user(name)
    return DemoUserOut(
        sub=found.sub,
        role=found.role,
        area=found.area,
        department=found.department,
        description=found.description,
        name=found.name,
    )


@router.get("/clock", response_model=ClockOut)
async def read_clock(request: Request) -> ClockOut:
    """The service's present moment and day (the demo clock, moved or not)."""
    now = request.app.state.clock.now()
    return ClockOut(now=now, today=local_date(now))


@router.post("/clock", response_model=ClockOut)
async def advance_clock(body: Advance, principal: CurrentPrincipal, request: Request) -> ClockOut:
    """Move the service's clock forward, then fire the timers that became due."""
    permit(principal, Permission.demo_clock)
    clock: OffsetClock = request.app.state.clock
    clock.advance(timedelta(days=body.days, hours=body.hours))
    fired = await process_due(request.app.state.sessionmaker, clock, fire_timer)
    now = clock.now()
    return ClockOut(now=now, today=local_date(now), timers_fired=fired)


@router.get("/users", response_model=list[DemoUserOut])
async def list_demo_users() -> list[DemoUserOut]:
    """The demo users one may sign in as."""
    return [_out(user.sub) for user in DEMO_USERS]


@router.post("/tokens", response_model=DemoTokenOut, status_code=201)
async def mint_demo_token(body: DemoTokenIn, request: Request) -> DemoTokenOut:
    """A bearer token for a demo user, minted on the service's clock (8 hours of it)."""
    try:
        user = _out(body.user)
    except LookupError:
        raise DemoUserNotFound(body.user) from None
    now = request.app.state.clock.now()
    ttl = timedelta(hours=TOKEN_HOURS)
    token = mint(
        request.app.state.settings,
        sub=user.sub,
        role=user.role,
        area=user.area,
        department=user.department,
        name=user.name,
        now=now,
        ttl=ttl,
    )
    return DemoTokenOut(access_token=token, expires_at=now + ttl, user=user)
