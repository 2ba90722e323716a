"""Registering households and building member rows: shared by case opening, the registry
API and the distribution of department warnings."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.core import blind
from app.core.blind import blind_of
from app.core.config import Settings
from app.core.crypto import cipher_for, context
from app.households import hooks, idnumber, repository
from app.households.card import CARD_FIELDS, HouseholdCard
from app.households.models import Member
from app.households.schemas import HouseholdIn, MemberIn
from workflows.calendar import local_date

ATTRIBUTES = (
    "labour_skill",
    "health",
    "education",
    "school_status",
    "medical_insurance",
    "social_assistance",
    "social_assistance_monthly",
    "member_number",
    "ethnicity",
    "employee_medical_insurance",
    "critical_illness_insurance",
    "resident_pension",
    "employee_pension",
    "medical_assistance",
    "work_place",
    "employment_channel",
    "public_welfare_post",
    "public_welfare_months",
    "out_of_school_reason",
)


def new_member(household_id: str, body: MemberIn, now: datetime, settings: Settings) -> Member:
    return Member(**member_row(household_id, body, now, settings))


def member_row(
    household_id: str, body: MemberIn, now: datetime, settings: Settings
) -> dict[str, Any]:
    """A new member's row: its numbers sealed, masked and digested, its sex and birth date
    read from its ID number."""
    member_id = str(uuid.uuid4())
    cipher = cipher_for(settings.field_keys)
    sealed = cipher.encrypt(body.id_number, context("member", member_id, "id_number"))
    phone = (
        cipher.encrypt(body.phone, context("member", member_id, "phone")) if body.phone else None
    )
    return {
        "id": member_id,
        "household_id": household_id,
        "name": body.name,
        "id_number_encrypted": sealed,
        "id_number_masked": idnumber.mask(body.id_number),
        "id_digest": blind_of(settings).digest(body.id_number),
        "phone_encrypted": phone,
        "relation": body.relation,
        "sex": idnumber.sex(body.id_number),
        "birth_date": idnumber.birth_date(body.id_number),
        "created_at": now,
        "updated_at": now,
        **{name: getattr(body, name) for name in ATTRIBUTES},
    }


async def insert_household(
    session: AsyncSession, body: HouseholdIn, digest: str, now: datetime, settings: Settings
) -> HouseholdCard:
    """A new household in the registry, its head as its first member (in the open
    transaction); the household as a case reads it. Both are inserted as rows, no ORM
    objects (the unit of work's flush cost more than the two INSERTs)."""
    card, values, head = household_rows(body, digest, now, settings)
    await repository.insert_household(session, values, head)
    await registered(session, card, body.head_id_number, now, settings)
    return card


def household_rows(
    body: HouseholdIn, digest: str, now: datetime, settings: Settings
) -> tuple[HouseholdCard, dict[str, Any], dict[str, Any]]:
    """A new household as a case reads it, and its row and its head's, not yet written: by
    :func:`insert_household`, or along with the statement of its first case (an opening
    written alone, ``app.cases.opening``), which then calls :func:`registered`."""
    household_id = str(uuid.uuid4())
    cipher = cipher_for(settings.field_keys)
    card = HouseholdCard(
        id=household_id,
        village_code=body.village_code,
        head_name=body.head_name,
        head_id_number_masked=idnumber.mask(body.head_id_number),
        head_id_digest=digest,
        size=body.size,
        village_group=body.village_group,
    )
    phone = (
        cipher.encrypt(body.phone, context("household", household_id, "phone"))
        if body.phone
        else None
    )
    sealed = cipher.encrypt(
        body.head_id_number, context("household", household_id, "head_id_number")
    )
    head = MemberIn(name=body.head_name, id_number=body.head_id_number, relation="head")
    values = {
        **{name: getattr(card, name) for name in CARD_FIELDS},
        "head_id_number_encrypted": sealed,
        "phone_encrypted": phone,
        "created_at": now,
    }
    return card, values, member_row(household_id, head, now, settings)


async def registered(
    session: AsyncSession,
    card: HouseholdCard,
    head_id_number: str,
    now: datetime,
    settings: Settings,
) -> None:
    """What follows a household's registration once its rows are written: its head's digests
    under older keys while keys rotate, and the hook (the running screening rounds)."""
    await blind.remember(session, blind.blind_of(settings), [head_id_number])
    await hooks.household_registered(session, card.id, card.village_code, local_date(now))
