"""Data comparison (数据比对): department records set against what the household declared.

Each dataset is one entry of :data:`DATASETS`: the department that supplies it, the shape of a
record's attributes, and how a record compares with the village's verified facts. Adding a
dataset is adding an entry; nothing else changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Finding = tuple[str, bool]
"""A finding's summary and whether it contradicts the declared facts."""


class Attributes(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SocialAssistance(Attributes):
    status: Literal["dibao", "tekun"]
    """低保 or 特困供养."""


class MedicalSpending(Attributes):
    out_of_pocket: Decimal = Field(ge=0, decimal_places=2)
    """Compliant out-of-pocket medical spending over the last 12 months, yuan."""


class HousingSafety(Attributes):
    safe: bool


class Disability(Attributes):
    grade: int = Field(ge=1, le=4)


class Vehicles(Attributes):
    count: int = Field(ge=1)


class BusinessRegistration(Attributes):
    entities: int = Field(ge=1)


class PublicEmployee(Attributes):
    employer: str = Field(min_length=1, max_length=200)


def _declared(verification: dict[str, Any] | None, field: str) -> Any:
    return None if verification is None else verification.get(field)


def _social_assistance(a: SocialAssistance, v: dict[str, Any] | None) -> Finding:
    title = {"dibao": "农村低保", "tekun": "特困供养"}[a.status]
    transfers = _declared(v, "transfer_income")
    return f"民政: 享受{title}", transfers is not None and Decimal(transfers) == 0


def _medical(a: MedicalSpending, v: dict[str, Any] | None) -> Finding:
    declared = _declared(v, "compliant_out_of_pocket")
    summary = f"医保: 近12个月合规自付 {a.out_of_pocket} 元"
    if declared is None:
        return summary, True
    difference = abs(Decimal(declared) - a.out_of_pocket)
    return f"{summary}, 申报 {declared} 元", difference > max(Decimal(500), a.out_of_pocket / 10)


def _housing(a: HousingSafety, v: dict[str, Any] | None) -> Finding:
    declared = (_declared(v, "guarantees") or {}).get("housing_safety")
    return (
        f"住建: 住房{'安全' if a.safe else '不安全'}",
        declared is not None and declared != a.safe,
    )


def _disability(a: Disability, _: dict[str, Any] | None) -> Finding:
    return f"残联: 持{a.grade}级残疾证", False


def _vehicles(a: Vehicles, _: dict[str, Any] | None) -> Finding:
    return f"车辆登记: {a.count} 辆", True


def _business(a: BusinessRegistration, _: dict[str, Any] | None) -> Finding:
    return f"市场主体登记: {a.entities} 户", True


def _public_employee(a: PublicEmployee, _: dict[str, Any] | None) -> Finding:
    return f"财政供养人员: {a.employer}", True


@dataclass(frozen=True)
class Dataset:
    name: str
    department: str
    title: str
    attributes: type[Attributes]
    compare: Callable[[Any, dict[str, Any] | None], Finding]


DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in (
        Dataset(
            "social_assistance", "civil_affairs", "低保/特困", SocialAssistance, _social_assistance
        ),
        Dataset("medical_spending", "medical_insurance", "医保支出", MedicalSpending, _medical),
        Dataset("housing_safety", "housing", "住房安全", HousingSafety, _housing),
        Dataset("disability", "disabled_federation", "残疾人", Disability, _disability),
        Dataset("vehicles", "public_security", "车辆", Vehicles, _vehicles),
        Dataset(
            "business_registration",
            "market_regulation",
            "市场主体",
            BusinessRegistration,
            _business,
        ),
        Dataset(
            "public_employees", "human_resources", "财政供养人员", PublicEmployee, _public_employee
        ),
    )
}


def compare(
    records: list[tuple[str, str, dict[str, Any]]], verification: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """Findings for ``(dataset, member_masked, attributes)`` records, in a stable order."""
    findings = []
    for index, (dataset, member, attributes) in enumerate(sorted(records)):
        spec = DATASETS[dataset]
        summary, contradicts = spec.compare(
            spec.attributes.model_validate(attributes), verification
        )
        findings.append(
            {
                "id": f"f{index + 1}",
                "dataset": dataset,
                "member": member,
                "summary": summary,
                "contradicts": contradicts,
            }
        )
    return findings
