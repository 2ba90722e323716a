"""The API's route refuses at once a path that cannot end as its own does, and matches every
other path exactly as FastAPI's route would (app.core.routing)."""

from __future__ import annotations

import asyncio
import importlib
import re
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute, _EffectiveRouteContext, _IncludedRouter
from starlette.routing import Match
from starlette.types import Scope

from app.cases.router import router as cases_router
from app.core.config import Settings
from app.core.routing import (
    _FASTAPI_MATCH,
    Dispatch,
    Route,
    _flattened,
    _Leaf,
    _Other,
    api_router,
    literal_head,
    literal_tail,
)
from app.main import create_app
from tests.helpers import Api


def scope(method: str, path: str) -> dict[str, object]:
    return {"type": "http", "method": method, "path": path, "root_path": "", "headers": []}


def sample(path_format: str) -> str:
    """A path the route's template describes: every parameter filled in."""
    return re.sub(r"\{[^}]+\}", "0f8e2d", path_format)


def test_the_tail_is_what_follows_the_last_parameter() -> None:
    assert literal_tail("/api/v1/cases/{case_id}/actions/submit_to_city") == (
        "/actions/submit_to_city"
    )
    assert literal_tail("/api/v1/cases/{case_id}") == ""
    assert literal_tail("/health") == "/health"


def test_every_route_of_the_api_is_one_and_matches_its_own_paths(settings: Settings) -> None:
    app = create_app(settings)
    routes, pending = [], list(app.routes)
    while pending:  # the routes of the routers the app includes, and of theirs
        route = pending.pop()
        included = getattr(route, "original_router", None)
        pending.extend(included.routes if included is not None else ())
        if isinstance(route, APIRoute):
            routes.append(route)
    assert len(routes) > 100
    for route in routes:
        assert isinstance(route, Route), route.path
        method = sorted(route.methods or {"GET"})[0]
        path = sample(route.path_format)
        assert route.matches(scope(method, path))[0] is Match.FULL, route.path
        # the regex alone decides what the tail lets through: the wrong method is PARTIAL
        assert route.matches(scope("TRACE", path))[0] is Match.PARTIAL, route.path


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/cases/0f8e2d/actions/submit_to_cit",  # the tail cut short
        "/api/v1/cases/0f8e2d/actions/submit_to_city/",  # a slash more
        "/api/v1/cases/0f8e2d/return-responses",
    ],
)
def test_a_path_ending_otherwise_is_refused(path: str) -> None:
    router = api_router(prefix="/api/v1/cases")

    @router.post("/{case_id}/actions/submit_to_city")
    async def submit(case_id: str) -> None: ...

    (route,) = router.routes
    assert isinstance(route, Route)
    assert route.matches(scope("POST", path))[0] is Match.NONE


async def test_requests_still_reach_their_routes(api: Api) -> None:
    """Through the whole app: a write's route, a read's, a 404 and a 405 as before."""
    case = await api.open_case()
    read = await api.get("bureau.jiaohe", f"/api/v1/cases/{case['id']}")
    assert read.status_code == 200
    assert read.json()["version"] == case["version"]
    headers = api.headers("bureau.jiaohe", **{"If-Match": f'"{case["version"]}"'})
    fired = await api.client.post(
        f"/api/v1/cases/{case['id']}/actions/no_such_action", headers=headers, json={}
    )
    assert fired.json()["code"] == "action_not_found"  # the catch-all route, as before
    unknown = await api.get("bureau.jiaohe", f"/api/v1/cases/{case['id']}/no-such-thing")
    assert unknown.status_code == 404
    wrong_method = await api.client.delete("/api/v1/inbox", headers=api.headers("bureau.jiaohe"))
    assert wrong_method.status_code == 405
    assert (await api.client.get("/health")).status_code == 200


def test_the_head_is_a_prefix_up_to_its_first_parameter() -> None:
    assert literal_head("/api/v1/cases") == "/api/v1/cases"
    assert literal_head("/api/v1/cases/{case_id}/notices") == "/api/v1/cases/"
    assert literal_head("") == ""
    assert literal_head("/{name}") == "/"


