"""Registries derived from one source: permission names are an enum (a misspelt one fails at
import and in the type check; the published table keeps its names), and the write path's
column lists come from the models."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from app.auth.tokens import SYSTEM_TIMER
from app.cases import service
from app.cases import snapshot as case_snapshot
from app.cases.models import Case, CaseEvent
from tests.helpers import Api
from workflows.permissions import CITY_WIDE, PERMISSIONS, Permission


def test_every_permission_is_in_the_table_and_nothing_else() -> None:
    assert set(PERMISSIONS) == set(Permission)
    assert all(isinstance(name, Permission) for name in PERMISSIONS)
    assert set(Permission) >= CITY_WIDE
    assert Permission.case_read.value == "case.read"  # the wire name is unchanged


async def test_the_published_table_uses_the_wire_names(api: Api) -> None:
    published = (await api.get("auditor.jiaohe", "/api/v1/workflows/permissions")).json()
    names = published.get("permissions", published)
    assert set(names) == {p.value for p in Permission}


def test_the_write_path_writes_every_column_of_the_models() -> None:
    """A column added to a case moves with each event unless declared fixed at opening, and
    the snapshot mirrors the table; an event's columns are all written but the database's."""
    columns = {c.name for c in Case.__table__.columns}
    assert set(case_snapshot.Snapshot.__dataclass_fields__) == columns
    assert set(service.MOVING) | service.FIXED_AT_OPENING == columns
    assert not set(service.MOVING) & service.FIXED_AT_OPENING
    assert set(service.WRITTEN) | {"id", "hash", "txid"} == {
        c.name for c in CaseEvent.__table__.columns
    }
    fields: dict[str, Any] = dict.fromkeys(case_snapshot.SNAPSHOT_FIELDS, "x")
    fields["version"] = 1
    snap = case_snapshot.Snapshot(**fields)
    row = service.event_row(snap, "probe", {}, "x", SYSTEM_TIMER, datetime.now(UTC))
    assert tuple(row) == service.WRITTEN  # every column the service writes, in order
