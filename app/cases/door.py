"""Checks at the door of a fact that need the household or the trail: dates and the form.

Replay never runs these: they tighten what a request may say (a 422 naming each field), not
what a stored event means, so they may grow stricter without a new workflow version.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.cases import repository as repo
from app.core.blind import BlindIndex
from app.core.errors import Unprocessable
from app.households import idnumber
from app.households.models import Member
from workflows.calendar import local_date
from workflows.vocabulary import Procedure

DATE_FIELDS: dict[str, tuple[str, ...]] = {
    "commitment_form": ("signed_on",),
    "household_verification": ("verified_on",),
    "income_assessment": ("verified_on",),
    "review": ("held_on",),
    "home_visit": ("visited_on",),
    "committee_study": ("studied_on",),
    "announcement_posting": ("posted_on",),
    "measure_progress": ("happened_on",),
}
"""Dates of things that happened: never after today (Asia/Shanghai, the service's clock) and
never before what they belong to began. Planned dates (a measure's period) are not here."""

ADULT_YEARS = 18


def problem(field: str, message: str, kind: str) -> dict[str, str]:
    return {"field": field, "message": message, "type": kind}


def measure_item_problems(
    payload: dict[str, Any], items: Mapping[str, frozenset[str]]
) -> list[dict[str, str]]:
    """A measure names one of its category's national items (the code list measure_item)."""
    allowed = items.get(payload["category"], frozenset())
    if payload["national_item"] in allowed:
        return []
    listed = "、".join(sorted(allowed)) if allowed else "none: the category has no column"
    return [
        problem(
            "national_item",
            f"not a national item of {payload['category']} (its items: {listed})",
            "measure_item_unknown",
        )
    ]


def refuse(problems: list[dict[str, str]]) -> Unprocessable:
    names = ", ".join(p["field"] for p in problems)
    return Unprocessable("validation_failed", f"Invalid input: {names}.", errors=problems)


async def began_on(
    session: AsyncSession,
    case_id: str,
    opened_at: datetime,
    facts: dict[str, Any],
    kind: str,
    procedure: Procedure | None,
    payload: dict[str, Any],
) -> tuple[date, str]:
    """The first day a fact's date may name, and what began then."""
    if procedure == Procedure.elimination:
        proposed = await repo.last_event_at(session, case_id, "propose_elimination")
        if proposed is not None:
            return local_date(proposed), "the elimination procedure began"
    if (procedure == Procedure.plan or kind == "announcement_posting") and facts.get(
        "confirmed_at"
    ):
        return local_date(datetime.fromisoformat(facts["confirmed_at"])), "the case was confirmed"
    if kind == "measure_progress":
        measure = (facts.get("measures") or {}).get(payload.get("measure_id")) or {}
        if measure.get("planned_at"):
            return local_date(datetime.fromisoformat(measure["planned_at"])), "it was planned"
    return local_date(opened_at), "the case opened"


def date_problems(
    kind: str, payload: dict[str, Any], today: date, earliest: date, began: str
) -> list[dict[str, str]]:
    found = []
    for field in DATE_FIELDS.get(kind, ()):
        value = payload.get(field)
        if value is None:
            continue
        day = date.fromisoformat(value)
        if day > today:
            found.append(problem(field, f"{day} is after today ({today}).", "date_in_future"))
        elif day < earliest:
            found.append(problem(field, f"{day} is before {began} ({earliest}).", "date_too_early"))
    return found


def age_on(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def commitment_form_problems(
    payload: dict[str, Any],
    members: Sequence[Member],
    index: BlindIndex,
    today: date,
) -> list[dict[str, str]]:
    """A form covers registered members of this household only, every adult among them, and
    is signed by a covered adult or by a proxy named for one."""
    signed_on = date.fromisoformat(payload["signed_on"])
    by_digest = {m.id_digest: m for m in members}
    covered: dict[str, Member] = {}
    found = []
    for i, number in enumerate(payload["covered_member_id_numbers"]):
        field = f"covered_member_id_numbers.{i}"
        reason = idnumber.problem(number, today)
        if reason:
            found.append(problem(field, f"not a valid ID number: {reason}", "id_number_invalid"))
            continue
        member = next(filter(None, map(by_digest.get, index.candidates(number))), None)
        if member is None:
            found.append(
                problem(field, "not a registered member of this household", "member_not_registered")
            )
        elif member.id in covered:
            found.append(problem(field, "listed twice", "member_listed_twice"))
        else:
            covered[member.id] = member
    adults = [m for m in members if age_on(m.birth_date, signed_on) >= ADULT_YEARS]
    for member in adults:
        if member.id not in covered:
            shown = idnumber.shown(member.id_number_masked)
            found.append(
                problem(
                    "covered_member_id_numbers",
                    f"the adult member {member.name} ({shown}) is not covered",
                    "adult_not_covered",
                )
            )
    covered_adults = {m.name for m in covered.values() if m in adults}
    if payload.get("signatory_is_proxy"):
        if payload.get("proxy_for_name") not in covered_adults:
            found.append(
                problem(
                    "proxy_for_name",
                    "a proxy signs for a covered adult member",
                    "signatory_not_covered",
                )
            )
    elif payload["signatory_name"] not in covered_adults:
        found.append(
            problem(
                "signatory_name",
                "the signatory is a covered adult member (or a proxy named for one)",
                "signatory_not_covered",
            )
        )
    return found
