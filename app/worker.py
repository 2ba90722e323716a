"""The worker's loop: timers due (notices run, deadlines passed), then the audit log's sequencer
and its periodic checkpoints, every few seconds. An entry point: it assembles the timer table,
the case's write path (what a timer fires) and the audit log, which know nothing of each other.
Run by ``fangfanpin worker`` and, embedded, by the app's lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit import log as audit_log
from app.core.clock import Clock
from app.core.config import Settings
from app.timers.service import Fire, process_due

log = logging.getLogger(__name__)


async def run_worker(
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: Clock,
    fire: Fire,
    *,
    interval: float = 5.0,
    stop: asyncio.Event | None = None,
    settings: Settings | None = None,
) -> None:
    """Process due timers every ``interval`` seconds until ``stop`` is set (or cancelled);
    with ``settings``, also keep the audit log sequenced and checkpointed."""
    stop = stop or asyncio.Event()
    while not stop.is_set():
        try:
            await process_due(sessionmaker, clock, fire)
            if settings is not None:
                await audit_log.maintain(sessionmaker, settings, clock.now())
        except Exception:  # a database outage must not kill the worker; it retries
            log.exception("worker pass failed; retrying")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