def _asked(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths of the routes asked whether they match, from now on."""
    asked: list[str] = []
    matches = Route.matches

    def counted(route: Route, s: Scope) -> tuple[Match, Scope]:
        asked.append(route.path)
        return matches(route, s)

    monkeypatch.setattr(Route, "matches", counted)
    return asked


@pytest.mark.parametrize(
    ("module", "own_path"),
    [
        ("app.cases.router", "/api/v1/cases/0f8e2d"),  # its prefix: /api/v1/cases
        ("app.audit.router", "/api/v1/audit/log"),  # its prefix: /api/v1 alone
        ("app.audit.router", "/api/v1/cases/0f8e2d/as-of"),
    ],
)
def test_a_router_refuses_a_path_none_of_its_routes_begins_as_without_asking_them(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, module: str, own_path: str
) -> None:
    router = importlib.import_module(module).router
    app = create_app(settings)
    (included,) = [r for r in app.router.routes if getattr(r, "original_router", None) is router]
    asked = _asked(monkeypatch)
    assert included.matches(scope("GET", "/api/v1/workflows/permissions"))[0] is Match.NONE
    assert asked == []
    assert included.matches(scope("GET", own_path))[0] is Match.FULL
    assert asked  # a path one of its routes begins as: its routes are asked as before


def _name_at(router: APIRouter, path: str) -> None:
    """A GET route at ``path``, whose one parameter is ``name``, answering that name."""

    @router.get(path)
    async def name_at(name: str) -> str:
        return name


def test_a_router_included_under_a_prefix_is_guarded_within_it() -> None:
    router = api_router(prefix="/things")
    _name_at(router, "/{name}")
    app = FastAPI()
    app.include_router(router, prefix="/v1")
    (included,) = [r for r in app.router.routes if getattr(r, "original_router", None)]
    assert included.matches(scope("GET", "/v1/things/a"))[0] is Match.FULL
    assert included.matches(scope("GET", "/things/a"))[0] is Match.NONE
    assert included.matches(scope("GET", "/v1/other"))[0] is Match.NONE


async def test_a_route_of_the_last_router_is_still_reached(api: Api) -> None:
    answer = await api.get("township.baishishan", "/api/v1/workflows/permissions")
    assert answer.status_code == 200, answer.text


def _included_routers(app: FastAPI) -> list[Any]:
    """Every included router of ``app`` as FastAPI matches paths against it, nested ones too."""
    found, pending = [], [r for r in app.router.routes if isinstance(r, _IncludedRouter)]
    while pending:
        included = pending.pop()
        found.append(included)
        pending.extend(c for c in included.effective_candidates() if isinstance(c, _IncludedRouter))
    return found


def _paths(app: FastAPI) -> list[tuple[str, str]]:
    """A request to every route of ``app`` (its method, and one it does not take), and paths
    that end or begin as none does."""
    asked = []
    for included in _included_routers(app):
        for candidate in included.effective_candidates():
            route = getattr(candidate, "original_route", None)
            if isinstance(route, APIRoute):
                path = sample(candidate.path_format)
                method = sorted(route.methods or {"GET"})[0]
                asked += [(method, path), ("TRACE", path), ("GET", path + "/")]
    return [
        *asked,
        ("POST", "/api/v1/cases/0f8e2d/no-such-thing"),
        ("GET", "/api/v1/cases/0f8e2d/actions/"),
        ("GET", "/api/v1/cases"),
        ("GET", "/api/v1/cases/"),
        ("GET", "/"),
        ("GET", ""),
        ("GET", "/api/v1/cases/0f8e2d/measures/abc/progress/extra"),
    ]


def test_every_path_is_matched_as_fastapi_matches_it(settings: Settings) -> None:
    """Each included router answers every request as FastAPI's own matching answers it, asked
    of every candidate: the same kind of match, the same route, the same parameters."""
    app = create_app(settings)
    paths = _paths(app)
    assert len(paths) > 300
    for included in _included_routers(app):
        for method, path in paths:
            asked = {**scope(method, path), "app": app}
            narrowed = included._match(dict(asked))
            whole = _FASTAPI_MATCH(included, dict(asked))
            assert narrowed[0] is whole[0], (method, path)
            assert narrowed[1] == whole[1], (method, path)
            assert narrowed[2] is whole[2], (method, path)


def test_a_write_asks_only_the_routes_its_last_segment_allows(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write to a case's fact is matched against the routes ending as it does and those
    ending in a parameter, not against every route of the cases router."""
    asked = _asked(monkeypatch)
    cases = [r for r in _included_routers(api.app) if r.original_router is cases_router]
    (included,) = cases
    request = {**scope("POST", "/api/v1/cases/0f8e2d/return-responses"), "app": api.app}
    match, _, route, _ = included._match(request)
    assert match is Match.FULL
    assert isinstance(route, Route)
    assert route.path == "/api/v1/cases/{case_id}/return-responses"
    paths = [r.path for r in cases_router.routes if isinstance(r, Route)]
    assert len(paths) > 30
    ending_in_a_parameter = {p for p in paths if literal_tail(p) == ""}
    assert ending_in_a_parameter == {
        "/api/v1/cases/{case_id}",
        "/api/v1/cases/{case_id}/actions/{action}",
    }
    assert set(asked) == ending_in_a_parameter | {route.path}, asked


def test_a_route_added_after_the_first_request_is_matched() -> None:
    router = api_router(prefix="/things")
    _name_at(router, "/{name}/colour")
    app = FastAPI()
    app.include_router(router)
    (included,) = _included_routers(app)
    assert included._match(scope("GET", "/things/a/colour"))[0] is Match.FULL
    assert included._match(scope("GET", "/things/a/size"))[0] is Match.NONE
    _name_at(router, "/{name}/size")
    assert included._match(scope("GET", "/things/a/size"))[0] is Match.FULL
    assert included._match(scope("GET", "/things/a/colour"))[0] is Match.FULL


def test_a_route_added_to_a_router_within_a_router_is_matched() -> None:
    outer, inner = api_router(prefix="/things"), api_router()
    _name_at(inner, "/{name}/colour")
    outer.include_router(inner)
    app = FastAPI()
    app.include_router(outer)
    (top,) = [r for r in app.router.routes if isinstance(r, _IncludedRouter)]
    assert top.matches(scope("GET", "/things/a/colour"))[0] is Match.FULL
    assert top.matches(scope("GET", "/things/a/size"))[0] is Match.NONE
    _name_at(inner, "/{name}/size")
    assert top.matches(scope("GET", "/things/a/size"))[0] is Match.FULL
    for included in _included_routers(app):
        request = scope("GET", "/things/a/size")
        assert included._match(dict(request))[0] is _FASTAPI_MATCH(included, dict(request))[0]


def _snapshot(scope: Scope) -> dict[str, Any]:
    """What routing left in the scope: its keys, FastAPI's own keys copied."""
    taken = dict(scope)
    taken["fastapi"] = dict(scope.get("fastapi", {}))
    taken["path_params"] = dict(scope.get("path_params", {}))
    return taken


def _recording(app: FastAPI) -> list[tuple[Any, dict[str, Any]]]:
    """Every route's application replaced by one that records the scope it is called with
    (and which route's it is); nothing else of the app changes."""
    reached: list[tuple[Any, dict[str, Any]]] = []
    for included in _included_routers(app):
        for candidate in included.effective_candidates():
            if isinstance(candidate, _EffectiveRouteContext):

                async def record(s: Scope, receive: Any, send: Any, c: Any = candidate) -> None:
                    reached.append((c, _snapshot(s)))

                candidate.app = record
    return reached


async def _routed(router_app: Any, app: FastAPI, method: str, path: str) -> tuple[Any, ...]:
    """Where a request went: the route's application with the scope it left, or the answer
    FastAPI sent (a 404), or the exception it raised (a 405, for the app's handler)."""
    sent: list[Any] = []
    reached = app.state.reached
    before = len(reached)

    bodies = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> dict[str, Any]:
        if bodies:
            return bodies.pop()
        await asyncio.Event().wait()  # the client stays: a response that listens for it ends
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append({k: v for k, v in message.items() if k != "headers"})

    asked = {**scope(method, path), "app": app, "query_string": b"", "state": {}}
    try:
        await router_app(asked, receive, send)
    except Exception as raised:  # what FastAPI raises is compared
        return ("raised", type(raised), getattr(raised, "status_code", None))
    if len(reached) > before:
        ((context, taken),) = reached[before:]
        return ("reached", context, taken)
    return ("answered", sent)


async def test_every_request_reaches_the_route_fastapi_reaches_with_its_scope(
    settings: Settings,
) -> None:
    """The app's dispatch and FastAPI's routing, asked the same requests (every route's, and
    paths that end, begin or are asked otherwise): the same route's application, called
    with the same scope, or the same answer; every route's own request without FastAPI's
    routing."""
    app = create_app(settings)
    dispatch = app.router.middleware_stack
    assert isinstance(dispatch, Dispatch)
    app.state.reached = _recording(app)
    fell_back: list[str] = []
    fastapi_routing = dispatch.fallback

    async def counted(s: Scope, receive: Any, send: Any) -> None:
        fell_back.append(s["path"])
        await fastapi_routing(s, receive, send)

    dispatch.fallback = counted
    extra = [
        ("GET", "/health"),
        ("GET", "/docs"),
        ("GET", "/openapi.json"),
        ("GET", "/console"),
        ("GET", "/console/cases/1"),
        ("GET", "/static/docs/swagger-ui.css"),
        ("POST", "/health"),
    ]
    own = 0
    for method, path in [*_paths(app), *extra]:
        fell_back.clear()
        dispatched = await _routed(dispatch, app, method, path)
        routed = await _routed(fastapi_routing, app, method, path)
        assert dispatched == routed, (method, path)
        if dispatched[0] == "reached":
            own += 1
            if not any(isinstance(e, _Other) for e in _entries(dispatch, path)):
                assert fell_back == [], (method, path)  # reached without FastAPI's routing
    routes = [e for e in _flattened(app.router) or () if isinstance(e, _Leaf)]
    assert len(routes) > 100
    assert own >= len(routes)  # every route's own request reached a route


def _entries(dispatch: Dispatch, path: str) -> tuple[Any, ...]:
    table = dispatch.table
    assert table is not None
    return table.by_segment.get(path[path.rfind("/") + 1 :], table.rest)


async def test_a_route_added_after_the_first_request_is_reached(api: Api) -> None:
    assert (await api.client.get("/health")).status_code == 200
    router = api_router(prefix="/api/v1/extra")
    _name_at(router, "/{name}")
    api.app.include_router(router)
    answer = await api.get("bureau.jiaohe", "/api/v1/extra/hello")
    assert answer.status_code == 200, answer.text
    assert answer.json() == "hello"
