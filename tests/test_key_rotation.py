"""Rotating the token signing keys by key id: the procedure, step by step, with no token
refused that should hold and none accepted that should not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest

from app.auth.errors import InvalidToken
from app.auth.tokens import keys_of, mint, verify
from app.core.config import Settings
from app.core.errors import ProblemError
from app.startup import unsafe_settings
from tests.helpers import Api
from workflows.vocabulary import Role

NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
OLD_SECRET, FIRST, SECOND = "s" * 40, "a" * 40, "b" * 40


def settings(**changes: object) -> Settings:
    return Settings(**{"jwt_secret": OLD_SECRET, **changes})  # type: ignore[arg-type]


def token(using: Settings) -> str:
    return mint(using, sub="cadre.pinggang", role=Role.village_cadre, area="220281102200", now=NOW)


def accepted(using: Settings, value: str) -> bool:
    try:
        verify(using, value, NOW + timedelta(minutes=5))
    except ProblemError as refused:
        return refused.status != 401  # any other refusal fails a test that expects a 401
    return True


def test_the_rotation_procedure_holds_at_every_step() -> None:
    before = token(settings())  # minted with JWT_SECRET alone: no key id
    assert "kid" not in jwt.get_unverified_header(before)
    # 1. keys by id are introduced: new tokens name theirs; older ones still verify
    step1 = settings(jwt_keys=f"k1:{FIRST}")
    first = token(step1)
    assert jwt.get_unverified_header(first)["kid"] == "k1"
    assert accepted(step1, before)
    assert accepted(step1, first)
    # 2. a new key is added last: it signs; the one before still verifies
    step2 = settings(jwt_keys=f"k1:{FIRST},k2:{SECOND}")
    second = token(step2)
    assert jwt.get_unverified_header(second)["kid"] == "k2"
    assert accepted(step2, first)
    assert accepted(step2, second)
    # 3. the old key is dropped once its tokens have expired: its tokens are refused
    step3 = settings(jwt_keys=f"k2:{SECOND}")
    assert accepted(step3, second)
    assert not accepted(step3, first)
    # 4. JWT_SECRET given a new value: tokens without a key id verify with nothing held
    step4 = settings(jwt_keys=f"k2:{SECOND}", jwt_secret="n" * 40)
    assert not accepted(step4, before)
    assert accepted(step4, second)


def test_a_key_id_does_not_lend_its_name_to_another_secret() -> None:
    forged = jwt.encode({"sub": "x"}, "w" * 40, algorithm="HS256", headers={"kid": "k1"})
    with pytest.raises(InvalidToken, match="not valid"):
        verify(settings(jwt_keys=f"k1:{FIRST}"), forged, NOW)
    unknown = jwt.encode({"sub": "x"}, FIRST, algorithm="HS256", headers={"kid": "k9"})
    with pytest.raises(InvalidToken, match="not one this service holds"):
        verify(settings(jwt_keys=f"k1:{FIRST}"), unknown, NOW)


@pytest.mark.parametrize(
    ("listed", "reason"),
    [
        ("k1", "is not kid:secret"),
        ("k1:", "is not kid:secret"),
        ("k 1:x", "is not kid:secret"),
        (f"k1:{FIRST},k1:{SECOND}", "listed twice"),
    ],
)
def test_a_malformed_key_list_is_named_at_startup(listed: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        keys_of(listed)
    lines = unsafe_settings(settings(jwt_keys=listed))
    assert any(line.startswith("JWT_KEYS is malformed") and reason in line for line in lines)
    assert not any(FIRST in line or SECOND in line for line in lines)  # secrets never shown


def test_a_short_or_placeholder_key_stops_the_server() -> None:
    lines = unsafe_settings(settings(jwt_keys="k1:short,k2:CHANGE-ME-" + "x" * 30))
    assert "JWT_KEYS key k1 is shorter than 32 characters" in lines
    assert "JWT_KEYS key k2 is a placeholder or the development value" in lines
    assert not [
        line
        for line in unsafe_settings(settings(jwt_keys=f"k1:{FIRST}"))
        if line.startswith("JWT_KEYS")
    ]


async def test_the_api_takes_both_keys_during_a_rotation(api: Api) -> None:
    """Over HTTP: the service holding k1 and k2 answers tokens of either, refuses k0's."""
    state = api.client._transport.app.state  # type: ignore[attr-defined]
    held = state.settings
    state.settings = held.model_copy(update={"jwt_keys": f"k1:{FIRST},k2:{SECOND}"})
    try:
        for keys, status in ((f"k1:{FIRST}", 200), (f"k2:{SECOND}", 200), (f"k0:{'z' * 40}", 401)):
            signer = held.model_copy(update={"jwt_keys": keys})
            value = mint(
                signer,
                sub="cadre.pinggang",
                role=Role.village_cadre,
                area="220281102200",
                now=api.clock.now(),
            )
            answer = await api.client.get(
                "/api/v1/inbox", headers={"Authorization": f"Bearer {value}"}
            )
            assert answer.status_code == status, (keys, answer.text)
    finally:
        state.settings = held
