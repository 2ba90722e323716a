"""The refusals of warning indicators and their alert proposals, each declared once (see
:class:`app.core.errors.Problem`)."""

from __future__ import annotations

from app.core.errors import Problem


class IndicatorNotFound(Problem):
    code = "indicator_not_found"

    def __init__(self, indicator_id: str) -> None:
        super().__init__(f"No warning indicator {indicator_id}.")


class ProposalNotFound(Problem):
    code = "proposal_not_found"

    def __init__(self, proposal_id: str) -> None:
        super().__init__(f"No alert proposal {proposal_id} in your area.")


class ProposalDecided(Problem):
    code = "proposal_decided"

    def __init__(self, status: str) -> None:
        super().__init__(f"The proposal was {status} already.")


class AlertPeriodReversed(Problem):
    code = "period_reversed"

    def __init__(self) -> None:
        super().__init__("ends_on is before starts_on.", field="ends_on")
