"""Enforcing the permission table (``workflows/permissions.py``) on a route."""

from __future__ import annotations

from app.auth.tokens import Principal
from app.core.errors import Forbidden
from workflows.permissions import CITY_WIDE, Permission, allowed

CITY_CODE_LENGTH = 6
"""A county-level city's code: 220281."""


def permit(principal: Principal, permission: Permission) -> None:
    """403 ``role_not_permitted`` unless the caller's role holds ``permission``; 403
    ``area_not_city_wide`` for a city-wide operation asked with a narrower area. Routes on
    one object look it up in the caller's area first (404 outside), then ask this."""
    if not allowed(principal.role, permission):
        raise Forbidden("role_not_permitted", f"A {principal.role} may not {permission}.")
    if permission in CITY_WIDE and len(principal.area) > CITY_CODE_LENGTH:
        raise Forbidden("area_not_city_wide", f"{permission} is the whole city's; your area "
                        f"is {principal.area}.")  # fmt: skip
