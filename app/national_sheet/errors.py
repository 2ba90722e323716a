"""The refusals of the code lists' corrections, each declared once (see
:class:`app.core.errors.Problem`)."""

from __future__ import annotations

from app.core.errors import Problem


class CodeListInvalid(Problem):
    """422: a correction of the code lists that does not hold, every reason listed."""

    code = "code_list_invalid"

    def __init__(self, found: list[dict[str, str]]) -> None:
        super().__init__(
            f"The correction does not hold: {'; '.join(p['message'] for p in found)}",
            errors=found,
        )


class CodeListCorrectionConcurrent(Problem):
    code = "code_list_correction_concurrent"

    def __init__(self) -> None:
        super().__init__(
            "Another correction was written at the same moment; read the lists again and resend."
        )
