"""Resident identity numbers (居民身份证号码), GB 11643-1999."""

from __future__ import annotations

from datetime import date

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


def check_character(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character of the first 17 digits."""
    return _CHECK[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def birth_date(id_number: str) -> date:
    return date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))


def problem(id_number: str, today: date | None = None) -> str | None:
    """Why ``id_number`` is not a valid 18-character ID number, or None when it is; with
    ``today``, a number whose holder is born after it is not valid either."""
    if len(id_number) != 18 or not id_number[:17].isdigit():
        return "must be 18 characters: 17 digits and a check character"
    try:
        born = birth_date(id_number)
    except ValueError:
        return "the birth date (characters 7–14) is not a calendar date"
    if born.year < 1900:
        return "the birth date (characters 7–14) is not plausible"
    if id_number[17].upper() != check_character(id_number[:17]):
        return "the check character does not match (ISO 7064 MOD 11-2)"
    if today is not None and born > today:
        return f"the birth date (characters 7–14) {born} is after today ({today})"
    return None


def sex(id_number: str) -> str:
    """The 17th character is odd for men, even for women."""
    return "male" if int(id_number[16]) % 2 else "female"


def normalize(id_number: str) -> str:
    return id_number.strip().upper()


def mask(id_number: str) -> str:
    """First 6 and last 4 characters, the rest hidden."""
    return id_number[:6] + "*" * (len(id_number) - 10) + id_number[-4:]


def make(first17: str) -> str:
    """A valid number from 17 digits (demo data and tests)."""
    return first17 + check_character(first17)
