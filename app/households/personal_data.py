"""Personal data in full: a household's ID numbers, phone and bank account, for a role whose
work needs them, on a stated purpose, each read in the access log."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Query
from pydantic import BaseModel

from app.access_log import record as access_log
from app.auth.dependencies import ClockDep, CurrentPrincipal, SettingsDep
from app.auth.permissions import permit
from app.core.crypto import cipher_for, context
from app.core.db import SessionDep
from app.core.routing import api_router
from app.households import repository
from app.households.errors import HouseholdNotFound
from app.households.models import Household
from workflows.permissions import Permission

router = api_router(prefix="/api/v1", tags=["personal-data"])

Field = Literal["id_number", "phone", "bank_account"]


class MemberIdentity(BaseModel):
    member_id: str
    name: str
    id_number: str | None
    phone: str | None = None


class PersonalData(BaseModel):
    household_id: str
    head_id_number: str | None
    phone: str | None
    bank_account: str | None = None
    members: list[MemberIdentity]


@router.get("/households/{household_id}/personal-data", response_model=PersonalData)
async def read_personal_data(
    household_id: str,
    principal: CurrentPrincipal,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    purpose: Annotated[str, Query(min_length=2, max_length=500)],
    fields: Annotated[list[Field], Query()] = ["id_number"],  # noqa: B006
) -> PersonalData:
    """ID numbers and the phones in full, for a role whose work needs them, with a stated
    purpose. Every such read is written to the access log in the same transaction."""
    cipher, now = cipher_for(settings.field_keys), clock.now()
    household = await session.get(Household, household_id)
    if household is None or not principal.covers(household.village_code):
        raise HouseholdNotFound(household_id)
    permit(principal, Permission.personal_data_unmask)
    members = await repository.members_head_first(session, household_id)
    wanted = sorted(set(fields))
    head = phone = account = None
    if "bank_account" in wanted and household.bank_account_encrypted:
        sealed_at = context("household", household.id, "bank_account")
        account = cipher.decrypt(household.bank_account_encrypted, sealed_at)
    if "id_number" in wanted:
        head = cipher.decrypt(
            household.head_id_number_encrypted, context("household", household.id, "head_id_number")
        )
    if "phone" in wanted and household.phone_encrypted:
        phone = cipher.decrypt(
            household.phone_encrypted, context("household", household.id, "phone")
        )
    identities = [
        MemberIdentity(
            member_id=m.id,
            name=m.name,
            id_number=cipher.decrypt(m.id_number_encrypted, context("member", m.id, "id_number"))
            if "id_number" in wanted
            else None,
            phone=cipher.decrypt(m.phone_encrypted, context("member", m.id, "phone"))
            if "phone" in wanted and m.phone_encrypted
            else None,
        )
        for m in members
    ]
    access_log.record(
        session, principal, "household", household.id, fields=wanted, purpose=purpose, at=now
    )
    return PersonalData(
        household_id=household.id,
        head_id_number=head,
        phone=phone,
        bank_account=account,
        members=identities,
    )
