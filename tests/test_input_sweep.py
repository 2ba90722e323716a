"""Bad input never fails the server: every operation of the OpenAPI document, every path and
query parameter and every top-level body field, sent each value a client (or an attacker)
might send — NUL characters, lone surrogates, integers past 64 bits, floats past the double
range, the wrong type, nesting a parser chokes on, dates that do not exist, times without a
zone — answers 4xx problem+json (or succeeds), never 5xx.

The caller of each operation holds the role its tag expects (as in the contract test), so
requests pass the role check and reach validation; the path ids are those of a real case and
household, so a body reaches the layers behind the 404. Schemathesis generates values from the
schema; this sweep sends those the schema rules out, one field at a time.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from app.auth.tokens import mint
from app.core.clock import FrozenClock
from app.main import create_app
from tests.conftest import START, settings_for
from tests.helpers import APPLICATION, new_id_number
from tests.test_schemathesis import AREAS, ROLE_BY_TAG
from workflows.vocabulary import Role

DOCUMENT = json.loads((Path(__file__).parents[1] / "openapi" / "openapi.json").read_text())
RAW = "@@raw@@"
"""A body value written into the JSON text as is (numbers JSON allows and Python does not)."""

BODY_VALUES: list[Any] = [
    "a\x00b",
    "\ud800",
    "x" * 100_000,
    "",
    2**63,
    -(2**63) - 1,
    2**64 + 1,
    10**40,
    (RAW, "1e400"),
    (RAW, "-1e400"),
    0.5,
    -1,
    True,
    "yes",
    None,
    [],
    {},
    {"\x00": "\ud800"},
    [[[[[[[[[[[["deep"]]]]]]]]]]]],
    "2026-02-30",
    "2026-03-02T09:30:00",
    "99999-01-01",
]
PARAMETER_VALUES = [
    "%00",
    "a%00b",
    "%ED%A0%80",  # a lone surrogate's UTF-8 form: not valid UTF-8
    "%FF%FE",
    "9" * 30,
    str(2**63),
    "-1",
    "",
    "2026-02-30",
    "2026-03-02T09:30:00",
    "x" * 4000,
    "%E4%B8%AD%E6%96%87",
]
WHOLE_BODIES = [
    b"",
    b"\x00",
    b"{",
    b"[]",
    b"null",
    b'"text"',
    b'{"a": "\\ud800"}',
    b"\xff\xfe{}",
    b"[" * 5000 + b"]" * 5000,
    b'{"x": 1e400}',
]


def _example(operation: dict[str, Any]) -> tuple[str, Any] | None:
    content = operation.get("requestBody", {}).get("content", {})
    for media, spec in content.items():
        if "example" in spec:
            return media, spec["example"]
        for example in spec.get("examples", {}).values():
            if "value" in example:
                return media, example["value"]
        return media, None
    return None


def _encode(body: Any) -> bytes:
    text = json.dumps(body, ensure_ascii=True)
    # a raw value stands as ["@@raw@@", "1e400"] in the dumped text
    while f'["{RAW}", "' in text:
        start = text.index(f'["{RAW}", "')
        end = text.index('"]', start)
        text = text[:start] + text[start + len(RAW) + 6 : end] + text[end + 2 :]
    return text.encode()


@pytest.fixture(scope="module")
def sweep_app(
    database_urls: dict[str, str | None], tmp_path_factory: pytest.TempPathFactory
) -> Any:
    template = Path(str(database_urls["sqlite"]).split("///", 1)[1]).with_name("template.sqlite3")
    database = tmp_path_factory.mktemp("sweep") / "sweep.sqlite3"
    shutil.copyfile(template, database)
    settings = settings_for(f"sqlite+aiosqlite:///{database}")
    app = create_app(settings, clock=FrozenClock(START))
    tokens = {
        role: mint(
            settings,
            sub=f"sweep.{role.value}",
            role=role,
            area=area,
            now=START,
            department="civil_affairs" if role is Role.department else None,
        )
        for role, area in AREAS.items()
    }
    return app, tokens


async def _real_ids(client: httpx.AsyncClient, tokens: dict[Role, str]) -> dict[str, str]:
    cadre = {"Authorization": f"Bearer {tokens[Role.village_cadre]}"}
    opened = await client.post(
        "/api/v1/cases",
        headers=cadre,
        json={
            "channel": "self_declared",
            "application_sha256": APPLICATION,
            "household": {
                "head_name": "王德福",
                "head_id_number": new_id_number(),
                "village_code": "220281102200",
                "size": 3,
            },
        },
    )
    assert opened.status_code == 201, opened.text
    case = opened.json()
    return {"case_id": case["id"], "household_id": case["household"]["id"]}


async def _caller(
    client: httpx.AsyncClient,
    tokens: dict[Role, str],
    operation: dict[str, Any],
    method: str,
    url: str,
    body: bytes | None,
    media: str,
) -> str:
    """The token of the first role the operation does not refuse (403), its tag's first."""
    first = ROLE_BY_TAG.get((operation.get("tags") or [""])[0], Role.city_bureau)
    for role in (first, *(r for r in tokens if r is not first)):
        headers = {"Authorization": f"Bearer {tokens[role]}", "Content-Type": media}
        tried = await client.request(method.upper(), url, headers=headers, content=body)
        if tried.status_code != 403:
            return tokens[role]
    return tokens[first]


