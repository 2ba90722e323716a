"""The demonstration clock: present only when ``DEMO_CLOCK`` is set, never in production."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from app.auth.dependencies import CurrentPrincipal
from app.auth.permissions import permit
from app.core.clock import OffsetClock
from app.timers.service import process_due

router = APIRouter(prefix="/api/v1/demo", tags=["demo"])


class Advance(BaseModel):
    model_config = ConfigDict(extra="forbid")
    days: int = Field(default=0, ge=0, le=400)
    hours: int = Field(default=0, ge=0, le=24 * 400)


class ClockOut(BaseModel):
    now: datetime
    timers_fired: int


@router.post("/clock", response_model=ClockOut)
async def advance_clock(body: Advance, principal: CurrentPrincipal, request: Request) -> ClockOut:
    """Move the service's clock forward, then fire the timers that became due."""
    permit(principal, "demo.clock")
    clock: OffsetClock = request.app.state.clock
    clock.advance(timedelta(days=body.days, hours=body.hours))
    fired = await process_due(request.app.state.sessionmaker, clock)
    return ClockOut(now=clock.now(), timers_fired=fired)
