"""The refusals of the printable documents (公示, 公告), each declared once (see
:class:`app.core.errors.Problem`)."""

from __future__ import annotations

from collections.abc import Iterable

from app.core.errors import Problem


class DocumentNotFound(Problem):
    code = "document_not_found"

    def __init__(self, name: str, names: Iterable[str]) -> None:
        super().__init__(f"No document {name!r}; one of {sorted(names)}.")


class NotConfirmed(Problem):
    code = "document_not_available"

    def __init__(self) -> None:
        super().__init__("The case has not been confirmed.")


class NoNoticePublished(Problem):
    code = "document_not_available"

    def __init__(self) -> None:
        super().__init__("No notice is published in this procedure.")
