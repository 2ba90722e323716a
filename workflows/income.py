"""Household income as the monitoring forms count it (yuan, exact decimals, never floats)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

CENT = Decimal("0.01")
INCOME_COMPONENTS = ("wage_income", "business_income", "property_income", "transfer_income")


def _yuan(value: Any) -> Decimal:
    return Decimal(str(value))


def net_income(verification: dict[str, Any]) -> Decimal:
    """家庭纯收入: the four income components less production and business expenses."""
    gross = sum((_yuan(verification[c]) for c in INCOME_COMPONENTS), Decimal(0))
    return gross - _yuan(verification["business_expense"])


def per_person(amount: Decimal, size: int) -> Decimal:
    return (amount / size).quantize(CENT, rounding=ROUND_HALF_UP)


def income_figures(verification: dict[str, Any]) -> dict[str, str]:
    """人均纯收入, and the same after compliant out-of-pocket spending (合规自付支出), the
    measure of rigid spending's weight; both per person per year, as decimal strings."""
    size = int(verification["household_size"])
    net = net_income(verification)
    after_spending = net - _yuan(verification["compliant_out_of_pocket"])
    return {
        "net_income": str(net.quantize(CENT)),
        "net_income_per_person": str(per_person(net, size)),
        "net_income_per_person_after_spending": str(per_person(after_spending, size)),
    }
