"""Building member rows: shared by case opening (the head) and the registry API."""

from __future__ import annotations

import uuid
from datetime import datetime

from app.core.blind import blind_of
from app.core.config import Settings
from app.core.crypto import cipher_for, context
from app.households import idnumber
from app.households.models import Member
from app.households.schemas import MemberIn

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
    member_id = str(uuid.uuid4())
    cipher = cipher_for(settings.field_keys)
    sealed = cipher.encrypt(body.id_number, context("member", member_id, "id_number"))
    phone = (
        cipher.encrypt(body.phone, context("member", member_id, "phone")) if body.phone else None
    )
    return Member(
        id=member_id,
        household_id=household_id,
        name=body.name,
        id_number_encrypted=sealed,
        id_number_masked=idnumber.mask(body.id_number),
        id_digest=blind_of(settings).digest(body.id_number),
        phone_encrypted=phone,
        relation=body.relation,
        sex=idnumber.sex(body.id_number),
        birth_date=idnumber.birth_date(body.id_number),
        created_at=now,
        updated_at=now,
        **{name: getattr(body, name) for name in ATTRIBUTES},
    )
