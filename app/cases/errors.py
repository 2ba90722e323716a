"""The refusals of the case service, each declared once: its code (registered with its status
and titles in :mod:`app.core.problems`) and its message, the raise site giving only what
happened."""

from __future__ import annotations

from collections.abc import Sequence

from app.core.errors import Problem
from app.core.language import LANGUAGE
from workflows.rules import Unmet


class CaseNotFound(Problem):
    """404: no such case in the caller's area (outside it, a case does not exist for them)."""

    code = "case_not_found"

    def __init__(self, case_id: str) -> None:
        super().__init__(f"No case {case_id} in your area.")


class ActionNotFound(Problem):
    code = "action_not_found"

    def __init__(self, action: str) -> None:
        super().__init__(f"The workflow has no action {action!r}.")


class VersionRequired(Problem):
    """428: a transition names the version it was decided on."""

    code = "if_match_required"

    def __init__(self) -> None:
        super().__init__('Send If-Match: "<version>" with the version you read.')


class VersionMismatch(Problem):
    """412: the case is no longer at the version the caller read (or, found at the write, it
    moved while this request ran)."""

    code = "version_mismatch"

    def __init__(self, current: int | None = None, sent: str | None = None) -> None:
        if current is None:
            super().__init__("The case changed meanwhile; reload it.")
        else:
            super().__init__(
                f"The case is at version {current}, not {sent}; reload it.",
                current_version=current,
            )


class NoTransition(Problem):
    """409: the action does not leave the case's state (the machine has no such transition)."""

    code = "transition_not_allowed"

    def __init__(self, action: str, state: str) -> None:
        super().__init__(f"{action} does not leave the state {state}.")


class GuardFailed(Problem):
    """409: the rules refuse the step, each unmet rule with its code and message."""

    code = "guard_failed"

    def __init__(self, unmet: Sequence[Unmet], *, refused: str | None = None) -> None:
        """``refused``: the action the machine itself refused, no rule of ours unmet."""
        super().__init__(
            f"The workflow refuses {refused}."
            if refused is not None
            else "The rules refuse this step: "
            + "; ".join(f"{u.code} ({u.message})" for u in unmet),
            unmet=[u.as_dict(LANGUAGE.get()) for u in unmet],
        )


class StateCorrupt(Problem):
    code = "state_corrupt"

    def __init__(self, state: str) -> None:
        super().__init__(f"Stored state {state!r} is not in the workflow.")


class NotRecordableInState(Problem):
    code = "not_recordable_in_state"

    def __init__(self, kind: str, state: str) -> None:
        super().__init__(f"A {kind} is not recorded in the state {state}.")


class NotRecordableInWorkflow(Problem):
    code = "not_recordable_in_workflow"

    def __init__(self, kind: str, workflow_version: str) -> None:
        super().__init__(f"A case of {workflow_version} records no {kind}.")


class TownshipMismatch(Problem):
    code = "township_mismatch"

    def __init__(self, village: str, township: str, named: str) -> None:
        super().__init__(
            f"The household's village {village} lies in the township {township}, not {named}.",
            field="township_code",
        )


class ApplicationFormMissing(Problem):
    """422: a village cadre enters a written self-declaration with its scanned form's hash."""

    code = "application_form_missing"

    def __init__(self) -> None:
        super().__init__(
            "A written self-declaration is entered with its scanned form's SHA-256.",
            field="application_sha256",
        )


class HouseholdInAnotherVillage(Problem):
    """422: the person is registered in another village; ``where`` names it only to those
    whose area holds it."""

    code = "household_village_mismatch"

    def __init__(self, where: str) -> None:
        super().__init__(
            f"This person is registered {where}; the household is reported there.",
            field="household.village_code",
        )
