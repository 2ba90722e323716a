"""The refusals of the audit log's proofs and bundles, each declared once (see
:class:`app.core.errors.Problem`)."""

from __future__ import annotations

from app.core.errors import Problem


class NoSignedNote(Problem):
    code = "checkpoint_not_found"

    def __init__(self) -> None:
        super().__init__("No checkpoint has been signed as a note yet.")


class CheckpointNotFound(Problem):
    code = "checkpoint_not_found"

    def __init__(self, tree_size: int) -> None:
        super().__init__(f"No signed checkpoint of tree size {tree_size}.")


class IndexBeyondTree(Problem):
    code = "index_beyond_tree"

    def __init__(self, log_index: int, tree_size: int) -> None:
        super().__init__(f"Entry {log_index} is not in a tree of {tree_size}.")


class LogEntryNotFound(Problem):
    code = "log_entry_not_found"

    def __init__(self, log_index: int) -> None:
        super().__init__(f"No log entry {log_index}.")


class SizesOutOfOrder(Problem):
    code = "sizes_out_of_order"

    def __init__(self) -> None:
        super().__init__("first must not exceed second.")


class PeriodReversed(Problem):
    code = "period_reversed"

    def __init__(self) -> None:
        super().__init__("until must be after since.")
