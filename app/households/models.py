"""Households (户), the unit a case is about."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, UTCDateTime, sealed


@sealed(
    ("head_id_number_encrypted", "head_id_number"),
    ("phone_encrypted", "phone"),
    ("bank_account_encrypted", "bank_account"),
)
class Household(Base):
    __tablename__ = "household"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    village_code: Mapped[str] = mapped_column(ForeignKey("area.code"), index=True)
    head_name: Mapped[str] = mapped_column(String(100))
    head_id_number_encrypted: Mapped[str] = mapped_column(Text)
    """AES-GCM (app.core.crypto), bound to this row and column."""
    head_id_number_masked: Mapped[str] = mapped_column(String(18))
    """First 6 and last 4: what answers show, so reads never decrypt."""
    head_id_digest: Mapped[str] = mapped_column(String(64), unique=True)
    """HMAC of the head's ID number: finds the household again on a second report."""
    phone_encrypted: Mapped[str | None] = mapped_column(Text)
    bank_account_encrypted: Mapped[str | None] = mapped_column(Text)
    """The account assistance is paid into (惠民惠农一卡通), AES-GCM like the ID number."""
    bank_account_masked: Mapped[str | None] = mapped_column(String(32))
    size: Mapped[int]
    village_group: Mapped[str | None] = mapped_column(String(50))
    """村民小组 (社/组) within the village, as the notice names it."""
    household_number: Mapped[str | None] = mapped_column(String(32))
    """户编号 in the national system, once known."""
    house_area: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    """住房面积, square metres."""
    has_power: Mapped[bool | None]
    road_hardened: Mapped[bool | None]
    main_road_distance: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))
    """与村主干路距离, kilometres."""
    sanitary_toilet: Mapped[bool | None]
    farmland_area: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    """耕地面积, mu (亩), like every land area below."""
    forest_area: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    returned_forest_area: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    orchard_area: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    pasture_area: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    water_area: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


@sealed(("id_number_encrypted", "id_number"), ("phone_encrypted", "phone"))
class Member(Base):
    """A household member (家庭成员); the head is one too (relation ``head``)."""

    __tablename__ = "member"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    household_id: Mapped[str] = mapped_column(ForeignKey("household.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    id_number_encrypted: Mapped[str] = mapped_column(Text)
    id_number_masked: Mapped[str] = mapped_column(String(18))
    id_digest: Mapped[str] = mapped_column(String(64), unique=True)
    """A person belongs to one household."""
    phone_encrypted: Mapped[str | None] = mapped_column(Text)
    """家庭成员联系电话, AES-GCM like the ID number; no answer shows it (personal data only)."""
    relation: Mapped[str] = mapped_column(String(16))
    sex: Mapped[str] = mapped_column(String(8))
    birth_date: Mapped[date] = mapped_column(Date)
    labour_skill: Mapped[str | None] = mapped_column(String(16))
    health: Mapped[str | None] = mapped_column(String(24))
    education: Mapped[str | None] = mapped_column(String(24))
    school_status: Mapped[str | None] = mapped_column(String(24))
    medical_insurance: Mapped[bool | None]
    social_assistance: Mapped[str | None] = mapped_column(String(8))
    social_assistance_monthly: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    """低保金 or 特困供养金, yuan a month."""
    member_number: Mapped[str | None] = mapped_column(String(32))
    """人编号 in the national system, once known."""
    ethnicity: Mapped[str | None] = mapped_column(String(16))
    """民族."""
    employee_medical_insurance: Mapped[bool | None]
    critical_illness_insurance: Mapped[bool | None]
    resident_pension: Mapped[bool | None]
    employee_pension: Mapped[bool | None]
    medical_assistance: Mapped[bool | None]
    work_place: Mapped[str | None] = mapped_column(String(100))
    employment_channel: Mapped[str | None] = mapped_column(String(50))
    public_welfare_post: Mapped[str | None] = mapped_column(String(100))
    public_welfare_months: Mapped[int | None]
    out_of_school_reason: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
