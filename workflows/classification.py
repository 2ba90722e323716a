"""The monitoring type the facts suggest (监测对象类别); the city confirms or overrides it."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from workflows.policy import PolicyParameters

SUDDEN_CAUSES = {"illness", "accident", "natural_disaster"}


def suggest(facts: dict[str, Any], policy: PolicyParameters) -> tuple[str, str] | None:
    """``(monitoring_type, why)``, or None before the village has verified the facts."""
    verification = facts["procedures"]["identification"]["verification"]
    if verification is None:
        return None
    if facts.get("household_type") == "lifted_out":
        return "unstable_lifted", "脱贫户, 存在返贫风险"
    reported = {r.get("risk_type") for r in facts.get("reports", [])}
    causes = reported & SUDDEN_CAUSES
    year = datetime.fromisoformat(verification["recorded_at"]).year
    line = policy.income_line(year)
    after_spending = Decimal(verification["net_income_per_person_after_spending"])
    below_line = line is not None and after_spending < line
    if causes and (verification.get("large_rigid_spending") or below_line):
        return "sudden_hardship", "因病/意外/灾害, 刚性支出较大或收入骤减"
    return "marginal", "一般农户, 收入或保障不稳定"
