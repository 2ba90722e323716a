"""Enforcing the permission table (``workflows/permissions.py``) on a route."""

from __future__ import annotations

from app.auth.tokens import Principal
from app.core.errors import Forbidden
from workflows.permissions import allowed


def permit(principal: Principal, permission: str) -> None:
    """403 ``role_not_permitted`` unless the caller's role holds ``permission``. Routes on one
    object look it up in the caller's area first (404 outside), then ask this."""
    if not allowed(principal.role, permission):
        raise Forbidden("role_not_permitted", f"A {principal.role} may not {permission}.")
