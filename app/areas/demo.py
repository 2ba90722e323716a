"""Demo data: Jiaohe City (蛟河市, 220281), some of its townships and villages, demo users.

The codes of 白石山镇 and 天北镇 and their villages are the statistics bureau's (2010 list of
urban-rural division codes); entries marked ``illustrative`` could not be verified and must not
be taken for real codes.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.areas.models import Area
from workflows.vocabulary import Role

AREAS: tuple[tuple[str, str, str, str | None, bool], ...] = (
    # code, name, level, parent, illustrative
    ("22", "吉林省", "province", None, False),
    ("2202", "吉林市", "city", "22", False),
    ("220281", "蛟河市", "county", "2202", False),
    ("220281102", "白石山镇", "township", "220281", False),
    ("220281102200", "平岗村", "village", "220281102", False),
    ("220281102201", "友好村", "village", "220281102", False),
    ("220281102202", "永青村", "village", "220281102", False),
    ("220281102205", "同青村", "village", "220281102", False),
    ("220281105", "天北镇", "township", "220281", False),
    ("220281105200", "劳动村", "village", "220281105", False),
    ("220281105201", "永进村", "village", "220281105", False),
    ("220281105202", "土顶子村", "village", "220281105", False),
    ("220281105205", "光荣村", "village", "220281105", False),
    ("220281190", "示例镇 (illustrative)", "township", "220281", True),
    ("220281190200", "示例一村 (illustrative)", "village", "220281190", True),
    ("220281190201", "示例二村 (illustrative)", "village", "220281190", True),
)


@dataclass(frozen=True)
class DemoUser:
    sub: str
    role: Role
    area: str
    department: str | None = None
    description: str = ""
    name: str | None = None
    """The person's (illustrative) name, as a token's ``name`` claim carries it."""


DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser(
        "cadre.pinggang",
        Role.village_cadre,
        "220281102200",
        description="平岗村 cadre",
        name="张建国",
    ),
    DemoUser(
        "committee.pinggang",
        Role.village_committee,
        "220281102200",
        description="平岗村 two committees",
        name="刘玉芬",
    ),
    DemoUser(
        "township.baishishan",
        Role.township_official,
        "220281102",
        description="白石山镇 township official",
        name="李德明",
    ),
    DemoUser(
        "cadre.laodong",
        Role.village_cadre,
        "220281105200",
        description="劳动村 cadre",
        name="赵春生",
    ),
    DemoUser(
        "committee.laodong",
        Role.village_committee,
        "220281105200",
        description="劳动村 two committees",
        name="孙丽华",
    ),
    DemoUser(
        "township.tianbei",
        Role.township_official,
        "220281105",
        description="天北镇 township official",
        name="周志强",
    ),
    DemoUser(
        "bureau.jiaohe", Role.city_bureau, "220281", description="蛟河市乡村振兴局", name="王海涛"
    ),
    DemoUser(
        "dept.civil-affairs",
        Role.department,
        "220281",
        "civil_affairs",
        "民政局 (sector department)",
        name="陈静",
    ),
    DemoUser(
        "auditor.jiaohe",
        Role.auditor,
        "220281",
        description="auditor, reads everything",
        name="吴敏",
    ),
    DemoUser("admin.jiaohe", Role.admin, "220281", description="administrator", name="郑强"),
    DemoUser("platform.12317", Role.platform_12317, "220281", description="12317 platform"),
    DemoUser(
        "exporter.national",
        Role.national_exporter,
        "220281",
        description="national system exporter",
    ),
)


def demo_user(sub: str) -> DemoUser:
    for user in DEMO_USERS:
        if user.sub == sub:
            return user
    raise LookupError(sub)


async def load(session: AsyncSession) -> int:
    """Insert the demo areas that are missing; answers how many were added."""
    existing = set((await session.execute(select(Area.code))).scalars())
    added = [
        Area(code=code, name=name, level=level, parent_code=parent, illustrative=illustrative)
        for code, name, level, parent, illustrative in AREAS
        if code not in existing
    ]
    session.add_all(added)
    await session.flush()
    return len(added)
