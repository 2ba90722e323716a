"""Bad input gets a clear problem+json answer, in the API's order of checks, and writes nothing."""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
import jwt
import pytest

from app.auth.tokens import mint
from tests.helpers import (
    APPLICATION,
    OTHER_VILLAGE,
    VERIFICATION,
    Api,
    new_id_number,
)
from workflows.vocabulary import Role

VERIFICATION_BODY: dict[str, Any] = dict(VERIFICATION)


async def unchanged(
    api: Api, case_id: str, call: Callable[[], Awaitable[httpx.Response]], status: int, code: str
) -> dict[str, Any]:
    before = await api.case(case_id)
    events = await api.event_count(case_id)
    response = await call()
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    assert body["status"] == status
    assert {"type", "title", "detail"} <= set(body)
    after = await api.case(case_id)
    assert (after["version"], after["state"]) == (before["version"], before["state"])
    assert await api.event_count(case_id) == events
    return body


async def test_action_not_available_in_state(api: Api) -> None:
    case = await api.open_case()
    await unchanged(
        api,
        case["id"],
        lambda: api.act("bureau.jiaohe", case["id"], "confirm"),
        409,
        "transition_not_allowed",
    )


async def test_unknown_payload_fields(api: Api) -> None:
    case = await api.open_case()
    body = await unchanged(
        api,
        case["id"],
        lambda: api.act("cadre.pinggang", case["id"], "start_village_review", {"hurry": True}),
        422,
        "validation_failed",
    )
    assert body["errors"][0]["field"] == "hurry"
    await unchanged(
        api,
        case["id"],
        lambda: api.fact("cadre.pinggang", case["id"], "commitment-forms", {"x": 1}),
        422,
        "validation_failed",
    )


async def test_unknown_action_is_404_and_never_firable_role_is_403(api: Api) -> None:
    case = await api.open_case()
    await unchanged(
        api,
        case["id"],
        lambda: api.act("cadre.pinggang", case["id"], "approve"),
        404,
        "action_not_found",
    )
    await unchanged(
        api,
        case["id"],
        lambda: api.act("cadre.pinggang", case["id"], "confirm"),
        403,
        "role_not_permitted",
    )
    await unchanged(
        api,
        case["id"],
        lambda: api.act("auditor.jiaohe", case["id"], "reject"),
        403,
        "role_not_permitted",
    )


async def test_if_match_missing_and_stale(api: Api) -> None:
    case = await api.open_case()
    await unchanged(
        api,
        case["id"],
        lambda: api.post(
            "cadre.pinggang", f"/api/v1/cases/{case['id']}/actions/start_village_review"
        ),
        428,
        "if_match_required",
    )
    for stale in ('"0"', '"7"', 'W/"1"', "garbage"):
        await unchanged(
            api,
            case["id"],
            lambda tag=stale: api.post(  # type: ignore[misc]
                "cadre.pinggang",
                f"/api/v1/cases/{case['id']}/actions/start_village_review",
                **{"If-Match": tag},
            ),
            412,
            "version_mismatch",
        )
    fact = await api.post(
        "cadre.pinggang",
        f"/api/v1/cases/{case['id']}/commitment-forms",
        {"signatory_name": "王"},
        **{"If-Match": '"9"'},
    )
    assert fact.status_code == 422  # body is checked before the version
    moved = await api.act(
        "cadre.pinggang", case["id"], "start_village_review", version=case["version"]
    )
    assert moved.status_code == 200
    assert moved.headers["ETag"] == f'"{case["version"] + 1}"'


async def test_other_areas_case_is_404(api: Api) -> None:
    case = await api.open_case()
    for user in ("cadre.laodong", "township.tianbei"):
        for call in (
            lambda u=user: api.get(u, f"/api/v1/cases/{case['id']}"),
            lambda u=user: api.get(u, f"/api/v1/cases/{case['id']}/events"),
            lambda u=user: api.act(u, case["id"], "start_village_review", version=1),
            lambda u=user: api.fact(u, case["id"], "commitment-forms", {}),
        ):
            await unchanged(api, case["id"], call, 404, "case_not_found")
    listed = (await api.get("cadre.laodong", "/api/v1/cases")).json()
    assert listed["items"] == []


