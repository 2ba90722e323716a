"""Tokens from an external identity provider (RS256, EdDSA) through its JWKS."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from app.auth.jwks import JwksCache
from app.core.clock import FrozenClock
from app.core.config import Settings
from tests.helpers import Api

ISSUER = "https://idp.jiaohe.example"
RSA_ONE = rsa.generate_private_key(public_exponent=65537, key_size=2048)
RSA_TWO = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EDDSA = ed25519.Ed25519PrivateKey.generate()


def jwk(key: Any, kid: str) -> dict[str, Any]:
    public = key.public_key()
    algorithm = (
        jwt.algorithms.RSAAlgorithm
        if isinstance(key, rsa.RSAPrivateKey)
        else (jwt.algorithms.OKPAlgorithm)
    )
    data: dict[str, Any] = algorithm.to_jwk(public, as_dict=True)
    return {**data, "kid": kid, "use": "sig"}


class Provider:
    """The identity provider's JWKS endpoint, as the cache sees it."""

    def __init__(self, *keys: dict[str, Any]) -> None:
        self.keys = list(keys)

    async def fetch(self, url: str) -> dict[str, Any]:
        assert url == "https://idp.jiaohe.example/jwks"
        return {"keys": self.keys}


@pytest.fixture
async def idp(settings: Settings, clock: FrozenClock) -> AsyncIterator[tuple[Api, Provider]]:
    from tests.conftest import reset

    configured = settings.model_copy(
        update={"jwt_jwks_url": "https://idp.jiaohe.example/jwks", "jwt_jwks_issuer": ISSUER}
    )
    await reset(configured.database_url)
    provider = Provider(jwk(RSA_ONE, "rsa-1"), jwk(EDDSA, "ed-1"))
    async with Api.start(configured, clock) as api:
        api.app.state.jwks = JwksCache(
            configured.jwt_jwks_url or "", timedelta(minutes=10), fetch=provider.fetch
        )
        yield api, provider


def token(api: Api, key: Any, algorithm: str, kid: str | None, **changes: Any) -> str:
    now = int(api.clock.now().timestamp())
    claims = {
        "sub": "wang.township",
        "role": "township_official",
        "area": "220281102",
        "iss": ISSUER,
        "aud": api.settings.jwt_audience,
        "nbf": now - 5,
        "exp": now + 600,
        **changes,
    }
    headers = {"kid": kid} if kid else {}
    return jwt.encode(
        {k: v for k, v in claims.items() if v is not None},
        key,
        algorithm=algorithm,
        headers=headers,
    )


async def call(api: Api, bearer: str) -> Any:
    return await api.client.get("/api/v1/cases", headers={"Authorization": f"Bearer {bearer}"})


async def test_rs256_and_eddsa_tokens_from_the_provider_are_accepted(
    idp: tuple[Api, Provider],
) -> None:
    api, _ = idp
    for bearer in (token(api, RSA_ONE, "RS256", "rsa-1"), token(api, EDDSA, "EdDSA", "ed-1")):
        response = await call(api, bearer)
        assert response.status_code == 200, response.text
    local = await api.get("township.baishishan", "/api/v1/cases")  # HS256 still works
    assert local.status_code == 200


async def test_keys_rotate_without_a_restart(idp: tuple[Api, Provider]) -> None:
    api, provider = idp
    cache: JwksCache = api.app.state.jwks
    assert (await call(api, token(api, RSA_ONE, "RS256", "rsa-1"))).status_code == 200
    provider.keys = [jwk(RSA_TWO, "rsa-2"), jwk(EDDSA, "ed-1")]  # the provider rotates
    new = token(api, RSA_TWO, "RS256", "rsa-2")
    # an unknown kid refetches at most once a minute
    assert (await call(api, new)).status_code == 401
    assert cache.fetches == 1
    api.clock.advance(timedelta(minutes=1))
    assert (await call(api, new)).status_code == 200
    assert cache.fetches == 2
    # the retired key is gone with the refreshed set
    old = await call(api, token(api, RSA_ONE, "RS256", "rsa-1"))
    assert old.status_code == 401
    assert "rsa-1" in old.json()["detail"]
    # the set is refetched when it is older than its lifespan
    api.clock.advance(timedelta(minutes=10))
    fresh = token(api, RSA_TWO, "RS256", "rsa-2")
    assert (await call(api, fresh)).status_code == 200
    assert cache.fetches == 3


