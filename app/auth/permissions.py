"""Enforcing the permission table (``workflows/permissions.py``) on a route."""

from __future__ import annotations

from app.auth.errors import AreaNotCityWide, AreaNotFound, RoleNotPermitted
from app.auth.tokens import Principal
from workflows.permissions import CITY_WIDE, Permission, allowed

CITY_CODE_LENGTH = 6
"""A county-level city's code: 220281."""


def permit(principal: Principal, permission: Permission) -> None:
    """403 ``role_not_permitted`` unless the caller's role holds ``permission``; 403
    ``area_not_city_wide`` for a city-wide operation asked with a narrower area. Routes on
    one object look it up in the caller's area first (404 outside), then ask this."""
    if not allowed(principal.role, permission):
        raise RoleNotPermitted(principal.role, permission)
    if permission in CITY_WIDE and len(principal.area) > CITY_CODE_LENGTH:
        raise AreaNotCityWide(permission, principal.area)


def scope_within(principal: Principal, area: str | None) -> str:
    """The area a listing or report covers: the one asked for, when it lies within the
    caller's (404 ``area_not_found`` otherwise, as for any object outside it), or theirs."""
    if area and not area.startswith(principal.area):
        raise AreaNotFound(area)
    return area or principal.area
