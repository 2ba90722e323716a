"""The API's request handler (app.core.lean) answers as FastAPI's own handler does: every
route that its plan covers is served by the plan, a request the plan leaves to FastAPI gets
FastAPI's answer, and for the same request both answer alike."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import BackgroundTasks, Cookie, Depends, FastAPI, Header, Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel

from app.core import lean
from app.core.config import Settings
from app.core.routing import Route, api_router
from app.main import create_app
from tests.helpers import COMMITMENT_FORM, Api


def routes_of(app: Any) -> Iterator[APIRoute]:
    pending = list(app.routes)
    while pending:
        route = pending.pop()
        included = getattr(route, "original_router", None)
        pending.extend(included.routes if included is not None else ())
        if isinstance(route, APIRoute):
            yield route


def test_every_route_is_planned_but_those_it_leaves_to_fastapi(settings: Settings) -> None:
    app = create_app(settings)
    left = set()
    for route in routes_of(app):
        assert isinstance(route, Route)
        if getattr(route.get_route_handler(), "plan", None) is None:
            left.add(route.path_format)
    # a list of fields as a query parameter: FastAPI reads it (getlist) and validates it
    assert left == {"/api/v1/households/{household_id}/personal-data"}


def test_what_the_plan_does_not_cover_is_refused_when_the_route_is_built() -> None:
    router = api_router()

    @router.get("/cookie")
    async def with_cookie(session_id: str | None = Cookie(default=None)) -> None: ...

    @router.post("/later")
    async def with_tasks(tasks: BackgroundTasks) -> None: ...

    @router.get("/plain/{name}")
    async def plain(name: str, limit: int = 10) -> dict[str, Any]:
        return {"name": name, "limit": limit}

    planned = {
        route.path: getattr(route.get_route_handler(), "plan", None) is not None
        for route in router.routes
        if isinstance(route, Route)
    }
    assert planned == {"/cookie": False, "/later": False, "/plain/{name}": True}


class Count:
    """How many requests the plan served, and how many it left to FastAPI."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *, fallback_only: bool = False) -> None:
        self.planned = self.left = 0
        validate, count = lean.Plan.validate, self

        async def counted(plan: lean.Plan, request: Any) -> Any:
            found = None if fallback_only else await validate(plan, request)
            if found is None:
                count.left += 1
            else:
                count.planned += 1
            return found

        monkeypatch.setattr(lean.Plan, "validate", counted)


