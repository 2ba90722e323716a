"""What other domains keep in step with a case (connected in ``app.wiring``)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.cases.snapshot import Snapshot
from app.core.hooks import Hook

case_moved: Hook[[AsyncSession, Snapshot]] = Hook(
    "case moved",
    """A case took a new event (its snapshot as it now stands), in the writing transaction:
    the national document follows it (app.exports.document.keep).""",
)
