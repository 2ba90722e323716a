"""The refusals of the assistance fund (帮扶资金), each declared once (see
:class:`app.core.errors.Problem`)."""

from __future__ import annotations

from app.core.errors import Problem


class CaseNotAssisted(Problem):
    code = "case_not_assisted"

    def __init__(self) -> None:
        super().__init__("Money goes only to households under assistance.")


class DisbursementNotFound(Problem):
    code = "disbursement_not_found"

    def __init__(self, disbursement_id: str) -> None:
        super().__init__(f"No disbursement {disbursement_id}.")


class RejectionWithoutReason(Problem):
    code = "reason_missing"

    def __init__(self) -> None:
        super().__init__("A rejection states its reason.", field="reason")


class DisbursementDecided(Problem):
    code = "disbursement_decided"

    def __init__(self, status: str) -> None:
        super().__init__(f"It is {status} already.")


class NoBudget(Problem):
    code = "no_budget"

    def __init__(self, year: int) -> None:
        super().__init__(f"No fund budget is set for {year}.")


class BudgetExceeded(Problem):
    """409: the year's budget does not cover the amount; ``balance`` says what is left."""

    code = "budget_exceeded"

    def __init__(self, year: int, left: str, asked: str) -> None:
        super().__init__(
            f"The {year} budget has {left} yuan left; {asked} was asked.", balance=left
        )


class DisbursementNotPaid(Problem):
    code = "disbursement_not_paid"

    def __init__(self) -> None:
        super().__init__("Only an approved disbursement is reversed.")
