"""Demo data beside the areas: income lines for the years a demonstration runs through.

The policy seeds only the 2021 line (6000 yuan, the plan's own figure); the province sets
later lines year by year. A demonstration that moves its clock through an elimination needs a
line for each year it reaches, so ``fangfanpin demo`` adds one policy version with
**illustrative** lines, labelled as such in its reason. They are not provincial data.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.policies.models import PolicyVersion
from app.policies.service import in_effect_on

DEMO_POLICY = "jiaohe-demo-lines"
ILLUSTRATIVE_LINES = {
    2022: "6300.00",
    2023: "6600.00",
    2024: "6900.00",
    2025: "7200.00",
    2026: "7500.00",
    2027: "7800.00",
    2028: "8100.00",
    2029: "8400.00",
    2030: "8700.00",
}
REASON = (
    "示例数据：演示用监测范围指导线，非省级公布标准 "
    "(illustrative income lines for demonstrations, not provincial data)"
)
EFFECTIVE_FROM = date(2022, 1, 1)


async def load_policy(session: AsyncSession, now: datetime) -> bool:
    """Add the demo version once (versions are append-only); True when it was added."""
    if await session.get(PolicyVersion, DEMO_POLICY) is not None:
        return False
    document = (await in_effect_on(session, EFFECTIVE_FROM)).document()
    document["income_lines"].update({str(y): v for y, v in ILLUSTRATIVE_LINES.items()})
    session.add(
        PolicyVersion(
            version=DEMO_POLICY,
            effective_from=EFFECTIVE_FROM,
            parameters=document,
            created_at=now,
            created_by="demo",
            reason=REASON,
        )
    )
    await session.flush()
    return True
