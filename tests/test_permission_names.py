"""Permission names are an enum: a misspelt one fails at import (and in the type check), and
the table published to frontends is the same table under the same names."""

from __future__ import annotations

from tests.helpers import Api
from workflows.permissions import CITY_WIDE, PERMISSIONS, Permission


def test_every_permission_is_in_the_table_and_nothing_else() -> None:
    assert set(PERMISSIONS) == set(Permission)
    assert all(isinstance(name, Permission) for name in PERMISSIONS)
    assert set(Permission) >= CITY_WIDE
    assert Permission.case_read == "case.read"  # the wire name is unchanged


async def test_the_published_table_uses_the_wire_names(api: Api) -> None:
    published = (await api.get("auditor.jiaohe", "/api/v1/workflows/permissions")).json()
    names = published.get("permissions", published)
    assert set(names) == {p.value for p in Permission}
