"""Policy parameters (政策参数) with versions: a case pins the version it was opened under.

Versions live in the database only (``policy_version``): revision 0004 seeds the first, the
Jiaohe plan of 2022, as a literal; every change is a new version with a later effective date,
written through ``POST /api/v1/policies``, and never altered. :data:`POLICIES` holds the
versions this process has loaded from there, so rules can read them without a database; the
service loads a version before any rule needs it. Nothing here is a version: editing this
file changes no notice length.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any


@dataclass(frozen=True)
class PolicyParameters:
    """The numbers the rules use. Changing one means a new version; old cases keep theirs.
    The defaults serve the pure workflow tests, which run without a database."""

    version: str
    effective_from: date = date(2021, 1, 1)
    notice_days: int = 5
    """公示 length in full calendar days."""
    identification_days: int = 15
    """From first report to city determination (识别时限)."""
    measures_months: int = 1
    """First assistance measure due within this many months of confirmation."""
    acceptance_days: int = 2
    """A 12317 self-declaration is accepted by the village within this many days (受理时限)."""
    elimination_min_months: int = 6
    """Minimum monitoring time before risk elimination."""
    review_quorum: Fraction = Fraction(2, 3)
    """Share of members that must be present (村民委员会组织法 art. 26: at least two thirds)."""
    review_majority: Fraction = Fraction(1, 2)
    """Share of those present that must vote for; strictly more than this."""
    income_lines: dict[int, Decimal] = field(default_factory=lambda: {2021: Decimal("6000.00")})
    """监测范围指导线 per person per year, by year (2021: 1.5 × the old national standard)."""
    fund_budgets: dict[int, Decimal] = field(default_factory=lambda: {2022: Decimal("500000.00")})
    """防返贫监测帮扶资金 by year, yuan."""

    def income_line(self, year: int) -> Decimal | None:
        """The line set for ``year``; None when the administrator has not set it yet."""
        return self.income_lines.get(year)

    def document(self) -> dict[str, Any]:
        """The parameters as stored: JSON, money as decimal strings, fractions as "2/3"."""
        return {
            "notice_days": self.notice_days,
            "identification_days": self.identification_days,
            "measures_months": self.measures_months,
            "acceptance_days": self.acceptance_days,
            "elimination_min_months": self.elimination_min_months,
            "review_quorum": str(self.review_quorum),
            "review_majority": str(self.review_majority),
            "income_lines": {str(y): str(v) for y, v in sorted(self.income_lines.items())},
            "fund_budgets": {str(y): str(v) for y, v in sorted(self.fund_budgets.items())},
        }

    @classmethod
    def from_document(
        cls, version: str, effective_from: date, document: dict[str, Any]
    ) -> PolicyParameters:
        return cls(
            version=version,
            effective_from=effective_from,
            notice_days=int(document["notice_days"]),
            identification_days=int(document["identification_days"]),
            measures_months=int(document["measures_months"]),
            # versions written before this parameter existed had the default
            acceptance_days=int(document.get("acceptance_days", 2)),
            elimination_min_months=int(document["elimination_min_months"]),
            review_quorum=Fraction(document["review_quorum"]),
            review_majority=Fraction(document["review_majority"]),
            income_lines={int(y): Decimal(v) for y, v in document["income_lines"].items()},
            fund_budgets={int(y): Decimal(v) for y, v in document["fund_budgets"].items()},
        )


POLICIES: dict[str, PolicyParameters] = {}
"""The versions this process has read from the database (versions never change once written)."""


def register(parameters: PolicyParameters) -> None:
    POLICIES[parameters.version] = parameters


def policy(version: str) -> PolicyParameters:
    """The parameters of a pinned version; an unknown one is corruption, not a default."""
    try:
        return POLICIES[version]
    except KeyError as exc:
        raise LookupError(f"policy version {version!r} is not loaded") from exc
