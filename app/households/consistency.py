"""A member the national checks would refuse is refused at the door, every reason at once.

What the ID number says (check character, birth date not after today, sex) is checked by
:func:`app.households.idnumber.problem` wherever a number comes in. Here, a member as a whole
against the household: age against labour and schooling, relationship against sex and
generation, one head per household. Ages are counted on the day the member is recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

WORKING_AGE = 16
"""Under 16 a member is 无劳动力 (labour_skill ``none``)."""
GRADE_AGES = {
    "preschool": (0, 7),
    **{f"primary_{n}": (n + 4, n + 10) for n in range(1, 7)},
    **{f"grade_{n}": (n + 4, n + 10) for n in (7, 8, 9)},
    **{f"senior_high_{n}": (n + 12, n + 20) for n in (1, 2, 3)},
    **{f"vocational_{n}": (n + 12, 30) for n in (1, 2, 3)},
    **{f"higher_vocational_{n}": (n + 14, 40) for n in (1, 2, 3)},
    "undergraduate": (15, 60),
    "postgraduate": (19, 70),
}
"""The ages (inclusive, on the day recorded) at which a member may be in each grade: a first
grader is normally 6, so 5-11 leaves room for a late start and repeated years while a
40-year-old in 七年级 is refused."""
STAGE_AGES = {
    "compulsory": (5, 18),
    "senior_high": (12, 22),
    "vocational": (12, 30),
    "college": (15, 60),
}
"""The stages recorded before grades, still on some members."""
SCHOOL_AGES = {**GRADE_AGES, **STAGE_AGES}
STUDENTS = tuple(SCHOOL_AGES)
MALE = ("son", "son_in_law", "grandson", "father", "father_in_law", "grandfather")
FEMALE = ("daughter", "daughter_in_law", "granddaughter", "mother", "mother_in_law", "grandmother")
YOUNGER = {"son": 12, "daughter": 12, "grandson": 24, "granddaughter": 24}
"""A child is at least 12 years younger than the head, a grandchild 24."""
OLDER = {
    "father": 12,
    "mother": 12,
    "father_in_law": 12,
    "mother_in_law": 12,
    "grandfather": 24,
    "grandmother": 24,
}


@dataclass(frozen=True)
class Person:
    relation: str
    sex: str
    birth_date: date
    labour_skill: str | None = None
    school_status: str | None = None
    social_assistance: str | None = None
    assistance_monthly: Decimal | None = None


def age_on(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def problems(member: Person, others: Sequence[Person], today: date) -> list[dict[str, str]]:
    """Every reason ``member`` cannot stand in a household of ``others`` (the other members)."""
    found: list[dict[str, str]] = []

    def refuse(field: str, kind: str, message: str) -> None:
        found.append({"field": field, "type": kind, "message": message})

    age = age_on(member.birth_date, today)
    if age < WORKING_AGE and member.labour_skill not in (None, "none"):
        refuse(
            "labour_skill",
            "labour_under_working_age",
            f"A member aged {age} is 无劳动力 (none), not {member.labour_skill}.",
        )
    if member.school_status in STUDENTS and member.labour_skill in ("skilled", "ordinary"):
        refuse(
            "labour_skill",
            "student_with_labour",
            f"A student ({member.school_status}) is not {member.labour_skill} labour.",
        )
    if member.school_status in SCHOOL_AGES:
        low, high = SCHOOL_AGES[member.school_status]
        if not low <= age <= high:
            refuse(
                "school_status",
                "age_against_schooling",
                f"A member aged {age} is not in {member.school_status} (ages {low}–{high}).",
            )
    if member.assistance_monthly and member.social_assistance not in ("dibao", "tekun"):
        refuse(
            "social_assistance_monthly",
            "assistance_amount_without_assistance",
            "An amount of 低保/特困 is recorded with social_assistance dibao or tekun only.",
        )
    if member.relation in MALE and member.sex != "male":
        refuse("relation", "relation_against_sex", f"A {member.relation} is male.")
    if member.relation in FEMALE and member.sex != "female":
        refuse("relation", "relation_against_sex", f"A {member.relation} is female.")
    head = next((p for p in others if p.relation == "head"), None)
    if member.relation == "head" and head is not None:
        refuse("relation", "second_head", "The household has its head already.")
    if head is not None and member.relation != "head":
        if member.relation == "spouse" and member.sex == head.sex:
            refuse(
                "relation",
                "spouse_of_same_sex",
                "The head's spouse is of the other sex in the national register.",
            )
        gap = (
            age_on(head.birth_date, member.birth_date)
            if member.birth_date > head.birth_date
            else -age_on(member.birth_date, head.birth_date)
        )
        if member.relation in YOUNGER and gap < YOUNGER[member.relation]:
            refuse(
                "relation",
                "relation_against_generation",
                f"A {member.relation} is at least {YOUNGER[member.relation]} years younger "
                "than the head.",
            )
        if member.relation in OLDER and -gap < OLDER[member.relation]:
            refuse(
                "relation",
                "relation_against_generation",
                f"A {member.relation} is at least {OLDER[member.relation]} years older "
                "than the head.",
            )
    return found
