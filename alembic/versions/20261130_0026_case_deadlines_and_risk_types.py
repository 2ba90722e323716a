"""Cases carry their notice end, their elimination due date and their risk types

The inbox sorts on a case's nearest deadline and the dashboard counts risk types; both live
in the folded facts, which SQL cannot index. Three columns kept by every append: the running
notice's end, the moment an assisted case has been monitored long enough for an elimination
assessment, and the classification's risk types between commas.

The backfill is frozen here (calendar arithmetic in Asia/Shanghai, the facts' layout as of
this revision, each case's pinned policy row for its monitoring period): later code cannot
change what this revision does.

Revision ID: 0026
Revises: 0025
Create Date: 2026-11-30 13:00:00
"""

import calendar
import json
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

from app.core.db import JsonDocument, UTCDateTime

revision: str = "0026"
down_revision: str | Sequence[str] | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOTICES = {"public_notice": "identification", "elimination_notice": "elimination"}
MONITORED = ("assisted", "kept_under_watch")


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=SHANGHAI).astimezone(UTC)


def _after_days(instant: datetime, days: int) -> datetime:
    return _midnight(instant.astimezone(SHANGHAI).date() + timedelta(days=days + 1))


def _after_months(instant: datetime, months: int) -> datetime:
    day = instant.astimezone(SHANGHAI).date()
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return _midnight(date(year, month, min(day.day, calendar.monthrange(year, month)[1])))


def _document(value: object) -> dict:
    return json.loads(value) if isinstance(value, str) else dict(value or {})


def upgrade() -> None:
    op.add_column("monitoring_case", sa.Column("notice_ends_at", UTCDateTime(), nullable=True))
    op.add_column("monitoring_case", sa.Column("elimination_due_at", UTCDateTime(), nullable=True))
    op.add_column("monitoring_case", sa.Column("risk_types", sa.String(length=200), nullable=True))
    op.create_index("ix_monitoring_case_notice_ends_at", "monitoring_case", ["notice_ends_at"])
    op.create_index(
        "ix_monitoring_case_elimination_due_at", "monitoring_case", ["elimination_due_at"]
    )
    bind = op.get_bind()
    policies = sa.table(
        "policy_version", sa.column("version", sa.String), sa.column("parameters", JsonDocument)
    )
    months = {
        version: int(_document(parameters).get("elimination_min_months", 6))
        for version, parameters in bind.execute(
            sa.select(policies.c.version, policies.c.parameters)
        )
    }
    cases = sa.table(
        "monitoring_case",
        sa.column("id", sa.String),
        sa.column("state", sa.String),
        sa.column("policy_version", sa.String),
        sa.column("facts", JsonDocument),
        sa.column("notice_ends_at", UTCDateTime()),
        sa.column("elimination_due_at", UTCDateTime()),
        sa.column("risk_types", sa.String),
    )
    rows = bind.execute(
        sa.select(cases.c.id, cases.c.state, cases.c.policy_version, cases.c.facts)
    ).all()
    for case_id, state, policy_version, facts in rows:
        facts = _document(facts)
        values: dict[str, object] = {}
        notice = ((facts.get("procedures") or {}).get(NOTICES.get(state, "")) or {}).get("notice")
        if notice:
            values["notice_ends_at"] = _after_days(
                datetime.fromisoformat(notice["published_at"]), int(notice["days"])
            )
        if state in MONITORED and facts.get("confirmed_at"):
            values["elimination_due_at"] = _after_months(
                datetime.fromisoformat(facts["confirmed_at"]), months.get(policy_version, 6)
            )
        risks = (facts.get("classification") or {}).get("risk_types") or []
        if risks:
            values["risk_types"] = "," + ",".join(risks) + ","
        if values:
            bind.execute(sa.update(cases).where(cases.c.id == case_id).values(**values))


def downgrade() -> None:
    with op.batch_alter_table("monitoring_case") as batch:
        batch.drop_index("ix_monitoring_case_elimination_due_at")
        batch.drop_index("ix_monitoring_case_notice_ends_at")
        batch.drop_column("risk_types")
        batch.drop_column("elimination_due_at")
        batch.drop_column("notice_ends_at")
