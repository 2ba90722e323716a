"""The refusals of department data uploads, each declared once (see
:class:`app.core.errors.Problem`)."""

from __future__ import annotations

from app.core.errors import Problem


class DatasetNotFound(Problem):
    code = "dataset_not_found"

    def __init__(self, dataset: str) -> None:
        super().__init__(f"No dataset {dataset!r}.")
