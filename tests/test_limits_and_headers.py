"""Resource limits (413, 422) and the headers every response carries."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from starlette.types import Message

from app.core.clock import FrozenClock
from app.core.config import Settings
from tests.conftest import reset
from tests.helpers import Api


async def test_a_body_over_the_limit_is_413_and_nothing_is_written(api: Api) -> None:
    limit = api.settings.max_body_bytes
    huge = {"channel": "cadre_found", "description": "x" * limit}
    response = await api.post("cadre.pinggang", "/api/v1/cases", huge)
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "payload_too_large"
    assert response.json()["limit"] == limit
    listed = (await api.get("bureau.jiaohe", "/api/v1/cases")).json()
    assert listed["items"] == []


async def test_a_chunked_body_is_stopped_once_it_passes_the_limit(api: Api) -> None:
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(64):
            sent += 1
            yield b"x" * 65536

    response = await api.client.post(
        "/api/v1/cases", content=chunks(), headers=api.headers("cadre.pinggang")
    )
    assert response.status_code == 413


async def test_uploads_have_their_own_larger_limit(api: Api) -> None:
    over_body_under_upload = b"a" * (api.settings.max_body_bytes + 1)
    response = await api.client.post(
        "/api/v1/department-data/civil_affairs_assistance/snapshots",
        content=over_body_under_upload,
        headers=api.headers("dept.civil-affairs", **{"Content-Type": "application/json"}),
    )
    assert response.status_code == 422  # read and refused as bad JSON, not as too large


async def test_strings_arrays_and_pages_are_bounded(api: Api) -> None:
    case = await api.open_case()
    long_reason = await api.act("cadre.pinggang", case["id"], "withdraw", {"reason": "x" * 2001})
    assert long_reason.status_code == 422, long_reason.text
    page = await api.get("bureau.jiaohe", "/api/v1/cases", limit=501)
    assert page.status_code == 422
    log_page = await api.get("auditor.jiaohe", "/api/v1/audit/log", limit=1001)
    assert log_page.status_code == 422


async def test_every_answer_carries_the_protective_headers(api: Api) -> None:
    for response in (
        await api.get("bureau.jiaohe", "/api/v1/cases"),
        await api.client.get("/api/v1/cases"),  # a 401 too
        await api.client.get("/health"),
    ):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
    api_answer = await api.get("bureau.jiaohe", "/api/v1/cases")
    assert api_answer.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in api_answer.headers["content-security-policy"]
    assert "strict-transport-security" not in api_answer.headers  # off unless configured
    assert (
        "access-control-allow-origin"
        not in (
            await api.client.options(
                "/api/v1/cases",
                headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
            )
        ).headers
    )


@pytest.fixture
async def cors_api(settings: Settings, clock: FrozenClock) -> AsyncIterator[Api]:
    configured = settings.model_copy(
        update={
            "cors_origins": "https://village.jiaohe.example, https://city.jiaohe.example",
            "hsts_seconds": 31536000,
        }
    )
    await reset(configured.database_url)
    async with Api.start(configured, clock) as client:
        yield client


async def test_configured_frontends_may_call_from_a_browser(cors_api: Api) -> None:
    preflight = await cors_api.client.options(
        "/api/v1/cases",
        headers={
            "Origin": "https://city.jiaohe.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, if-match, idempotency-key",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://city.jiaohe.example"
    village = {"Origin": "https://village.jiaohe.example"}
    response = await cors_api.client.get(
        "/api/v1/cases", headers={**cors_api.headers("bureau.jiaohe"), **village}
    )
    assert response.headers["access-control-allow-origin"] == "https://village.jiaohe.example"
    assert "ETag" in response.headers["access-control-expose-headers"]
    assert response.headers["strict-transport-security"] == "max-age=31536000"
    stranger = await cors_api.client.options(
        "/api/v1/cases",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in stranger.headers


async def test_a_header_the_answer_sets_itself_is_kept_and_not_repeated() -> None:
    """The protective headers go with every answer, by the kind of its path, except one the
    answer carries already (any case of its name): that one is left as it is."""
    from app.core.limits import SecurityHeadersMiddleware

    async def answer(scope: Any, receive: Any, send: Any) -> None:
        own = [(b"Cache-Control", b"private, max-age=60"), (b"content-type", b"text/plain")]
        await send({"type": "http.response.start", "status": 200, "headers": own})
        await send({"type": "http.response.body", "body": b"ok"})

    app = SecurityHeadersMiddleware(answer, hsts_seconds=600, console_connect="https://id.example")

    async def headers_for(path: str) -> list[tuple[bytes, bytes]]:
        sent: list[Message] = []

        async def receive() -> Message:
            return {"type": "http.request", "body": b""}

        async def send(message: Message) -> None:
            sent.append(message)

        await app({"type": "http", "path": path}, receive, send)
        assert sent[1] == {"type": "http.response.body", "body": b"ok"}
        return list(sent[0]["headers"])

    api = await headers_for("/api/v1/cases")
    names = [name.lower() for name, _ in api]
    assert len(names) == len(set(names))  # nothing twice
    assert (b"Cache-Control", b"private, max-age=60") in api
    assert (b"strict-transport-security", b"max-age=600") in api
    assert dict(api)[b"x-frame-options"] == b"DENY"
    assert b"frame-ancestors 'none'" in dict(api)[b"content-security-policy"]
    console = dict(await headers_for("/console/cases"))
    assert b"connect-src 'self' https://id.example" in console[b"content-security-policy"]
    other = dict(await headers_for("/health"))
    assert b"content-security-policy" not in other
    assert other[b"x-content-type-options"] == b"nosniff"
