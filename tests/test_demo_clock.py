"""The demo clock exists only when configured, only for administrators, and fires timers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from app.core.config import Settings
from app.main import create_app
from tests.helpers import Api


async def test_absent_unless_configured(api: Api) -> None:
    response = await api.post("admin.jiaohe", "/api/v1/demo/clock", {"days": 6})
    assert response.status_code == 404


async def test_moves_time_and_the_notice_timer_fires(settings: Settings, api: Api) -> None:
    demo = create_app(settings.model_copy(update={"demo_clock": True}))
    transport = httpx.ASGITransport(app=demo)
    async with httpx.AsyncClient(transport=transport, base_url="http://demo") as client:
        demo_api = Api(client, settings, demo.state.clock)
        case_id = await demo_api.to_village_nomination()
        await demo_api.nominate(case_id)
        # tokens are checked against the moved clock too: mint them for the trip
        headers = {**demo_api.headers("admin.jiaohe")}
        refused = await client.post(
            "/api/v1/demo/clock", json={"days": 6}, headers=demo_api.headers("bureau.jiaohe")
        )
        assert refused.status_code == 403
        moved = await client.post("/api/v1/demo/clock", json={"days": 6}, headers=headers)
        assert moved.status_code == 200, moved.text
        assert moved.json()["timers_fired"] == 1
        assert datetime.fromisoformat(moved.json()["now"]) > datetime.now(UTC) + timedelta(days=5)
        assert (await demo_api.case(case_id))["state"] == "township_verification"
    await demo.state.engine.dispose()


async def test_demo_tokens_follow_the_moved_clock(settings: Settings, api: Api) -> None:
    demo = create_app(settings.model_copy(update={"demo_clock": True}))
    transport = httpx.ASGITransport(app=demo)
    async with httpx.AsyncClient(transport=transport, base_url="http://demo") as client:

        async def token(user: str) -> str:
            minted = await client.post("/api/v1/demo/tokens", json={"user": user})
            assert minted.status_code == 201, minted.text
            assert minted.json()["user"]["sub"] == user
            value: str = minted.json()["access_token"]
            return value

        unknown = await client.post("/api/v1/demo/tokens", json={"user": "nobody"})
        assert unknown.status_code == 404
        assert unknown.json()["code"] == "demo_user_not_found"
        users = (await client.get("/api/v1/demo/users")).json()
        assert {"cadre.pinggang", "bureau.jiaohe"} <= {u["sub"] for u in users}
        before = (await client.get("/api/v1/demo/clock")).json()
        early = await token("bureau.jiaohe")
        admin = {"Authorization": f"Bearer {await token('admin.jiaohe')}"}
        moved = await client.post("/api/v1/demo/clock", json={"days": 200}, headers=admin)
        assert moved.status_code == 200, moved.text
        assert moved.json()["today"] > before["today"]
        assert (await client.get("/api/v1/demo/clock")).json()["today"] == moved.json()["today"]
        # a token minted before the move has expired on the moved clock; a new one has not
        stale = await client.get("/api/v1/cases", headers={"Authorization": f"Bearer {early}"})
        assert stale.status_code == 401
        assert stale.json()["code"] == "token_expired"
        fresh = await client.get(
            "/api/v1/cases", headers={"Authorization": f"Bearer {await token('bureau.jiaohe')}"}
        )
        assert fresh.status_code == 200, fresh.text
    await demo.state.engine.dispose()


async def test_no_demo_token_without_the_demo_clock(api: Api) -> None:
    minted = await api.client.post("/api/v1/demo/tokens", json={"user": "admin.jiaohe"})
    assert minted.status_code == 404
