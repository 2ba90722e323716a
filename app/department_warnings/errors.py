"""The refusals of department warning batches (部门预警), each declared once (see
:class:`app.core.errors.Problem`)."""

from __future__ import annotations

from app.core.errors import Problem


class SourceNotYours(Problem):
    code = "source_not_yours"

    def __init__(self, *, department: bool) -> None:
        super().__init__(
            "A department sends its own warnings (source=department)."
            if department
            else "Department warnings come from the department; the city enters media and "
            "petition signals.",
            field="source",
        )


class BatchReferenceReused(Problem):
    code = "batch_reference_reused"

    def __init__(self, reference: str) -> None:
        super().__init__(
            f"Batch {reference} was sent before with other contents.", field="reference"
        )


class TooManyRows(Problem):
    code = "too_many_rows"

    def __init__(self, limit: int) -> None:
        super().__init__(f"A batch has at most {limit:,} rows; split the file.")


class FileEmpty(Problem):
    code = "file_empty"

    def __init__(self) -> None:
        super().__init__("The batch has no rows.")


class WarningBatchNotFound(Problem):
    code = "batch_not_found"

    def __init__(self) -> None:
        super().__init__("No such warning batch of yours.")


class LineRepeated(Problem):
    code = "line_repeated"

    def __init__(self) -> None:
        super().__init__("Each line is decided once.", field="items")


class WarningNotAccepted(Problem):
    code = "warning_not_accepted"

    def __init__(self, lines: list[int]) -> None:
        super().__init__(
            "No accepted warning on line(s) " + ", ".join(map(str, lines)) + ".", lines=lines
        )


class WarningAlreadyDecided(Problem):
    code = "warning_already_decided"

    def __init__(self, lines: list[int]) -> None:
        super().__init__(
            "Already decided: line(s) " + ", ".join(map(str, lines)) + ".", lines=lines
        )
