"""Every role × every route × in its area / outside it / another department.

The expectations come from the table below, written from SPEC §1 and §6 and API.md — not
from ``workflows/permissions.py`` or the workflow's step table — so a wrong permission in the
service cannot also be the expectation. A cell is:

* outside the caller's area, an object route answers exactly 404, a creation there exactly
  403, and a list answers without a single item of the area;
* a role the table does not list answers exactly 403;
* a listed role is let through: neither 401, 403, 404 nor a server error (what follows — 200,
  201, 412 for the deliberately stale ``If-Match``, 409, 422 — is the domain's business).

Every refused cell is also checked to have changed nothing in the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from app.auth.dependencies import OPEN_PATHS
from app.auth.tokens import mint
from app.cases.router import FIREABLE_ACTIONS
from app.core.db import make_engine
from tests.helpers import (
    CLASSIFICATION,
    COMMITMENT_FORM,
    COMMITTEE_STUDY,
    HOME_VISIT,
    PASSING_REVIEW,
    VERIFICATION,
    Api,
    new_id_number,
)
from tests.test_measures import MEASURE
from workflows.case import WORKFLOWS
from workflows.vocabulary import Role

V, C, T, B = "village_cadre", "village_committee", "township_official", "city_bureau"
D, A, M = "department", "auditor", "admin"
P, X = "platform_12317", "national_exporter"
EVERYONE = {V, C, T, B, D, A, M, P, X}
WORKERS = {V, C, T, B}
CASE_READERS = WORKERS | {A, M}  # SPEC §6: departments, the platform and the exporter do not

# Callers: one per role inside the fixture's area, one outside it.
INSIDE = {
    V: "220281102200",
    C: "220281102200",
    T: "220281102",
    B: "220281",
    D: "220281",
    A: "220281",
    M: "220281",
    P: "220281",
    X: "220281",
}
OUTSIDE = {
    V: "220281105200",
    C: "220281105200",
    T: "220281105",
    B: "220282",
    D: "220282",
    A: "220282",
    M: "220282",
    P: "220282",
    X: "220282",
}
STALE = {"If-Match": '"999"'}
DEPLOYMENT = "220281"
"""The city this service serves (DEPLOYMENT_AREA)."""


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    roles: set[str]
    scope: str
    """``object`` (404 outside the area), ``city`` (an object of the whole city: 404 only in
    another city), ``create`` (403 outside), ``list`` (nothing of the area outside it) or
    ``none`` (not bound to an area)."""
    body: Any = None
    headers: dict[str, str] | None = None


ACTION_BODIES = {"mark_risk_eliminated": {"method": "natural"}, "withdraw": {"reason": "x"}}


def _firers(action: str) -> set[str]:
    """The roles the workflow (any version) lets fire ``action``."""
    return {role.value for flow in WORKFLOWS.values() for role in flow.roles_for(action)}


def routes(f: dict[str, str]) -> list[Route]:
    case, hh, member = f["case"], f["household"], f["member"]
    c = f"/api/v1/cases/{case}"
    return [
        Route(
            "POST",
            "/api/v1/cases",
            {V},
            "create",
            {
                "channel": "cadre_found",
                "description": "x",
                "risk_type": "illness",
                "household": {
                    "head_name": "赵",
                    "head_id_number": new_id_number(),
                    "village_code": "220281102200",
                    "size": 2,
                },
            },
        ),
        Route("GET", "/api/v1/cases", CASE_READERS, "list"),
        Route("GET", "/api/v1/inbox", CASE_READERS, "list"),
        Route("GET", "/api/v1/dashboard", CASE_READERS, "list"),
        Route("GET", c, CASE_READERS, "object"),
        Route("GET", f"{c}/actions", CASE_READERS, "object"),
        *(
            Route(
                "POST",
                f"{c}/actions/{action}",
                _firers(action),
                "object",
                ACTION_BODIES.get(action, {}),
                STALE,
            )
            for action in FIREABLE_ACTIONS
        ),
        Route("GET", f"{c}/events", CASE_READERS, "object"),
        Route("GET", f"{c}/replay", CASE_READERS, "object"),
        Route("POST", f"{c}/commitment-forms", {V}, "object", COMMITMENT_FORM, STALE),
        Route("POST", f"{c}/household-verifications", {V}, "object", VERIFICATION, STALE),
        Route("POST", f"{c}/reviews", {C}, "object", PASSING_REVIEW, STALE),
        Route(
            "POST",
            f"{c}/objections",
            {V},
            "object",
            {"procedure": "identification", "statement": "x", "lodged_by": "x"},
            STALE,
        ),
        Route("POST", f"{c}/home-visits", {T}, "object", HOME_VISIT, STALE),
        Route("POST", f"{c}/classification", {B}, "object", CLASSIFICATION, STALE),
        Route(
            "POST",
            f"{c}/comparison-resolutions",
            {B},
            "object",
            {"finding_id": "f1", "reason": "x"},
            STALE,
        ),
        Route("POST", f"{c}/income-assessments", {V}, "object", VERIFICATION, STALE),
        Route("POST", f"{c}/measures", {B}, "object", MEASURE, STALE),
        Route("POST", f"{c}/plan-notices", {C}, "object", {}, STALE),
        Route("POST", f"{c}/return-responses", {V, C, T}, "object", {"response": "x"}, STALE),
        Route("POST", f"{c}/comparisons", {B}, "object", {}, STALE),
        Route("POST", f"{c}/committee-studies", {C}, "object", COMMITTEE_STUDY, STALE),
        Route(
            "POST",
            f"{c}/announcement-postings",
            {V, B},
            "object",
            {"posted_on": "2026-03-02", "location": "村务公开栏"},
            STALE,
        ),
        Route(
            "POST",
            f"{c}/objections/o1/resolution",
            {T},
            "object",
            {"procedure": "identification", "outcome": "dismissed", "reason": "x"},
            STALE,
        ),
        # progress: the city, or the measure's named responsible person — a user, not a role
        # (MEASURE names township.baishishan; these callers are other users: 403)
        Route(
            "POST",
            f"{c}/measures/{f['measure']}/progress",
            {B},
            "object",
            {"status": "in_progress", "note": "x"},
            STALE,
        ),
        Route("GET", f"{c}/documents/announcement", CASE_READERS, "object"),
        Route("GET", f"{c}/as-of", CASE_READERS, "object", {"at": "2026-12-01T00:00:00+08:00"}),
        Route("GET", f"{c}/national-sync", CASE_READERS | {X}, "object"),
        Route("GET", "/api/v1/department-data/datasets", {D, B, M, A}, "none"),
        Route(
            "POST",
            "/api/v1/department-data/social_assistance/snapshots",
            {D, B, M},
            "none",
            {"records": []},
        ),
        Route("GET", "/api/v1/policies", EVERYONE, "none"),
        Route(
            "POST",
            "/api/v1/policies",
            {B, M},
            "none",
            {"effective_from": "2026-12-01", "reason": "x", "notice_days": 5},
        ),
        Route("GET", "/api/v1/policies/jiaohe-2022.1", EVERYONE, "none"),
        Route("GET", "/api/v1/code-lists", EVERYONE, "none"),
        Route("GET", "/api/v1/code-lists/corrections", EVERYONE, "none"),
        Route(
            "POST",
            "/api/v1/code-lists/corrections",
            {B, M},
            "none",
            {
                "reason": "x",
                "lists": {
                    "sex": {"national": ["男", "女"], "items": {"male": "男", "female": "女"}}
                },
            },
        ),
        Route("GET", f"/api/v1/households/{hh}", CASE_READERS, "object"),
        Route("PATCH", f"/api/v1/households/{hh}", {V}, "object", {"household_number": "H-1"}),
        Route(
            "POST",
            f"/api/v1/households/{hh}/members",
            {V},
            "object",
            {"name": "赵小", "id_number": new_id_number("20100101", "male"), "relation": "son"},
        ),
        Route(
            "PATCH",
            f"/api/v1/households/{hh}/members/{member}",
            {V},
            "object",
            {"health": "healthy"},
        ),
        Route(
            "POST",
            "/api/v1/fund/disbursements",
            {V, T, B},
            "object",
            {"case_id": case, "amount": "10.00", "purpose": "x"},
        ),
        Route(
            "POST",
            f"/api/v1/fund/disbursements/{f['disbursement']}/decision",
            {B},
            "object",
            {"approve": False, "reason": "x"},
        ),
        Route(
            "POST",
            f"/api/v1/fund/disbursements/{f['disbursement']}/reversal",
            {B},
            "object",
            {"reason": "x"},
        ),
        Route("GET", "/api/v1/fund/balances", {V, T, B, A, M}, "none"),
        Route(
            "POST",
            "/api/v1/elimination-rounds",
            {B},
            "create",
            {"area": "220281102", "reason": "x"},
        ),
        Route("GET", f"/api/v1/elimination-rounds/{f['round']}", {T, B, A, M}, "object"),
        Route(
            "POST",
            "/api/v1/intake/self-declarations",
            {P},
            "create",
            {
                "name": "刘",
                "phone": "13912345678",
                "village_code": "220281102200",
                "household_size": 3,
                "hardship": "x",
                "risk_type": "accident",
                "id_number": new_id_number(),
            },
        ),
        Route("GET", f"/api/v1/intake/self-declarations/{f['tracking']}", {P}, "none"),
        Route(
            "GET",
            f"/api/v1/households/{hh}/personal-data",
            {V, T, B},
            "object",
            {"purpose": "核对身份"},
        ),
        Route("GET", "/api/v1/access-log", {A, M}, "none"),
        Route("GET", "/api/v1/audit/public-key", EVERYONE, "none"),
        Route("GET", "/api/v1/audit/checkpoint", EVERYONE, "none"),
        Route("GET", "/api/v1/audit/checkpoints", EVERYONE, "none"),
        Route("POST", "/api/v1/audit/checkpoints", {B, M}, "none"),
        Route("GET", "/api/v1/audit/bundle", {B, A, M}, "city"),
        Route(
            "GET", "/api/v1/audit/log/0/inclusion", EVERYONE, "none", {"tree_size": f["tree_size"]}
        ),
        Route(
            "GET",
            "/api/v1/audit/consistency",
            EVERYONE,
            "none",
            {"first": f["tree_size"], "second": f["tree_size"]},
        ),
        Route("GET", "/api/v1/audit/log", {B, A, M, X}, "none"),
        Route(
            "GET", "/api/v1/audit/cases", {B, A, M}, "list", {"as_of": "2026-12-01T00:00:00+08:00"}
        ),
        Route("GET", "/api/v1/audit/activity", {B, A, M}, "list"),
        Route("GET", "/api/v1/audit/activity/summary", {B, A, M}, "list"),
        Route("GET", "/api/v1/exports/national", {B, X}, "list", {"after": -1}),
        Route("GET", "/api/v1/exports/national/batches", {B, X, A, M}, "none"),
        Route("GET", "/api/v1/exports/national/sync-status", CASE_READERS | {X}, "list"),
        Route("GET", "/api/v1/exports/national/columns", CASE_READERS | {X}, "none"),
        Route("GET", "/api/v1/quality", WORKERS | {A, M}, "list"),
        Route("GET", f"/api/v1/exports/national/batches/{f['batch']}", {B, X, A, M}, "none"),
        Route(
            "POST",
            "/api/v1/exports/national/acknowledgments",
            {B, X},
            "none",
            {
                "batch_id": f["batch"],
                "items": [{"case_id": case, "status": "rejected", "reason": "x"}],
            },
        ),
        Route("GET", "/api/v1/ledgers/monitored-households", WORKERS | {A, M}, "list"),
        Route(
            "POST",
            "/api/v1/warning-lists",
            {T},
            "create",
            {
                "entries": [
                    {
                        "village_code": "220281102200",
                        "head_name": "赵",
                        "risk_type": "illness",
                        "description": "x",
                    }
                ]
            },
        ),
        Route("GET", "/api/v1/warning-lists", {T, B, A, M}, "list"),
        Route("GET", "/api/v1/warning-lists/entries", WORKERS | {A, M}, "list"),
        Route("POST", f"/api/v1/warning-lists/{f['list']}/entries/1/case", {V}, "object"),
        Route("GET", "/api/v1/households", CASE_READERS, "list"),
        Route(
            "POST",
            "/api/v1/warning-indicators",
            {B},
            "create",
            {
                "name": "x",
                "cause": "flood",
                "rule": {"kind": "disaster_area", "area_codes": ["220281102"]},
            },
        ),
        Route("GET", "/api/v1/warning-indicators", {B, A, M}, "none"),
        Route("POST", f"/api/v1/warning-indicators/{f['indicator']}/evaluations", {B}, "none"),
        Route("GET", "/api/v1/alert-proposals", {B, A, M}, "list"),
        Route(
            "POST",
            f"/api/v1/alert-proposals/{f['proposal']}/decision",
            {B},
            "object",
            {"decision": "dismiss", "reason": "x"},
        ),
        Route("GET", "/api/v1/warning-lists/status", {T, B, A, M}, "list"),
        Route("GET", "/api/v1/ledgers/warning-list", WORKERS | {A, M}, "list"),
        Route("GET", "/api/v1/ledgers/fund", {V, T, B, A, M}, "list", {"year": 2026}),
        Route(
            "POST",
            "/api/v1/obligations/completions",
            {T},
            "none",
            {"kind": "township_study", "period": "2026-H1", "evidence_sha256": "0" * 64},
        ),
        Route("GET", "/api/v1/obligations", {T, B, D, A, M}, "none"),
        Route(
            "POST",
            "/api/v1/households",
            {V},
            "create",
            {
                "head_name": "钱",
                "head_id_number": new_id_number(),
                "village_code": "220281102200",
                "size": 2,
            },
        ),
        Route(
            "POST",
            "/api/v1/screening/campaigns",
            {B},
            "create",
            {"period": "2027-04", "area_codes": ["220281102"]},
        ),
        Route("GET", "/api/v1/screening/campaigns", WORKERS | {A, M}, "list"),
        Route(
            "POST",
            "/api/v1/regional-alerts",
            {B},
            "create",
            {
                "cause": "hail",
                "area_codes": ["220281102"],
                "starts_on": "2026-03-01",
                "description": "冰雹",
            },
        ),
        Route("GET", "/api/v1/regional-alerts", WORKERS | {A, M}, "list"),
        Route(
            "GET", f"/api/v1/screening/rounds/{f['screening']}/progress", WORKERS | {A, M}, "object"
        ),
        Route(
            "GET", f"/api/v1/screening/rounds/{f['screening']}/tasks", WORKERS | {A, M}, "object"
        ),
        Route(
            "POST",
            "/api/v1/screening/visits",
            {V},
            "object",
            {"household_id": hh, "visited_on": "2026-03-01", "result": "no_risk"},
        ),
        Route("GET", "/api/v1/ledgers/screening", WORKERS | {A, M}, "list"),
        Route(
            "POST",
            "/api/v1/warning-batches",
            {D, B},
            "none",
            [
                {
                    "姓名": "孙",
                    "证件号码": new_id_number(),
                    "村代码": "220281102200",
                    "风险类型": "因病",
                    "预警信息": "x",
                }
            ],
        ),
        Route("GET", "/api/v1/warning-batches", {D, B, A, M}, "none"),
        Route("GET", f"/api/v1/warning-batches/{f['warnings']}", {D, B, A, M}, "city"),
        Route("GET", f"/api/v1/warning-batches/{f['warnings']}/rows", {D, B, A, M}, "city"),
        Route("GET", f"/api/v1/warning-batches/{f['warnings']}/feedback", {D, B, A, M}, "city"),
        Route(
            "POST",
            f"/api/v1/warning-batches/{f['warnings']}/dispositions",
            {B},
            "city",
            {"items": [{"line": 2, "decision": "dismiss", "reason": "x"}]},
        ),
        Route("GET", "/api/v1/workflows/case", EVERYONE, "none"),
        Route("GET", "/api/v1/workflows/permissions", EVERYONE, "none"),
    ]


FINGERPRINT = """SELECT (SELECT count(*) FROM case_event), (SELECT count(*) FROM monitoring_case),
    (SELECT coalesce(sum(version), 0) FROM monitoring_case), (SELECT count(*) FROM household),
    (SELECT count(*) FROM member), (SELECT count(*) FROM fund_disbursement),
    (SELECT count(*) FROM fund_ledger_entry), (SELECT count(*) FROM policy_version),
    (SELECT count(*) FROM elimination_round), (SELECT count(*) FROM audit_checkpoint),
    (SELECT count(*) FROM national_export_batch), (SELECT count(*) FROM national_sync),
    (SELECT count(*) FROM access_log), (SELECT count(*) FROM intake_receipt),
    (SELECT count(*) FROM department_snapshot), (SELECT count(*) FROM screening_round),
    (SELECT count(*) FROM screening_task), (SELECT count(*) FROM screening_visit),
    (SELECT count(*) FROM warning_batch), (SELECT count(*) FROM department_warning),
    (SELECT count(*) FROM warning_disposition)"""


async def fixtures(api: Api) -> dict[str, Any]:
    """An assisted case in 平岗村 with everything the routes name."""
    case_id = await api.to_assisted()
    case = await api.case(case_id)
    household = case["household"]["id"]
    members = (await api.get("cadre.pinggang", f"/api/v1/households/{household}")).json()
    planned = await api.must_fact("bureau.jiaohe", case_id, "measures", MEASURE)
    budget = {"effective_from": "2026-03-02", "reason": "资金", "fund_budgets": {"2026": "99999"}}
    await api.post("bureau.jiaohe", "/api/v1/policies", budget)
    money = {"case_id": case_id, "amount": "100.00", "purpose": "医疗救助"}
    asked = await api.post("township.baishishan", "/api/v1/fund/disbursements", money)
    opened = await api.post(
        "bureau.jiaohe", "/api/v1/elimination-rounds", {"area": "220281102", "reason": "x"}
    )
    declared = await api.post(
        "platform.12317",
        "/api/v1/intake/self-declarations",
        {
            "name": "刘",
            "phone": "13912345678",
            "village_code": "220281102200",
            "household_size": 3,
            "hardship": "x",
            "risk_type": "accident",
            "id_number": new_id_number(),
        },
    )
    batch = await api.get("exporter.national", "/api/v1/exports/national")
    signed = await api.post("bureau.jiaohe", "/api/v1/audit/checkpoints")
    screening = await api.post(
        "bureau.jiaohe",
        "/api/v1/regional-alerts",
        {
            "cause": "flood",
            "area_codes": ["220281102"],
            "starts_on": "2026-03-01",
            "description": "洪涝",
        },
    )
    warnings = await api.client.post(
        "/api/v1/warning-batches",
        headers={**api.headers("dept.civil-affairs"), "Content-Type": "text/csv"},
        content=(
            f"姓名,证件号码,村代码,风险类型,预警信息\n周,{new_id_number()},220281102200,因病,x\n"
        ).encode(),
    )
    listed = await api.post(
        "township.baishishan",
        "/api/v1/warning-lists",
        {
            "entries": [
                {
                    "village_code": "220281102200",
                    "head_name": "王德福",
                    "risk_type": "illness",
                    "description": "x",
                    "household_id": household,
                }
            ]
        },
    )
    indicator = await api.post(
        "bureau.jiaohe",
        "/api/v1/warning-indicators",
        {
            "name": "洪涝",
            "cause": "flood",
            "rule": {"kind": "disaster_area", "area_codes": ["220281102200"]},
        },
    )
    proposed = await api.post(
        "bureau.jiaohe", f"/api/v1/warning-indicators/{indicator.json()['id']}/evaluations"
    )
    for response in (
        asked,
        opened,
        declared,
        batch,
        signed,
        screening,
        warnings,
        listed,
        indicator,
        proposed,
    ):
        assert response.status_code in (200, 201), response.text
    return {
        "case": case_id,
        "household": household,
        "member": members["members"][0]["id"],
        "measure": list(planned["facts"]["measures"])[-1],
        "disbursement": asked.json()["id"],
        "round": opened.json()["id"],
        "tracking": declared.json()["tracking_number"],
        "batch": batch.headers["X-Export-Batch"],
        "tree_size": signed.json()["tree_size"],
        "screening": screening.json()["id"],
        "warnings": warnings.json()["id"],
        "list": listed.json()["id"],
        "indicator": indicator.json()["id"],
        "proposal": proposed.json()[0]["id"],
    }


async def test_every_role_on_every_route_inside_and_outside_its_area(api: Api) -> None:
    f = await fixtures(api)
    table = routes(f)
    listed = {(r.method, r.path.split("?")[0]) for r in table}
    documented = {
        (method.upper(), path)
        for path, operations in api.app.openapi()["paths"].items()
        for method in operations
        # the demo's doors and the console's sign-in configuration are open (no token)
        if path.startswith("/api/v1/") and not path.startswith(OPEN_PATHS)
    }
    templated = {(m, _template(p, f)) for m, p in listed}
    statuses = {  # every answer below must be one the OpenAPI document declares
        (method.upper(), path): sorted(operation["responses"])
        for path, operations in api.app.openapi()["paths"].items()
        for method, operation in operations.items()
    }
    assert documented <= templated, f"routes without expectations: {documented - templated}"

    engine = make_engine(api.settings.database_url)
    mismatches: list[str] = []
    try:
        for route in table:
            for role in sorted(EVERYONE):
                places = [("inside", INSIDE[role]), ("outside", OUTSIDE[role])]
                if role == D:
                    places.append(("other department", INSIDE[role]))
                for where, area in places:
                    expected = _expect(route, role, where)
                    async with engine.connect() as connection:
                        before = (await connection.execute(text(FINGERPRINT))).one()
                    department = "medical_insurance" if where == "other department" else None
                    response = await _call(api, route, role, area, department)
                    async with engine.connect() as connection:
                        after = (await connection.execute(text(FINGERPRINT))).one()
                    problem = _judge(route, expected, response, before, after, f["case"])
                    declared = statuses.get((route.method, _template(route.path.split("?")[0], f)))
                    if declared is not None and str(response.status_code) not in declared:
                        problem = (
                            f"answered {response.status_code}, the document declares {declared}"
                        )
                    if problem:
                        mismatches.append(f"{route.method} {route.path} {role} {where}: {problem}")
    finally:
        await engine.dispose()
    assert not mismatches, "\n".join(mismatches)


def _template(path: str, f: dict[str, Any]) -> str:
    names = {
        str(f["case"]): "{case_id}",
        str(f["household"]): "{household_id}",
        str(f["member"]): "{member_id}",
        str(f["measure"]): "{measure_id}",
        str(f["disbursement"]): "{disbursement_id}",
        str(f["round"]): "{round_id}",
        str(f["tracking"]): "{tracking_number}",
        str(f["batch"]): "{batch_id}",
        str(f["screening"]): "{round_id}",
        str(f["warnings"]): "{batch_id}",
        str(f["list"]): "{list_id}",
        str(f["indicator"]): "{indicator_id}",
        str(f["proposal"]): "{proposal_id}",
    }
    parts = path.split("/")
    out = []
    for i, part in enumerate(parts):
        if part in names:
            out.append(names[part])
        elif i == 0:
            out.append(part)
        elif parts[i - 1] == "documents":
            out.append("{name}")
        elif parts[i - 1] == "objections" and part == "o1":
            out.append("{objection_id}")
        elif parts[i - 1] == "policies" and part == "jiaohe-2022.1":
            out.append("{version}")
        elif parts[i - 1] == "department-data" and part == "social_assistance":
            out.append("{dataset}")
        elif parts[i - 1] == "log" and part == "0":
            out.append("{log_index}")
        elif parts[i - 1] == "entries" and part == "1":
            out.append("{number}")
        else:
            out.append(part)
    return "/".join(out)


def _expect(route: Route, role: str, where: str) -> int | str:
    if where == "outside" and not OUTSIDE[role].startswith(DEPLOYMENT):
        return 401  # a token for another city, however well signed
    if where == "other department" and route.path.endswith("/snapshots"):
        return 403  # social assistance data is civil affairs' to upload, not medical insurance's
    if where == "other department" and "/warning-batches/" in route.path:
        return 404  # a department sees its own batches only
    if where == "outside" and route.scope == "city":
        if not OUTSIDE[role].startswith("220281"):
            return 404
        where = "inside"  # another township of the same city is inside the city
    if where == "outside" and route.scope == "object":
        return 404
    if role not in route.roles:
        return 403
    if where == "outside" and route.scope == "create":
        return 403
    return "through" if not (where == "outside" and route.scope == "list") else "nothing"


async def _call(api: Api, route: Route, role: str, area: str, department: str | None) -> Any:
    token = mint(
        api.settings,
        sub=f"matrix.{role}.{area}",
        role=Role(role),
        area=area,
        department=(department or "civil_affairs") if role == D else None,
        now=api.clock.now(),
        ttl=timedelta(hours=1),
    )
    headers = {"Authorization": f"Bearer {token}", **(route.headers or {})}
    if route.method == "GET":
        return await api.client.get(route.path, headers=headers, params=route.body)
    return await api.client.request(route.method, route.path, headers=headers, json=route.body)


def _judge(
    route: Route, expected: int | str, response: Any, before: Any, after: Any, case_id: str
) -> str | None:
    status = response.status_code
    if status >= 500:
        return f"server error {status}"
    if isinstance(expected, int):
        if status != expected:
            return f"expected {expected}, got {status}: {response.text[:160]}"
        if tuple(before) != tuple(after):
            return f"refused with {status} but the database changed"
        if response.headers.get("content-type") != "application/problem+json":
            return "refusal without problem+json"
        return None
    if status in (401, 403, 404):
        return f"expected to be let through, got {status}: {response.text[:160]}"
    if expected == "nothing" and case_id in response.text:
        return "a list outside the caller's area shows the area's case"
    return None


async def test_the_bearer_scheme_reads_the_header_only_where_the_token_was_not_checked(
    api: Api,
) -> None:
    """Every ``/api/v1`` route's token is checked at the door, and the route's principal is
    the one found there; the OpenAPI document's bearer scheme reads the header itself only
    for a request the door did not check, and the route then checks the token as the door
    would (a bad one is 401, a good one its principal)."""
    from fastapi.security import HTTPAuthorizationCredentials
    from starlette.requests import Request

    from app.auth.dependencies import _bearer, current_principal
    from app.auth.errors import InvalidToken

    token = mint(
        api.settings, sub="bureau.jiaohe", role=Role.city_bureau, area="220281", now=api.clock.now()
    )

    def request(state: dict[str, Any]) -> Request:
        headers = [(b"authorization", f"Bearer {token}".encode())]
        return Request({"type": "http", "headers": headers, "state": state, "app": api.app})

    checked = await current_principal(request({}), await _bearer(request({})))
    assert (checked.sub, checked.role) == ("bureau.jiaohe", Role.city_bureau)
    at_the_door = request({"principal": checked})
    assert await _bearer(at_the_door) is None
    assert await current_principal(at_the_door, None) is checked
    forged = HTTPAuthorizationCredentials(scheme="Bearer", credentials=token[:-4] + "AAAA")
    with pytest.raises(InvalidToken):
        await current_principal(request({}), forged)
