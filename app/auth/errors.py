"""The refusals of authentication and authorization, each declared once (see
:class:`app.core.errors.Problem`). A token is refused with what was wrong with it, never with
what the service holds."""

from __future__ import annotations

from app.core.errors import Problem


class MissingToken(Problem):
    code = "missing_token"

    def __init__(self) -> None:
        super().__init__("A bearer token is required.")


class InvalidToken(Problem):
    """401: the token cannot be accepted; ``why`` says what was wrong with it."""

    code = "invalid_token"

    def __init__(self, why: str) -> None:
        super().__init__(why)


class TokenExpired(Problem):
    code = "token_expired"

    def __init__(self) -> None:
        super().__init__("The bearer token has expired.")


class TokenNotYetValid(Problem):
    code = "token_not_yet_valid"

    def __init__(self) -> None:
        super().__init__("The bearer token is not valid yet.")


class KeysUnavailable(Problem):
    code = "keys_unavailable"

    def __init__(self) -> None:
        super().__init__("The identity provider's keys cannot be fetched.")


class AreaOutsideDeployment(Problem):
    code = "area_outside_deployment"

    def __init__(self, area: str, deployment: str) -> None:
        super().__init__(
            f"The token's area {area or '(empty)'} is not within this service's {deployment}."
        )


class RoleNotPermitted(Problem):
    code = "role_not_permitted"

    def __init__(self, role: str, permission: str) -> None:
        super().__init__(f"A {role} may not {permission}.")


class AreaNotCityWide(Problem):
    code = "area_not_city_wide"

    def __init__(self, permission: str, area: str) -> None:
        super().__init__(f"{permission} is the whole city's; your area is {area}.")


class AreaNotFound(Problem):
    code = "area_not_found"

    def __init__(self, area: str) -> None:
        super().__init__(f"No area {area} within yours.")


class RoleRefused(Problem):
    """403 ``role_not_permitted`` where a domain says in its own words whose the act is."""

    code = "role_not_permitted"

    def __init__(self, why: str) -> None:
        super().__init__(why)


class AreaOutside(Problem):
    """403 ``area_forbidden``: an area the caller names lies outside theirs."""

    code = "area_forbidden"

    def __init__(self, why: str) -> None:
        super().__init__(why)
