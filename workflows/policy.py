"""Policy parameters (政策参数) with versions: a case pins the version it was opened under."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction


@dataclass(frozen=True)
class PolicyParameters:
    """The numbers the rules use. Changing one means a new version; old cases keep theirs."""

    version: str
    notice_days: int = 5
    """公示 length in full calendar days."""
    identification_days: int = 15
    """From first report to city determination (识别时限)."""
    measures_months: int = 1
    """First assistance measure due within this many months of confirmation."""
    elimination_min_months: int = 6
    """Minimum monitoring time before risk elimination."""
    review_quorum: Fraction = Fraction(2, 3)
    """Share of members that must be present (村民委员会组织法 art. 26: at least two thirds)."""
    review_majority: Fraction = Fraction(1, 2)
    """Share of those present that must vote for; strictly more than this."""
    income_line_yuan: Decimal = Decimal("6000")
    """监测范围指导线 per person per year (2021: 1.5 × the old national standard)."""


JIAOHE_2022 = PolicyParameters(version="jiaohe-2022.1")

POLICIES: dict[str, PolicyParameters] = {JIAOHE_2022.version: JIAOHE_2022}
CURRENT_POLICY = JIAOHE_2022


def policy(version: str) -> PolicyParameters:
    """The parameters of a pinned version; an unknown one is corruption, not a default."""
    try:
        return POLICIES[version]
    except KeyError as exc:
        raise LookupError(f"unknown policy version {version!r}") from exc
