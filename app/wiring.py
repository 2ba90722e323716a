"""The reactions between domains, connected once for the process: when one domain changes
something another keeps in step with, the first declares a hook (:mod:`app.core.hooks`) and
the second's listener is connected here. Every entry point that writes calls :func:`connect`
(``app.main.create_app``, the worker command); a hook that runs with no listener refuses, so a
process that forgot it fails at its first write instead of skipping the work."""

from __future__ import annotations

from app.cases.hooks import case_moved
from app.exports.document import keep as keep_national_document
from app.households.hooks import household_registered
from app.screening.scope import any_round_running, join_running_rounds


def connect() -> None:
    """Connect every listener to its hook (again changes nothing)."""
    # a confirmed case's national document is rewritten with every event, in its transaction
    case_moved.connect(keep_national_document)
    # a household registered while a screening round runs over its village is one of its tasks
    household_registered.connect(join_running_rounds, writes_when=any_round_running)
