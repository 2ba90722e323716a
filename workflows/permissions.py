"""Who may do what: one table, beside the case workflow's own.

Transitions and facts on a case are governed by the workflow's table (``workflows/case.py``:
each step and fact names its roles, per state). Everything else a route does is one entry
here, named ``resource.verb``; each route asks :func:`allowed` for its entry, and
``GET /api/v1/workflows/permissions`` publishes the table. Area scoping is separate and
always applies: an object outside the caller's area code prefix answers 404, inside the SQL
that finds it.
"""

from __future__ import annotations

from enum import StrEnum

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


class Permission(StrEnum):
    """Every entry of the table, as a name a typo cannot pass: ``Permission.case_read``."""

    case_read = "case.read"
    case_open = "case.open"
    household_read = "household.read"
    household_record = "household.record"
    personal_data_unmask = "personal_data.unmask"
    access_log_read = "access_log.read"
    policy_read = "policy.read"
    policy_write = "policy.write"
    fund_request = "fund.request"
    fund_decide = "fund.decide"
    fund_read = "fund.read"
    elimination_round_open = "elimination_round.open"
    elimination_round_read = "elimination_round.read"
    intake_declare = "intake.declare"
    department_data_read = "department_data.read"
    department_data_upload = "department_data.upload"
    audit_keys = "audit.keys"
    audit_read = "audit.read"
    audit_cursor = "audit.cursor"
    audit_sign = "audit.sign"
    audit_bundle = "audit.bundle"
    export_national = "export.national"
    export_batches = "export.batches"
    export_sync = "export.sync"
    ledger_read = "ledger.read"
    household_register = "household.register"
    screening_record = "screening.record"
    screening_read = "screening.read"
    screening_campaign = "screening.campaign"
    regional_alert_register = "regional_alert.register"
    regional_alert_read = "regional_alert.read"
    warning_indicator_define = "warning_indicator.define"
    warning_indicator_read = "warning_indicator.read"
    warning_batch_upload = "warning_batch.upload"
    warning_batch_read = "warning_batch.read"
    warning_batch_distribute = "warning_batch.distribute"
    warning_list_submit = "warning_list.submit"
    warning_list_read = "warning_list.read"
    warning_list_entries = "warning_list.entries"
    obligation_complete = "obligation.complete"
    obligation_read = "obligation.read"
    workflow_read = "workflow.read"
    demo_clock = "demo.clock"


PERMISSIONS: dict[Permission, frozenset[Role]] = {
    Permission.case_read: CASE_READERS,
    Permission.case_open: OPENERS,  # published only: the open_* step of each channel decides
    Permission.household_read: CASE_READERS,
    Permission.household_record: frozenset({V}),
    Permission.personal_data_unmask: frozenset({V, T, B}),
    Permission.access_log_read: frozenset({Role.auditor, Role.admin}),
    Permission.policy_read: EVERYONE,
    Permission.policy_write: frozenset({B, Role.admin}),
    Permission.fund_request: frozenset({V, T, B}),
    Permission.fund_decide: frozenset({B}),
    Permission.fund_read: frozenset({V, T, B, Role.auditor, Role.admin}),
    Permission.elimination_round_open: frozenset({B}),
    Permission.elimination_round_read: frozenset({T, B, Role.auditor, Role.admin}),
    Permission.intake_declare: frozenset({Role.platform_12317}),
    Permission.department_data_read: frozenset({Role.department, B, Role.admin, Role.auditor}),
    Permission.department_data_upload: frozenset({Role.department, B, Role.admin}),
    Permission.audit_keys: EVERYONE,
    Permission.audit_read: frozenset({B, Role.auditor, Role.admin}),
    Permission.audit_cursor: frozenset({B, Role.auditor, Role.admin, Role.national_exporter}),
    Permission.audit_sign: frozenset({B, Role.admin}),
    Permission.audit_bundle: frozenset({B, Role.auditor, Role.admin}),
    Permission.export_national: frozenset({B, Role.national_exporter}),
    Permission.export_batches: frozenset({B, Role.national_exporter, Role.auditor, Role.admin}),
    Permission.export_sync: CASE_READERS | {Role.national_exporter},
    Permission.ledger_read: OFFICIALS | {Role.auditor, Role.admin},
    Permission.household_register: frozenset({V}),
    Permission.screening_record: frozenset({V}),
    Permission.screening_read: OFFICIALS | {Role.auditor, Role.admin},
    Permission.screening_campaign: frozenset({B}),
    Permission.regional_alert_register: frozenset({B}),
    Permission.regional_alert_read: OFFICIALS | {Role.auditor, Role.admin},
    Permission.warning_indicator_define: frozenset({B}),
    Permission.warning_indicator_read: frozenset({B, Role.auditor, Role.admin}),
    Permission.warning_batch_upload: frozenset({Role.department, B}),
    Permission.warning_batch_read: frozenset({Role.department, B, Role.auditor, Role.admin}),
    Permission.warning_batch_distribute: frozenset({B}),
    Permission.warning_list_submit: frozenset({T}),
    Permission.warning_list_read: frozenset({T, B, Role.auditor, Role.admin}),
    Permission.warning_list_entries: OFFICIALS | {Role.auditor, Role.admin},
    Permission.obligation_complete: frozenset({T, Role.department}),
    Permission.obligation_read: frozenset({T, B, Role.department, Role.auditor, Role.admin}),
    Permission.workflow_read: EVERYONE,
    Permission.demo_clock: frozenset({Role.admin}),
}


CITY_WIDE = frozenset(
    {
        Permission.policy_write,
        Permission.department_data_upload,
        Permission.audit_sign,
        Permission.audit_cursor,
        Permission.audit_bundle,
        Permission.export_national,
        Permission.warning_indicator_define,
        Permission.screening_campaign,
        Permission.regional_alert_register,
    }
)
"""What only a caller whose area is the whole city may do: a token narrowed to a township
is refused these even when its role holds them."""


def allowed(role: Role, permission: Permission) -> bool:
    return role in PERMISSIONS[permission]


def document() -> dict[str, list[str]]:
    return {name: sorted(roles) for name, roles in PERMISSIONS.items()}
