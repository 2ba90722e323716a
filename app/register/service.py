"""The household register's operations: members, their facts, and the household's history of
cases."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.access_log.record import registry_probe
from app.auth.permissions import permit, scope_within
from app.auth.tokens import Principal
from app.cases import service as cases
from app.cases import views as case_views
from app.cases.models import Case
from app.cases.repository import in_area
from app.core import blind
from app.core.config import Settings
from app.core.crypto import cipher_for, context
from app.households import consistency, idnumber, registry, repository
from app.households.errors import (
    HouseholdExists,
    HouseholdNotFound,
    MemberAlreadyRegistered,
    MemberInconsistent,
    MemberNotFound,
    UnknownVillage,
    VillageOutsideArea,
)
from app.households.models import Household, Member
from app.households.registry import ATTRIBUTES, new_member
from app.households.schemas import (
    CONDITIONS,
    HouseholdCase,
    HouseholdChange,
    HouseholdFound,
    HouseholdIn,
    HouseholdOut,
    MemberChange,
    MemberIn,
    MemberOut,
    OpenCaseRef,
)
from workflows.calendar import local_date
from workflows.permissions import Permission, allowed


def member_out(member: Member, principal: Principal) -> MemberOut:
    """A member as the caller may see it: the full birth date only for a role that may read
    the ID number itself (and is logged when it does); the year and age for the others."""
    full = allowed(principal.role, Permission.personal_data_unmask)
    return MemberOut(
        id=member.id,
        name=member.name,
        id_number_masked=idnumber.shown(member.id_number_masked),
        relation=member.relation,
        sex=member.sex,
        birth_date=member.birth_date if full else None,
        birth_year=member.birth_date.year,
        **{name: getattr(member, name) for name in ATTRIBUTES},
    )


async def _household(session: AsyncSession, principal: Principal, household_id: str) -> Household:
    household = await session.get(Household, household_id, with_for_update=True)
    if household is None or not principal.covers(household.village_code):
        raise HouseholdNotFound(household_id)
    return household


def _may_record(principal: Principal) -> None:
    permit(principal, Permission.household_record)


def _trail(member: Member, change: str, fields: dict[str, Any]) -> dict[str, Any]:
    """What the case's trail keeps of a change: never the plain ID number."""
    return {
        "member_id": member.id,
        "change": change,
        "fields": {
            k: (
                v.isoformat()
                if hasattr(v, "isoformat")
                else str(v)
                if isinstance(v, Decimal)
                else v
            )
            for k, v in fields.items()
        },
    }


async def get_household(
    session: AsyncSession, principal: Principal, household_id: str
) -> HouseholdOut:
    household = await _household(session, principal, household_id)
    permit(principal, Permission.household_read)
    members = (
        (
            await session.execute(
                select(Member)
                .where(Member.household_id == household_id)
                .order_by(Member.relation != "head", Member.birth_date)
            )
        )
        .scalars()
        .all()
    )
    history = (
        (
            await session.execute(
                select(Case).where(Case.household_id == household_id).order_by(Case.opened_at)
            )
        )
        .scalars()
        .all()
    )
    return HouseholdOut(
        **case_views.household_summary(household),
        household_number=household.household_number,
        bank_account_masked=household.bank_account_masked,
        **{name: getattr(household, name) for name in CONDITIONS},
        members=[member_out(m, principal) for m in members],
        cases=[
            HouseholdCase(id=c.id, state=c.state, is_open=c.is_open, opened_at=c.opened_at)
            for c in history
        ],
    )


async def register(
    session: AsyncSession,
    principal: Principal,
    body: HouseholdIn,
    now: datetime,
    settings: Settings,
) -> HouseholdOut:
    """A household entered in its village's register without a report: the households a
    screening campaign or a regional alert covers are the registered ones."""
    permit(principal, Permission.household_register)
    if not principal.covers(body.village_code):
        raise VillageOutsideArea(body.village_code)
    index = blind.blind_of(settings)
    try:
        async with session.begin_nested():
            village, existing = await repository.village_and_household_of_person(
                session, body.village_code, index.candidates(body.head_id_number)
            )
            if not village:
                raise UnknownVillage(body.village_code)
            if existing is not None:
                known = (
                    {"household_id": existing.id} if principal.covers(existing.village_code) else {}
                )
                refusal = HouseholdExists(**known)
                refusal.kept.append(
                    registry_probe(principal, existing.id, now, "registering a household")
                )
                raise refusal
            household = await registry.insert_household(
                session, body, index.digest(body.head_id_number), now, settings
            )
    except IntegrityError as exc:
        raise MemberAlreadyRegistered(head=True) from exc
    return await get_household(session, principal, household.id)


