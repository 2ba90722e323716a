"""待办: the cases a role may act on (role x state), the nearest deadline first."""

from __future__ import annotations

from datetime import timedelta

from tests.helpers import Api


async def test_the_inbox_holds_the_cases_the_role_may_act_on(api: Api) -> None:
    first = await api.open_case("cadre_found")
    second = await api.open_case("cadre_found")
    await api.must("cadre.pinggang", second["id"], "start_village_review")
    cadre = (await api.get("cadre.pinggang", "/api/v1/inbox")).json()
    assert {c["id"] for c in cadre["items"]} == {first["id"], second["id"]}
    mine = {c["id"]: c["my_actions"] for c in cadre["items"]}
    assert "start_village_review" in mine[first["id"]]
    assert "withdraw" in mine[second["id"]]
    # the committee may reject a report before its review and publish the notice after it;
    # the township acts in neither state
    committee = (await api.get("committee.pinggang", "/api/v1/inbox")).json()
    acts = {c["id"]: set(c["my_actions"]) for c in committee["items"]}
    assert acts == {first["id"]: {"reject"}, second["id"]: {"publish_notice", "reject"}}
    township = (await api.get("township.baishishan", "/api/v1/inbox")).json()
    assert township == {"items": [], "total": 0}
    # another village's cadre sees nothing of these
    elsewhere = (await api.get("cadre.laodong", "/api/v1/inbox")).json()
    assert elsewhere["total"] == 0


async def test_the_nearest_deadline_comes_first_and_the_late_are_marked(api: Api) -> None:
    older = await api.open_case("cadre_found")
    api.clock.advance(timedelta(days=3))
    newer = await api.open_case("cadre_found")
    listed = (await api.get("cadre.pinggang", "/api/v1/inbox")).json()["items"]
    assert [c["id"] for c in listed] == [older["id"], newer["id"]]
    assert listed[0]["due_at"] < listed[1]["due_at"]
    assert not any(c["overdue"] for c in listed)
    api.clock.advance(timedelta(days=30))
    late = (await api.get("cadre.pinggang", "/api/v1/inbox")).json()["items"]
    assert all(c["overdue"] for c in late)
    by_state = await api.get("cadre.pinggang", "/api/v1/inbox", state="assisted")
    assert by_state.json()["items"] == []
    refused = await api.get("cadre.pinggang", "/api/v1/inbox", state="nominated")
    assert refused.status_code == 422
    by_name = await api.get("cadre.pinggang", "/api/v1/inbox", name="王德")
    assert by_name.json()["total"] == 2


async def test_the_dashboard_counts_the_open_cases_of_an_area(api: Api) -> None:
    first = await api.open_case("cadre_found")
    await api.open_case("cadre_found")
    await api.open_case("cadre_found", user="cadre.laodong", village="220281105200")
    await api.must("cadre.pinggang", first["id"], "start_village_review")
    city = (await api.get("bureau.jiaohe", "/api/v1/dashboard")).json()
    assert city["open"] == 3
    assert city["by_state"] == {"cadre_found": 2, "village_nomination": 1}
    assert city["by_channel"] == {"cadre_found": 3}
    assert {v["code"]: (v["name"], v["count"]) for v in city["by_village"]} == {
        "220281102200": ("平岗村", 2), "220281105200": ("劳动村", 1)}  # fmt: skip
    township = (await api.get("township.baishishan", "/api/v1/dashboard")).json()
    assert township["open"] == 2 and township["area"] == "220281102"
    other = await api.get("township.baishishan", "/api/v1/dashboard", area="220281105")
    assert other.status_code == 404
    api.clock.advance(timedelta(days=40))
    late = (await api.get("bureau.jiaohe", "/api/v1/dashboard")).json()
    assert late["identification_overdue"] == 3


async def test_the_console_reads_how_to_sign_in_without_a_token(api: Api) -> None:
    config = await api.client.get("/api/v1/console/config")
    assert config.status_code == 200
    assert config.json() == {"demo": False, "oidc": None}


async def test_the_demo_doors_are_closed_outside_a_demonstration(api: Api) -> None:
    """Routed in every mode (one OpenAPI document), answered only in a demonstration."""
    assert (await api.client.get("/api/v1/demo/users")).status_code == 404
    minted = await api.client.post("/api/v1/demo/tokens", json={"user": "admin.jiaohe"})
    assert minted.status_code == 404 and "access_token" not in minted.text
    assert (await api.post("admin.jiaohe", "/api/v1/demo/clock", {"days": 1})).status_code == 404
