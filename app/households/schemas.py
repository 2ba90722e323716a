"""What a report says of the household (its minimal data)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from app.households import idnumber


def _valid_id_number(value: str) -> str:
    value = idnumber.normalize(value)
    reason = idnumber.problem(value)
    if reason:
        raise ValueError(f"not a valid ID number: {reason}")
    return value


IdNumber = Annotated[str, AfterValidator(_valid_id_number)]
VillageCode = Annotated[str, StringConstraints(pattern=r"^\d{12}$")]
Phone = Annotated[str, StringConstraints(pattern=r"^\+?\d[\d-]{6,18}$")]


class HouseholdIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    head_name: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)
    ]
    head_id_number: IdNumber
    village_code: VillageCode
    size: int = Field(ge=1, le=30)
    phone: Phone | None = None
    household_type: Literal["lifted_out", "ordinary"] = "ordinary"
    """户类型: a registered poor household lifted out of poverty (脱贫户), or an ordinary one."""


class HouseholdSummary(BaseModel):
    id: str
    head_name: str
    head_id_number_masked: str
    village_code: str
    size: int
