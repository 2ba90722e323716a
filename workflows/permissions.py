"""Who may do what: one table, beside the case workflow's own.

Transitions and facts on a case are governed by the workflow's table (``workflows/case.py``:
each step and fact names its roles, per state). Everything else a route does is one entry
here, named ``resource.verb``; each route asks :func:`allowed` for its entry, and
``GET /api/v1/workflows/permissions`` publishes the table. Area scoping is separate and
always applies: an object outside the caller's area code prefix answers 404, inside the SQL
that finds it.
"""

from __future__ import annotations

from workflows.case import CURRENT
from workflows.vocabulary import Role

V, C, T, B = Role.village_cadre, Role.village_committee, Role.township_official, Role.city_bureau
OFFICIALS = frozenset({V, C, T, B})
"""The people who work cases in their area."""
EVERYONE = frozenset(role for role in Role if role is not Role.system)
CASE_READERS = OFFICIALS | {Role.auditor, Role.admin}
"""Departments see their own uploads and feedback, the 12317 platform its tracking numbers,
the exporter the export: none of them reads cases."""
OPENERS = frozenset(
    role for step in CURRENT.steps if step.action.startswith("open_") for role in step.roles
)

PERMISSIONS: dict[str, frozenset[Role]] = {
    "case.read": CASE_READERS,
    "case.open": OPENERS,  # published only: the open_* step of each channel decides
    "household.read": CASE_READERS,
    "household.record": frozenset({V}),
    "personal_data.unmask": frozenset({V, T, B}),
    "access_log.read": frozenset({Role.auditor, Role.admin}),
    "policy.read": EVERYONE,
    "policy.write": frozenset({B, Role.admin}),
    "fund.request": frozenset({V, T, B}),
    "fund.decide": frozenset({B}),
    "fund.read": frozenset({V, T, B, Role.auditor, Role.admin}),
    "elimination_round.open": frozenset({B}),
    "elimination_round.read": frozenset({T, B, Role.auditor, Role.admin}),
    "intake.declare": frozenset({Role.platform_12317}),
    "department_data.read": frozenset({Role.department, B, Role.admin, Role.auditor}),
    "department_data.upload": frozenset({Role.department, B, Role.admin}),
    "audit.keys": EVERYONE,
    "audit.read": frozenset({B, Role.auditor, Role.admin}),
    "audit.cursor": frozenset({B, Role.auditor, Role.admin, Role.national_exporter}),
    "audit.sign": frozenset({B, Role.admin}),
    "audit.bundle": frozenset({B, Role.auditor, Role.admin}),
    "export.national": frozenset({B, Role.national_exporter}),
    "export.batches": frozenset({B, Role.national_exporter, Role.auditor, Role.admin}),
    "export.sync": CASE_READERS | {Role.national_exporter},
    "ledger.read": OFFICIALS | {Role.auditor, Role.admin},
    "household.register": frozenset({V}),
    "screening.record": frozenset({V}),
    "screening.read": OFFICIALS | {Role.auditor, Role.admin},
    "screening.campaign": frozenset({B}),
    "regional_alert.register": frozenset({B}),
    "regional_alert.read": OFFICIALS | {Role.auditor, Role.admin},
    "warning_indicator.define": frozenset({B}),
    "warning_indicator.read": frozenset({B, Role.auditor, Role.admin}),
    "warning_batch.upload": frozenset({Role.department, B}),
    "warning_batch.read": frozenset({Role.department, B, Role.auditor, Role.admin}),
    "warning_batch.distribute": frozenset({B}),
    "warning_list.submit": frozenset({T}),
    "warning_list.read": frozenset({T, B, Role.auditor, Role.admin}),
    "warning_list.entries": OFFICIALS | {Role.auditor, Role.admin},
    "obligation.complete": frozenset({T, Role.department}),
    "obligation.read": frozenset({T, B, Role.department, Role.auditor, Role.admin}),
    "workflow.read": EVERYONE,
    "demo.clock": frozenset({Role.admin}),
}


CITY_WIDE = frozenset({
    "policy.write", "department_data.upload", "audit.sign", "audit.cursor", "audit.bundle",
    "export.national", "warning_indicator.define", "screening.campaign",
    "regional_alert.register",
})  # fmt: skip
"""What only a caller whose area is the whole city may do: a token narrowed to a township
is refused these even when its role holds them."""


def allowed(role: Role, permission: str) -> bool:
    return role in PERMISSIONS[permission]


def document() -> dict[str, list[str]]:
    return {name: sorted(roles) for name, roles in PERMISSIONS.items()}