async def test_bad_tokens_are_401(api: Api) -> None:
    case = await api.open_case()
    path = f"/api/v1/cases/{case['id']}"
    settings, now = api.settings, api.clock.now()

    def good(**overrides: Any) -> dict[str, Any]:
        claims = {
            "sub": "x",
            "role": "city_bureau",
            "area": "220281",
            "iss": settings.jwt_issuer,
            "aud": settings.jwt_audience,
            "nbf": int(now.timestamp()),
            "exp": int(now.timestamp()) + 600,
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    tokens = {
        "garbage": "not-a-jwt",
        "wrong signature": jwt.encode(good(), "another-secret-" + "y" * 32, algorithm="HS256"),
        "alg none": jwt.encode(good(), None, algorithm="none"),  # type: ignore[arg-type]
        "HS512": jwt.encode(good(), settings.jwt_secret, algorithm="HS512"),
        "expired": jwt.encode(good(exp=int(now.timestamp()) - 60), settings.jwt_secret),
        "not yet valid": jwt.encode(good(nbf=int(now.timestamp()) + 600), settings.jwt_secret),
        "wrong audience": jwt.encode(good(aud="other"), settings.jwt_secret),
        "wrong issuer": jwt.encode(good(iss="other"), settings.jwt_secret),
        "no sub": jwt.encode(good(sub=None), settings.jwt_secret),
        "no exp": jwt.encode(good(exp=None), settings.jwt_secret),
        "unknown role": jwt.encode(good(role="mayor"), settings.jwt_secret),
        "system role": jwt.encode(good(role="system"), settings.jwt_secret),
        "bad area": jwt.encode(good(area="22x"), settings.jwt_secret),
    }
    for why, token in tokens.items():
        response = await api.client.get(path, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, why
        assert response.headers["content-type"] == "application/problem+json", why
    assert (await api.client.get(path)).status_code == 401
    # within the leeway still valid; beyond it not: time moves, nobody sleeps
    token = mint(
        settings, sub="x", role=Role.city_bureau, area="220281", now=now, ttl=timedelta(minutes=5)
    )
    api.clock.advance(timedelta(minutes=5, seconds=10))
    ok = await api.client.get(path, headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200
    api.clock.advance(timedelta(minutes=1))
    late = await api.client.get(path, headers={"Authorization": f"Bearer {token}"})
    assert late.status_code == 401
    assert late.json()["code"] == "token_expired"


async def test_unknown_paths_and_methods_are_problem_json(api: Api) -> None:
    missing = await api.get("bureau.jiaohe", "/api/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    not_allowed = await api.client.delete("/api/v1/cases", headers=api.headers("bureau.jiaohe"))
    assert not_allowed.status_code == 405
    assert not_allowed.headers["content-type"] == "application/problem+json"
    no_case = await api.get("bureau.jiaohe", "/api/v1/cases/00000000-0000-0000-0000-000000000000")
    assert no_case.status_code == 404
    assert no_case.json()["code"] == "case_not_found"


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda h: h.update(head_id_number="220281197001010010"), "household.head_id_number"),
        (lambda h: h.update(head_id_number="22028119701301001X"), "household.head_id_number"),
        (lambda h: h.update(village_code="2202811022"), "household.village_code"),
        (lambda h: h.update(size=0), "household.size"),
        (lambda h: h.update(extra="x"), "household.extra"),
    ],
)
async def test_invalid_household_is_422_and_stores_nothing(
    api: Api, mutate: Callable[[dict[str, Any]], None], field: str
) -> None:
    household = {
        "head_name": "王",
        "head_id_number": new_id_number(),
        "village_code": "220281102200",
        "size": 3,
    }
    mutate(household)
    response = await api.post(
        "cadre.pinggang",
        "/api/v1/cases",
        {"channel": "self_declared", "application_sha256": APPLICATION, "household": household},
    )
    assert response.status_code == 422, response.text
    assert field in {e["field"] for e in response.json()["errors"]}
    assert (await api.get("bureau.jiaohe", "/api/v1/cases")).json()["items"] == []


async def test_opening_outside_area_or_role_is_403_unknown_village_422(api: Api) -> None:
    body = {
        "channel": "self_declared",
        "application_sha256": APPLICATION,
        "household": {
            "head_name": "王",
            "head_id_number": new_id_number(),
            "village_code": OTHER_VILLAGE,
            "size": 3,
        },
    }
    outside = await api.post("cadre.pinggang", "/api/v1/cases", body)
    assert outside.status_code == 403
    assert outside.json()["code"] == "area_forbidden"
    body["channel"] = "department_flagged"
    wrong_role = await api.post("cadre.laodong", "/api/v1/cases", body)
    assert wrong_role.status_code == 403
    assert wrong_role.json()["code"] == "role_not_permitted"
    body["household"]["village_code"] = "220281102999"  # type: ignore[index]
    unknown = await api.post("bureau.jiaohe", "/api/v1/cases", body)
    assert unknown.status_code == 422
    assert unknown.json()["code"] == "unknown_village"
    assert (await api.get("bureau.jiaohe", "/api/v1/cases")).json()["items"] == []


async def test_page_size_is_bounded(api: Api) -> None:
    response = await api.get("bureau.jiaohe", "/api/v1/cases", limit=501)
    assert response.status_code == 422
    bad_cursor = await api.get("bureau.jiaohe", "/api/v1/cases", cursor="!!")
    assert bad_cursor.status_code == 422
    assert bad_cursor.json()["code"] == "invalid_cursor"


async def test_text_no_database_can_store_is_refused_at_the_door(api: Api) -> None:
    case = await api.open_case()
    before = await api.event_count(case["id"])
    for bad in ("\u0000", "\ud800", "\udfff尾"):
        response = await api.client.post(
            f"/api/v1/cases/{case['id']}/commitment-forms",
            content=json.dumps({"signatory_name": f"王{bad}"}),
            headers={**api.headers("cadre.pinggang"), "Content-Type": "application/json"},
        )
        assert response.status_code == 422, (bad, response.text)
        assert response.json()["code"] == "text_not_storable"
    for path in (
        f"/api/v1/cases/{case['id']}%00",
        "/api/v1/cases?state=%00",
        "/api/v1/cases?state=%ED%A0%80",
    ):
        response = await api.client.get(path, headers=api.headers("bureau.jiaohe"))
        assert response.status_code == 422
        assert response.json()["code"] == "text_not_storable"
    assert await api.event_count(case["id"]) == before
    # the six characters \u0000 (an escaped backslash) are text like any other
    written = await api.post(
        "cadre.pinggang",
        "/api/v1/cases",
        {
            "channel": "cadre_found",
            "risk_type": "illness",
            "description": "见附件 C:\\u0000.pdf",
            "household": {
                "head_name": "王",
                "head_id_number": new_id_number(),
                "village_code": "220281102200",
                "size": 1,
            },
        },
    )
    assert written.status_code == 201, written.text
    events = await api.get("auditor.jiaohe", f"/api/v1/cases/{written.json()['id']}/events")
    assert events.json()[0]["payload"]["description"] == "见附件 C:\\u0000.pdf"


async def test_integers_past_the_databases_range_are_refused(api: Api) -> None:
    huge = 2**63
    for path, params in (
        ("/api/v1/audit/log", {"after": huge}),
        ("/api/v1/audit/log/9223372036854775808/inclusion", {"tree_size": 1}),
        ("/api/v1/exports/national", {"after": huge}),
    ):
        response = await api.get("bureau.jiaohe", path, **params)
        assert response.status_code == 422, (path, response.text)
    review = {
        "held_on": api.today(),
        "eligible_members": 30,
        "present": huge,
        "votes_for": huge,
        "votes_against": 0,
        "abstentions": 0,
        "minutes_sha256": "a" * 64,
    }
    case_id = await api.to_village_nomination()
    await unchanged(
        api,
        case_id,
        lambda: api.fact("committee.pinggang", case_id, "reviews", review),
        422,
        "validation_failed",
    )


async def test_a_cursor_or_a_date_filter_never_fails_the_server(api: Api) -> None:
    naive = base64.urlsafe_b64encode(json.dumps(["2026-03-02T01:30:00", "x"]).encode()).decode()
    listed = await api.get("bureau.jiaohe", "/api/v1/cases", cursor=naive)
    assert listed.status_code == 422
    assert listed.json()["code"] == "invalid_cursor"
    batches = await api.get("bureau.jiaohe", "/api/v1/warning-batches", **{"from": "2026-03-01"})
    assert batches.status_code == 200
    assert batches.json() == []


async def test_types_are_strict_and_money_is_a_decimal_string(api: Api) -> None:
    case_id = await api.to_village_nomination()
    loose = {**VERIFICATION_BODY, "large_rigid_spending": "yes"}
    await unchanged(
        api,
        case_id,
        lambda: api.fact("cadre.pinggang", case_id, "household-verifications", loose),
        422,
        "validation_failed",
    )
    floating = {**VERIFICATION_BODY, "wage_income": 12000.5}
    body = await unchanged(
        api,
        case_id,
        lambda: api.fact("cadre.pinggang", case_id, "household-verifications", floating),
        422,
        "validation_failed",
    )
    assert body["errors"][0]["field"] == "wage_income"
    assert "decimal string" in body["errors"][0]["message"]
    three_places = {**VERIFICATION_BODY, "wage_income": "12000.505"}
    await unchanged(
        api,
        case_id,
        lambda: api.fact("cadre.pinggang", case_id, "household-verifications", three_places),
        422,
        "validation_failed",
    )
    decided = await api.post(
        "bureau.jiaohe", "/api/v1/fund/disbursements/none/decision", {"approve": "yes"}
    )
    assert decided.status_code == 422
    assert decided.json()["errors"][0]["field"] == "approve"
    asked = await api.post(
        "township.baishishan",
        "/api/v1/fund/disbursements",
        {"case_id": case_id, "amount": 100.5, "purpose": "x"},
    )
    assert asked.status_code == 422
    assert asked.json()["errors"][0]["field"] == "amount"


async def test_the_token_is_checked_before_the_body_is_read(api: Api) -> None:
    """API order: 401 first, whatever else is wrong with the request."""
    case = await api.open_case()
    path = f"/api/v1/cases/{case['id']}/commitment-forms"
    broken = b'{"signatory_name": '
    for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic x"}):
        sent = {**headers, "Content-Type": "application/json"}
        response = await api.client.post(path, content=broken, headers=sent)
        assert response.status_code == 401, (headers, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    nowhere = await api.client.get("/api/v1/no-such-thing")
    assert nowhere.status_code == 401
    with_token = await api.client.post(
        path,
        content=broken,
        headers={**api.headers("cadre.pinggang"), "Content-Type": "application/json"},
    )
    assert with_token.status_code == 422
    assert (await api.client.get("/health")).status_code == 200  # outside the API: open