async def test_every_bad_provider_token_is_401(idp: tuple[Api, Provider]) -> None:
    api, _ = idp
    public_pem = RSA_ONE.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    now = int(api.clock.now().timestamp())
    cases = {
        "signed by a key not in the set": token(api, RSA_TWO, "RS256", "rsa-1"),
        "unknown kid": token(api, RSA_ONE, "RS256", "nobody"),
        "no kid": token(api, RSA_ONE, "RS256", None),
        "RSA key with EdDSA alg claimed": token(api, EDDSA, "EdDSA", "rsa-1"),
        "Ed25519 key with RS256 claimed": token(api, RSA_ONE, "RS256", "ed-1"),
        "HS/RS confusion: HS256 keyed with the public key": jwt.encode(
            {
                "sub": "x",
                "role": "city_bureau",
                "area": "",
                "iss": ISSUER,
                "aud": api.settings.jwt_audience,
                "nbf": now,
                "exp": now + 60,
            },
            public_pem.decode()[:64] + "x" * 64,
            algorithm="HS256",
        ),
        "RS512": token(api, RSA_ONE, "RS512", "rsa-1"),
        "expired beyond the skew": token(api, RSA_ONE, "RS256", "rsa-1", exp=now - 31),
        "not yet valid beyond the skew": token(api, RSA_ONE, "RS256", "rsa-1", nbf=now + 31),
        "the local issuer": token(api, RSA_ONE, "RS256", "rsa-1", iss=api.settings.jwt_issuer),
        "another audience": token(api, RSA_ONE, "RS256", "rsa-1", aud="other-api"),
        "no sub": token(api, RSA_ONE, "RS256", "rsa-1", sub=None),
        "no role": token(api, RSA_ONE, "RS256", "rsa-1", role=None),
        "alg none": jwt.encode(
            {"sub": "x"},
            None,  # type: ignore[arg-type]
            algorithm="none",
            headers={"kid": "rsa-1"},
        ),
    }
    for name, bearer in cases.items():
        response = await call(api, bearer)
        assert response.status_code == 401, (name, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    within_skew = token(api, RSA_ONE, "RS256", "rsa-1", exp=now - 20, nbf=now + 20)
    assert (await call(api, within_skew)).status_code == 200


async def test_without_a_configured_provider_only_hs256_is_accepted(api: Api) -> None:
    bearer = token(api, RSA_ONE, "RS256", "rsa-1")
    response = await call(api, bearer)
    assert response.status_code == 401
    assert "not accepted" in response.json()["detail"]


async def test_tokens_for_another_city_or_no_area_are_refused(api: Api) -> None:
    """Correctly signed, but not for this deployment (DEPLOYMENT_AREA 220281): 401, nothing
    written, for the city-level doors above all."""
    from app.auth.tokens import mint
    from workflows.vocabulary import Role

    def bearer(role: Role, area: str) -> dict[str, str]:
        token = mint(
            api.settings,
            sub="foreign",
            role=role,
            area=area,
            now=api.clock.now(),
            ttl=timedelta(hours=1),
        )
        return {"Authorization": f"Bearer {token}"}

    foreign, nowhere = bearer(Role.city_bureau, "220282"), bearer(Role.village_cadre, "")
    calls = [
        (
            "POST",
            "/api/v1/policies",
            {"effective_from": "2026-12-01", "reason": "x", "notice_days": 3},
        ),
        ("POST", "/api/v1/department-data/vehicles/snapshots", {"records": []}),
        ("POST", "/api/v1/audit/checkpoints", None),
        ("GET", "/api/v1/audit/log", None),
        ("GET", "/api/v1/exports/national", None),
    ]
    for method, path, body in calls:
        for headers in (foreign, nowhere):
            response = await api.client.request(method, path, json=body, headers=headers)
            assert response.status_code == 401, (path, response.text)
            assert response.json()["code"] == "area_outside_deployment"
    listed = await api.client.get("/api/v1/cases", headers=nowhere)
    assert listed.status_code == 401
    policies = (await api.get("auditor.jiaohe", "/api/v1/policies")).json()
    assert [p["version"] for p in policies] == ["jiaohe-2022.1"]


async def test_city_wide_operations_need_a_city_wide_area(api: Api) -> None:
    from app.auth.tokens import mint
    from workflows.vocabulary import Role

    narrowed = mint(
        api.settings,
        sub="bureau.narrow",
        role=Role.city_bureau,
        area="220281102",
        now=api.clock.now(),
        ttl=timedelta(hours=1),
    )
    headers = {"Authorization": f"Bearer {narrowed}"}
    for method, path, body in (
        (
            "POST",
            "/api/v1/policies",
            {"effective_from": "2026-12-01", "reason": "x", "notice_days": 3},
        ),
        ("POST", "/api/v1/audit/checkpoints", None),
        ("GET", "/api/v1/exports/national", None),
        ("POST", "/api/v1/screening/campaigns", {"period": "2026-04", "area_codes": ["220281102"]}),
    ):
        response = await api.client.request(method, path, json=body, headers=headers)
        assert response.status_code == 403, (path, response.text)
        assert response.json()["code"] == "area_not_city_wide"
    # the same token still works its township's cases
    assert (await api.client.get("/api/v1/cases", headers=headers)).status_code == 200


async def test_idempotency_keys_hold_for_provider_tokens(idp: tuple[Api, Provider]) -> None:
    """Retries with an identity provider's token are answered from the record: one list."""
    api, _ = idp
    bearer = token(api, RSA_ONE, "RS256", "rsa-1")  # a township official of 白石山镇
    headers = {"Authorization": f"Bearer {bearer}", "Idempotency-Key": "idp-list-1"}
    answers = [
        await api.client.post("/api/v1/warning-lists", json={"entries": []}, headers=headers)
        for _ in range(3)
    ]
    assert [a.status_code for a in answers] == [201, 201, 201]
    assert len({a.json()["id"] for a in answers}) == 1
    assert [a.headers.get("Idempotent-Replayed") for a in answers] == [None, "true", "true"]
