"""Duties the service sees done in its own records: no one marks them by hand.

* 集中排查: a township's April or October screening is done once the campaign of that month
  that meets the township has a result for every one of its households there (at the last
  result); a campaign that finds no household there is done when it opens.
* 风险消除评估: a township's half-year assessment is done when the city opens an elimination
  round over it (or over the whole city) in that half year.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.elimination_rounds.models import EliminationRound
from app.obligations.calendar import BY_KIND, covers, periods
from app.screening.models import ScreeningRound, ScreeningTask, ScreeningVisit
from workflows.calendar import local_date

Done = dict[tuple[str, str, str], datetime]


async def screened(session: AsyncSession, year: int, townships: list[str]) -> Done:
    query = select(ScreeningRound).where(
        ScreeningRound.kind == "campaign", ScreeningRound.period.like(f"{year}-%")
    )
    campaigns = (await session.execute(query)).scalars().all()
    if not campaigns:
        return {}
    township = func.substr(ScreeningTask.village_code, 1, 9)
    progress = (
        await session.execute(
            select(
                ScreeningTask.round_id,
                township,
                func.count(),
                func.count(ScreeningVisit.id),
                func.max(ScreeningVisit.recorded_at),
            )
            .outerjoin(
                ScreeningVisit,
                and_(
                    ScreeningVisit.round_id == ScreeningTask.round_id,
                    ScreeningVisit.household_id == ScreeningTask.household_id,
                ),
            )
            .where(ScreeningTask.round_id.in_([c.id for c in campaigns]))
            .group_by(ScreeningTask.round_id, township)
        )
    ).all()
    tally = {(r, t): (tasks, visited, last) for r, t, tasks, visited, last in progress}
    done: Done = {}
    for campaign in campaigns:
        assert campaign.period is not None
        for code in townships:
            if not any(covers(area, code) for area in campaign.area_codes):
                continue
            tasks, visited, last = tally.get((campaign.id, code), (0, 0, None))
            if visited < tasks:
                continue
            at = last or campaign.opened_at
            key = ("concentrated_screening", campaign.period, code)
            done[key] = min(done.get(key, at), at)
    return done


async def assessed(session: AsyncSession, year: int, townships: list[str]) -> Done:
    halves = periods(BY_KIND["elimination_assessment"], year)
    rounds = (
        await session.execute(
            select(EliminationRound.area_code, EliminationRound.opened_at).order_by(
                EliminationRound.opened_at
            )
        )
    ).all()
    done: Done = {}
    for area, opened_at in rounds:
        day = local_date(opened_at)
        for period, first, day_after in halves:
            if not first <= day < day_after:
                continue
            for code in townships:
                if covers(area, code):
                    done.setdefault(("elimination_assessment", period, code), opened_at)
    return done
