"""A locally signed token's principal is remembered, its times never: each use is checked
against the clock, and a token whose claims are refused is refused each time, for its own
reason, in the order of the checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest

from app.auth.errors import AreaOutsideDeployment, InvalidToken, TokenExpired, TokenNotYetValid
from app.auth.tokens import mint, verify
from app.core.config import Settings
from workflows.vocabulary import Role

NOW = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)
SECRET = "m" * 40


def settings(**changes: object) -> Settings:
    return Settings(**{"jwt_secret": SECRET, **changes})  # type: ignore[arg-type]


def signed(using: Settings, **claims: object) -> str:
    """A token with these claims, signed as :func:`mint` signs."""
    body = {
        "sub": "cadre.pinggang",
        "role": "village_cadre",
        "area": "220281102200",
        "iss": using.jwt_issuer,
        "aud": using.jwt_audience,
        "nbf": int(NOW.timestamp()),
        "exp": int((NOW + timedelta(hours=1)).timestamp()),
        **claims,
    }
    return jwt.encode(body, SECRET, algorithm="HS256")


def test_a_remembered_token_still_expires_and_still_waits_for_its_start() -> None:
    using = settings()
    value = mint(
        using,
        sub="cadre.pinggang",
        role=Role.village_cadre,
        area="220281102200",
        now=NOW,
        ttl=timedelta(hours=1),
    )
    first = verify(using, value, NOW + timedelta(minutes=1))
    assert verify(using, value, NOW + timedelta(minutes=2)) is first  # remembered
    with pytest.raises(TokenExpired):
        verify(using, value, NOW + timedelta(hours=2))
    with pytest.raises(TokenNotYetValid):
        verify(using, value, NOW - timedelta(hours=2))
    assert verify(using, value, NOW + timedelta(minutes=3)) is first


def test_a_token_whose_claims_are_refused_is_refused_each_time_in_the_checks_order() -> None:
    using = settings()
    unknown_role = signed(using, role="mayor")
    for _ in range(2):
        with pytest.raises(InvalidToken, match="role claim"):
            verify(using, unknown_role, NOW)
    # its times are checked before its claims, remembered or not
    with pytest.raises(TokenExpired):
        verify(using, unknown_role, NOW + timedelta(hours=2))
    undated = signed(using, exp="tomorrow")
    for _ in range(2):
        with pytest.raises(InvalidToken, match="numeric dates"):
            verify(using, undated, NOW)


def test_what_a_token_names_is_remembered_per_deployment() -> None:
    """A principal remembered for one deployment's area is not one for another's."""
    value = signed(settings())
    assert verify(settings(), value, NOW).area == "220281102200"
    elsewhere = settings(deployment_area="220282")
    with pytest.raises(AreaOutsideDeployment):
        verify(elsewhere, value, NOW)
    other_secret = settings(jwt_secret="n" * 40)
    with pytest.raises(InvalidToken):
        verify(other_secret, value, NOW)