async def add_member(
    session: AsyncSession,
    principal: Principal,
    household_id: str,
    body: MemberIn,
    now: datetime,
    settings: Settings,
) -> MemberOut:
    try:
        async with session.begin_nested():
            await _household(session, principal, household_id)
            _may_record(principal)
            member = new_member(household_id, body, now, settings)
            await _consistent(session, member, now)
            session.add(member)
            await session.flush()
            await blind.remember(session, blind.blind_of(settings), [body.id_number])
            fields = {
                "name": member.name,
                "relation": member.relation,
                "sex": member.sex,
                "birth_year": member.birth_date.year,
                **{n: getattr(member, n) for n in ATTRIBUTES},
            }
            if body.phone:  # sealed on the member; the trail keeps the last four digits
                fields["phone_masked"] = mask_phone(body.phone)
            await cases.record_household_change(
                session, principal, household_id, _trail(member, "added", fields), now
            )
    except IntegrityError as exc:
        holder = await repository.household_of_person(
            session, blind.blind_of(settings).candidates(body.id_number)
        )
        refusal = MemberAlreadyRegistered()
        if holder is not None:
            refusal.kept.append(registry_probe(principal, holder.id, now, "adding a member"))
        raise refusal from exc
    return member_out(member, principal)


async def change_member(
    session: AsyncSession,
    principal: Principal,
    household_id: str,
    member_id: str,
    change: MemberChange,
    now: datetime,
    settings: Settings,
) -> MemberOut:
    await _household(session, principal, household_id)
    _may_record(principal)
    member = await session.get(Member, member_id)
    if member is None or member.household_id != household_id:
        raise MemberNotFound(member_id)
    fields = change.model_dump(exclude_unset=True)
    if fields.get("name") is None:
        fields.pop("name", None)
    if fields.get("relation") is None:
        fields.pop("relation", None)
    if "phone" in fields:  # sealed on the member; the trail keeps the last four digits
        phone = fields.pop("phone")
        member.phone_encrypted = (
            cipher_for(settings.field_keys).encrypt(phone, context("member", member.id, "phone"))
            if phone
            else None
        )
        fields["phone_masked"] = mask_phone(phone) if phone else None
    for name, value in fields.items():
        if name != "phone_masked":
            setattr(member, name, value)
    await _consistent(session, member, now)
    member.updated_at = now
    await cases.record_household_change(
        session, principal, household_id, _trail(member, "changed", fields), now
    )
    return member_out(member, principal)


def _person(member: Member) -> consistency.Person:
    return consistency.Person(
        relation=member.relation,
        sex=member.sex,
        birth_date=member.birth_date,
        labour_skill=member.labour_skill,
        school_status=member.school_status,
        social_assistance=member.social_assistance,
        assistance_monthly=member.social_assistance_monthly,
    )


async def _consistent(session: AsyncSession, member: Member, now: datetime) -> None:
    """422 with every reason a member cannot stand in the household as recorded."""
    with session.no_autoflush:
        others = [
            _person(m)
            for m in await repository.members_of(session, member.household_id)
            if m.id != member.id
        ]
    found = consistency.problems(_person(member), others, local_date(now))
    if found:
        raise MemberInconsistent(found)


async def change_household(
    session: AsyncSession,
    principal: Principal,
    household_id: str,
    change: HouseholdChange,
    now: datetime,
    settings: Settings,
) -> HouseholdOut:
    fields = change.model_dump(exclude_unset=True)
    shown = change.model_dump(exclude_unset=True, mode="json")  # the trail: decimals as text
    household = await _household(session, principal, household_id)
    _may_record(principal)
    account = fields.pop("bank_account", None)
    shown.pop("bank_account", None)
    if account is not None:  # sealed here; the trail records only its masked form
        household.bank_account_encrypted = cipher_for(settings.field_keys).encrypt(
            account, context("household", household_id, "bank_account")
        )
        household.bank_account_masked = shown["bank_account_masked"] = mask_account(account)
    for name, value in fields.items():
        setattr(household, name, value)
    await cases.record_household_change(
        session, principal, household_id, {"change": "household", "fields": shown}, now
    )
    return await get_household(session, principal, household_id)


async def find(
    session: AsyncSession,
    principal: Principal,
    settings: Settings,
    *,
    area: str | None,
    name: str | None,
    id_number: str | None,
    limit: int,
) -> list[HouseholdFound]:
    """Households in the caller's area matching every criterion given."""
    permit(principal, Permission.household_read)
    scope = scope_within(principal, area)
    query = select(Household).where(in_area(Household.village_code, scope))
    if name:
        named = select(Member.household_id).where(Member.name.contains(name.strip()))
        query = query.where(Household.id.in_(named))
    if id_number:
        digests = blind.blind_of(settings).candidates(idnumber.normalize(id_number))
        query = query.where(
            Household.id.in_(select(Member.household_id).where(Member.id_digest.in_(digests)))
        )
    query = query.order_by(Household.village_code, Household.head_name, Household.id).limit(limit)
    found = list((await session.execute(query)).scalars())
    open_cases = {
        c.household_id: c
        for c in (
            await session.execute(
                select(Case).where(
                    Case.household_id.in_([h.id for h in found]), Case.is_open.is_(True)
                )
            )
        ).scalars()
    }
    return [
        HouseholdFound(
            **case_views.household_summary(h),
            open_case=OpenCaseRef(id=open_cases[h.id].id, state=open_cases[h.id].state)
            if h.id in open_cases
            else None,
        )
        for h in found
    ]


def mask_account(account: str) -> str:
    """Only the last four digits show: ``****1234``."""
    return "*" * (len(account) - 4) + account[-4:]


mask_phone = mask_account
