"""Policy versions: which is in effect, loading pinned ones, and adding new ones."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.permissions import permit
from app.auth.tokens import Principal
from app.core.direct import DirectRow
from app.policies.errors import EffectiveDateInPast, NoPolicyInEffect, PolicyVersionExists
from app.policies.models import PolicyVersion
from workflows.calendar import local_date
from workflows.money import Budget
from workflows.permissions import Permission
from workflows.policy import POLICIES, PolicyParameters, policy, register
from workflows.vocabulary import Role

POLICY_ROLES = (Role.city_bureau, Role.admin)


def _parameters(row: PolicyVersion) -> PolicyParameters:
    return PolicyParameters.from_document(row.version, row.effective_from, row.parameters)


async def ensure_loaded(session: AsyncSession, versions: Iterable[str]) -> None:
    """Load pinned versions this process has not seen (versions never change once written)."""
    missing = sorted({v for v in versions if v not in POLICIES})
    if missing:
        rows = await session.execute(
            select(PolicyVersion).where(PolicyVersion.version.in_(missing))
        )
        for row in rows.scalars():
            register(_parameters(row))


async def in_effect(session: AsyncSession, instant: datetime) -> PolicyParameters:
    """The version in effect on ``instant``'s Asia/Shanghai date: which one is asked of the
    database every time; its parameters are read once per process (:func:`ensure_loaded`),
    as versions never change once written."""
    row = await _IN_EFFECT.first(session, {"day": local_date(instant)})
    return await parameters_of(session, None if row is None else row[0])


async def parameters_of(session: AsyncSession, version: str | None) -> PolicyParameters:
    """The parameters of the version a read found in effect (:func:`version_in_effect`);
    None: no version is in effect (refused)."""
    if version is None:
        raise NoPolicyInEffect()
    await ensure_loaded(session, [version])
    return policy(version)


def _in_effect() -> Any:
    return (
        select(PolicyVersion.version)
        .where(PolicyVersion.effective_from <= bindparam("day"))
        .order_by(PolicyVersion.effective_from.desc(), PolicyVersion.created_at.desc())
        .limit(1)
    )


def version_in_effect() -> Any:
    """The version in effect on the date bound as ``day`` (Asia/Shanghai), as a column of
    another read (None when none is): for a request that asks it with other things in one
    round trip (an opening)."""
    return _in_effect().scalar_subquery().label("policy_in_effect")


_IN_EFFECT = DirectRow(_in_effect())
"""Compiled once (an opening asks the same within its first read: :func:`version_in_effect`)."""


async def all_versions(session: AsyncSession) -> list[PolicyVersion]:
    query = select(PolicyVersion).order_by(PolicyVersion.effective_from, PolicyVersion.created_at)
    return list((await session.execute(query)).scalars())


class PolicyChange(BaseModel):
    """A new version: what is not given is taken from the version in effect on that date."""

    model_config = ConfigDict(extra="forbid")

    effective_from: date
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
    notice_days: int | None = Field(default=None, ge=1, le=60)
    identification_days: int | None = Field(default=None, ge=1, le=365)
    measures_months: int | None = Field(default=None, ge=1, le=24)
    acceptance_days: int | None = Field(default=None, ge=1, le=30)
    elimination_min_months: int | None = Field(default=None, ge=1, le=60)
    review_quorum: str | None = None
    review_majority: str | None = None
    income_lines: dict[int, Budget] | None = None
    """Lines to set or change, by year; years not given keep their line."""
    fund_budgets: dict[int, Budget] | None = None

    @field_validator("review_quorum", "review_majority")
    @classmethod
    def _fraction(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            share = Fraction(value)
        except (ValueError, ZeroDivisionError) as exc:
            raise ValueError("a share such as 2/3") from exc
        if not 0 < share < 1:
            raise ValueError("a share between 0 and 1")
        return str(share)

    @field_validator("income_lines", "fund_budgets")
    @classmethod
    def _years(cls, value: dict[int, Decimal] | None) -> dict[int, Decimal] | None:
        if value and not all(2000 <= year <= 2100 for year in value):
            raise ValueError("years between 2000 and 2100")
        return value


async def create(
    session: AsyncSession, principal: Principal, change: PolicyChange, now: datetime
) -> PolicyVersion:
    """A new version from ``effective_from``; never earlier than today (no retroactive rules)."""
    permit(principal, Permission.policy_write)
    if change.effective_from < local_date(now):
        raise EffectiveDateInPast()
    base = await in_effect_on(session, change.effective_from)
    document = base.document()
    for name in (
        "notice_days",
        "identification_days",
        "measures_months",
        "acceptance_days",
        "elimination_min_months",
        "review_quorum",
        "review_majority",
    ):
        value = getattr(change, name)
        if value is not None:
            document[name] = value
    for name in ("income_lines", "fund_budgets"):
        for year, amount in (getattr(change, name) or {}).items():
            document[name][str(year)] = str(amount)
    version = f"jiaohe-{change.effective_from.isoformat()}"
    if await session.get(PolicyVersion, version) is not None:
        raise PolicyVersionExists(version)
    row = PolicyVersion(
        version=version,
        effective_from=change.effective_from,
        parameters=document,
        created_at=now,
        created_by=principal.sub,
        reason=change.reason,
    )
    session.add(row)
    return row


async def in_effect_on(session: AsyncSession, day: date) -> PolicyParameters:
    query = (
        select(PolicyVersion)
        .where(PolicyVersion.effective_from <= day)
        .order_by(PolicyVersion.effective_from.desc(), PolicyVersion.created_at.desc())
        .limit(1)
    )
    row = (await session.execute(query)).scalar_one_or_none()
    if row is None:
        raise NoPolicyInEffect()
    return _parameters(row)