def _path(template: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        template = template.replace("{" + name + "}", value)
    return template


async def test_no_input_fails_the_server(sweep_app: Any) -> None:
    app, tokens = sweep_app
    transport = httpx.ASGITransport(app=app)
    failures: list[str] = []
    statuses: dict[int, int] = {}
    sent = 0
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://sweep") as client,
    ):
        real = await _real_ids(client, tokens)

        async def call(
            method: str, url: str, token: str, body: bytes | None, media: str, what: str
        ) -> None:
            nonlocal sent
            sent += 1
            headers = {"Authorization": f"Bearer {token}", "If-Match": '"1"'}
            if body is not None:
                headers["Content-Type"] = media
            response = await client.request(method, url, headers=headers, content=body)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            if response.status_code >= 500:
                failures.append(
                    f"{method} {url[:120]} {what}: {response.status_code} {response.text[:200]}"
                )
            elif response.status_code >= 400:
                kind = response.headers.get("content-type", "")
                if kind != "application/problem+json":
                    failures.append(
                        f"{method} {url[:120]} {what}: {response.status_code} "
                        f"answered {kind!r}, not problem+json"
                    )

        for path, operations in DOCUMENT["paths"].items():
            if not path.startswith("/api/v1/"):
                continue
            for method, operation in operations.items():
                names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "path"]
                ids = {n: real.get(n, "0" * 32) for n in names}
                url = _path(path, ids)
                example = _example(operation)
                media, base = example or ("application/json", None)
                body = _encode(base) if example and media == "application/json" else None
                token = await _caller(client, tokens, operation, method, url, body, media)
                # each path parameter
                for name in names:
                    for value in PARAMETER_VALUES:
                        await call(
                            method.upper(),
                            _path(path, {**ids, name: value}),
                            token,
                            body,
                            media,
                            f"path {name}={value[:20]}",
                        )
                # each query parameter
                for parameter in operation.get("parameters", []):
                    if parameter["in"] != "query":
                        continue
                    for value in PARAMETER_VALUES:
                        await call(
                            method.upper(),
                            f"{url}?{parameter['name']}={value}",
                            token,
                            body,
                            media,
                            f"query {parameter['name']}",
                        )
                if not example or media != "application/json":
                    continue
                # the whole body
                for raw in WHOLE_BODIES:
                    await call(method.upper(), url, token, raw, media, f"body {raw[:16]!r}")
                # each top-level field of the example
                if isinstance(base, dict):
                    for field in base:
                        for value in BODY_VALUES:
                            mutated = {**base, field: value}
                            await call(
                                method.upper(),
                                url,
                                token,
                                _encode(mutated),
                                media,
                                f"field {field}={str(value)[:24]!r}",
                            )
    assert sent > 5000, sent
    # most requests got past the door to validation or further, not only to 403 or 404
    assert statuses.get(422, 0) > sent / 2, statuses
    assert not failures, f"{len(failures)} of {sent} requests failed:\n" + "\n".join(failures[:40])


def test_raw_values_are_written_as_given() -> None:
    assert _encode({"x": (RAW, "1e400"), "y": ["a", (RAW, "-1e400")]}) == (
        b'{"x": 1e400, "y": ["a", -1e400]}'
    )
    assert quote("中") == "%E4%B8%AD"