async def test_a_valid_write_and_read_are_served_by_the_plan(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = await api.open_case()
    count = Count(monkeypatch)
    read = await api.get("bureau.jiaohe", f"/api/v1/cases/{case['id']}")
    assert read.status_code == 200
    assert read.headers["etag"] == f'"{case["version"]}"'
    commitment = {
        **COMMITMENT_FORM,
        "signatory_name": case["household"]["head_name"],
        "covered_member_id_numbers": [api.heads[case["id"]]],
    }
    recorded = await api.fact("cadre.pinggang", case["id"], "commitment-forms", commitment)
    assert recorded.status_code == 201, recorded.text
    assert (count.planned, count.left) == (2, 0)


def comparable(response: httpx.Response) -> tuple[int, str | None, Any]:
    body = response.json() if response.content else None
    if isinstance(body, dict):  # the request's own id differs from one request to the next
        body = {k: v for k, v in body.items() if k not in ("request_id", "instance")}
    return response.status_code, response.headers.get("content-type"), body


REFUSED: list[tuple[str, str, str, dict[str, str], bytes | None]] = [
    # (who, method, path under the case, extra headers, body)
    ("bureau.jiaohe", "GET", "", {}, None),  # allowed: a read
    ("bureau.jiaohe", "GET", "/actions", {}, None),
    ("township.baishishan", "POST", "/actions/submit_to_city", {}, b""),  # 428: no If-Match
    ("township.baishishan", "POST", "/actions/submit_to_city", {"If-Match": '"99"'}, b""),
    ("cadre.pinggang", "POST", "/actions/submit_to_city", {"If-Match": '"1"'}, b""),  # role
    ("township.baishishan", "POST", "/actions/submit_to_city", {"If-Match": '"1"'}, b"{"),
    ("township.baishishan", "POST", "/actions/submit_to_city", {"If-Match": '"1"'}, b"[1]"),
    ("cadre.pinggang", "POST", "/commitment-forms", {}, b"{}"),  # 422: fields missing
    ("cadre.pinggang", "POST", "/commitment-forms", {}, b'{"signatory_name": 5}'),
    ("cadre.pinggang", "POST", "/commitment-forms", {"content-type": "text/plain"}, b"{}"),
    ("township.baishishan", "POST", "/commitment-forms", {}, b"{}"),  # 403 before 422
]


@pytest.mark.parametrize(("who", "method", "tail", "extra", "body"), REFUSED)
@pytest.mark.parametrize("case_exists", [True, False])
async def test_the_plan_and_fastapi_answer_alike(
    api: Api,
    monkeypatch: pytest.MonkeyPatch,
    who: str,
    method: str,
    tail: str,
    extra: dict[str, str],
    body: bytes | None,
    case_exists: bool,
) -> None:
    """Each request twice, on the same case: by the plan (or left by it to FastAPI), then by
    FastAPI's handler alone. None of them writes, so both meet the same case."""
    case_id = (await api.open_case())["id"] if case_exists else "0" * 32
    headers = api.headers(who, **extra)
    if body is not None:
        headers.setdefault("content-type", "application/json")

    async def send() -> httpx.Response:
        path = f"/api/v1/cases/{case_id}{tail}"
        return await api.client.request(method, path, headers=headers, content=body)

    first = await send()
    with monkeypatch.context() as patched:
        Count(patched, fallback_only=True)
        second = await send()
    assert first.status_code != 500, first.text
    assert comparable(first) == comparable(second)
    assert first.headers.get("etag") == second.headers.get("etag")


class Thing(BaseModel):
    name: str
    size: int = 1


def small_app(log: list[str]) -> FastAPI:
    """A route of each kind the plan covers: sync and async endpoints and dependencies, a
    generator dependency, path, query and header parameters, a body, a Response parameter."""
    router = api_router()

    def where(request: Request) -> str:  # sync: run in the thread pool, as FastAPI does
        return request.url.path

    async def held() -> AsyncIterator[str]:
        log.append("opened")
        try:
            yield "held"
        finally:
            log.append("closed")

    @router.get("/things/{name}")
    def read(
        name: str,
        response: Response,
        limit: int = 10,
        tag: Annotated[str | None, Header(alias="X-Tag")] = None,
        path: str = Depends(where),
        resource: str = Depends(held),
    ) -> dict[str, Any]:
        response.status_code = 203
        response.headers["X-Where"] = path
        return {"name": name, "limit": limit, "tag": tag, "resource": resource}

    @router.post("/things", status_code=201, response_model=Thing)
    async def make(thing: Thing, response: Response, resource: str = Depends(held)) -> Thing:
        if thing.name == "boom":
            raise RuntimeError("boom")
        if thing.size == 0:
            response.status_code = 202  # over the route's 201
        return thing

    app = FastAPI()
    app.include_router(router, prefix="/v1")
    return app


JSON = {"content-type": "application/json"}
SMALL: list[tuple[str, str, dict[str, str], bytes | None, bool]] = [
    # (method, path, headers, body, served by the plan)
    ("GET", "/v1/things/a?limit=3", {"X-Tag": "t"}, None, True),
    ("GET", "/v1/things/a", {}, None, True),
    ("GET", "/v1/things/a?limit=many", {}, None, False),  # 422, FastAPI's
    ("POST", "/v1/things", JSON, b'{"name": "n", "size": 2}', True),
    ("POST", "/v1/things", {"content-type": "application/vnd.x+json"}, b'{"name": "n"}', True),
    ("POST", "/v1/things", JSON, b'{"name": "n", "size": 0}', True),
    ("POST", "/v1/things", JSON, b'{"size": 2}', False),
    ("POST", "/v1/things", JSON, b"{", False),
    ("POST", "/v1/things", JSON, b"", False),
    ("POST", "/v1/things", {"content-type": "text/plain"}, b'{"name": "n"}', False),
]


@pytest.mark.parametrize(("method", "path", "headers", "body", "planned"), SMALL)
async def test_each_kind_of_route_is_answered_as_fastapi_answers_it(
    monkeypatch: pytest.MonkeyPatch,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes | None,
    planned: bool,
) -> None:
    answers, logs, served = [], [], []
    for fallback_only in (False, True):
        log: list[str] = []
        transport = httpx.ASGITransport(app=small_app(log))
        with monkeypatch.context() as patched:
            count = Count(patched, fallback_only=fallback_only)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                answer = await client.request(method, path, headers=headers, content=body)
        answers.append((answer.status_code, dict(answer.headers), answer.content))
        logs.append(log)
        served.append(count.planned)
    assert answers[0] == answers[1]
    assert logs[0] == logs[1]
    assert served == [1 if planned else 0, 0]  # the second: FastAPI alone


async def test_a_generator_dependency_is_closed_when_the_endpoint_raises() -> None:
    log: list[str] = []
    transport = httpx.ASGITransport(app=small_app(log), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        answer = await client.post("/v1/things", json={"name": "boom"})
    assert answer.status_code == 500
    assert log == ["opened", "closed"]
