"""The refusals of the national exports and their acknowledgments, each
declared once (see :class:`app.core.errors.Problem`)."""

from __future__ import annotations

from app.core.errors import Problem


class EncodingNotApplicable(Problem):
    code = "encoding_not_applicable"

    def __init__(self) -> None:
        super().__init__("Only CSV is offered in GB18030.")


class CursorAhead(Problem):
    code = "cursor_ahead"

    def __init__(self, size: int, after: int) -> None:
        super().__init__(f"The log holds {size} entries; after={after} is beyond it.")


class BatchNotFound(Problem):
    code = "batch_not_found"

    def __init__(self, batch_id: str) -> None:
        super().__init__(f"No export batch {batch_id}.")


class UnknownBatch(Problem):
    """422: an acknowledgment names a batch that was never exported."""

    code = "unknown_batch"

    def __init__(self, batch_id: str) -> None:
        super().__init__(f"No export batch {batch_id}.")


class CaseAcknowledgedTwice(Problem):
    code = "duplicate_case"

    def __init__(self) -> None:
        super().__init__("A case is acknowledged twice.")


class UnknownCases(Problem):
    code = "unknown_case"

    def __init__(self, cases: list[str]) -> None:
        super().__init__(f"No such case: {', '.join(cases[:20])}.", cases=cases)


class CasesNotInBatch(Problem):
    code = "case_not_in_batch"

    def __init__(self, cases: list[str]) -> None:
        super().__init__(
            f"Not sent by this batch (or sent again since): {', '.join(cases[:20])}.",
            cases=cases,
        )


class MemberNotInHousehold(Problem):
    code = "member_not_in_household"

    def __init__(self, member_id: str, case_id: str) -> None:
        super().__init__(f"Member {member_id} is not of case {case_id}'s household.")
