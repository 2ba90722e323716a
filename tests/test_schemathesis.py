"""The OpenAPI document against the server, as schemathesis reads it: for every operation,
generated requests (valid and invalid) must get no server error and only answers the document
declares — status, content type, body schema and headers. The stateful run follows the links
from a created resource (``Location``, ids in bodies) to reading it and acting on it.

Callers: one token per role, chosen per operation so that most requests pass the role check
and reach the deeper layers (a 403 would be declared, but would test little). The clock is
frozen and the database a fresh copy of the migrated template with the demo areas.
"""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.specs.openapi.schemas import OpenApiSchema

from app.auth.tokens import mint
from app.core.clock import FrozenClock
from app.households import idnumber
from app.main import create_app
from tests.conftest import START, settings_for
from workflows.vocabulary import Role

AREAS = {
    Role.village_cadre: "220281102200",
    Role.village_committee: "220281102200",
    Role.township_official: "220281102",
    Role.city_bureau: "220281",
    Role.auditor: "220281",
    Role.admin: "220281",
    Role.department: "220281",
    Role.platform_12317: "220281",
    Role.national_exporter: "220281",
}
ROLE_BY_TAG = {
    "cases": Role.city_bureau,
    "documents": Role.city_bureau,
    "households": Role.village_cadre,
    "intake": Role.platform_12317,
    "department-data": Role.department,
    "department warnings": Role.department,
    "warning-indicators": Role.city_bureau,
    "warning-lists": Role.township_official,
    "screening": Role.city_bureau,
    "elimination-rounds": Role.city_bureau,
    "obligations": Role.township_official,
    "fund": Role.city_bureau,
    "policies": Role.admin,
    "exports": Role.national_exporter,
    "personal-data": Role.auditor,
    "audit": Role.auditor,
    "workflows": Role.auditor,
}


@pytest.fixture(scope="session")
def contract_app(
    database_urls: dict[str, str | None], tmp_path_factory: pytest.TempPathFactory
) -> Any:
    template = Path(str(database_urls["sqlite"]).split("///", 1)[1]).with_name("template.sqlite3")
    database = tmp_path_factory.mktemp("contract") / "contract.sqlite3"
    shutil.copyfile(template, database)
    # no pool: the database file is swapped under the running app (_fresh_database)
    settings_ = settings_for(f"sqlite+aiosqlite:///{database}").model_copy(
        update={"database_pool_size": 0}
    )
    app = create_app(settings_, clock=FrozenClock(START))
    tokens = {
        role: mint(
            settings_,
            sub=f"contract.{role.value}",
            role=role,
            area=area,
            now=START,
            department="civil_affairs" if role is Role.department else None,
        )
        for role, area in AREAS.items()
    }
    app.state.contract_tokens = tokens
    app.state.contract_files = (template, database)
    return app


def _fresh_database(app: Any) -> None:
    """The migrated template again (SQLite; the app holds no connection between requests)."""
    template, database = app.state.contract_files
    for leftover in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
        leftover.unlink(missing_ok=True)
    shutil.copyfile(template, database)


@pytest.fixture(scope="session")
def contract_schema(contract_app: Any) -> OpenApiSchema:
    return schemathesis.openapi.from_asgi("/openapi.json", contract_app)


def _token(app: Any, tags: list[str]) -> str:
    role = ROLE_BY_TAG.get(tags[0] if tags else "", Role.city_bureau)
    return str(app.state.contract_tokens[role])


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
"""The checks the contract promises. Schemathesis's positive-data acceptance is not among
them: the document cannot express every rule at the door (an ID number's check character, a
date not after today), so a schema-valid body may still be a 422 — declared, with its reasons."""

DOCUMENT = json.loads((Path(__file__).parents[1] / "openapi" / "openapi.json").read_text())
OPERATIONS = [(method.upper(), path) for path, ops in DOCUMENT["paths"].items() for method in ops]


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_every_operation_answers_as_documented(
    method: str, path: str, contract_app: Any, contract_schema: OpenApiSchema
) -> None:
    operation = contract_schema[path][method]
    token = _token(contract_app, operation.definition.raw.get("tags", []))

    @given(case=operation.as_strategy())
    @settings(
        max_examples=25,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        case.call_and_validate(
            headers={"Authorization": f"Bearer {token}"}, checks=CHECKS, timeout=60
        )  # two shared cores under a full suite

    run()


_serial = itertools.count(1)


def _new_id_number() -> str:
    serial = next(_serial)
    return idnumber.make(f"220281{19600101 + serial * 100:08d}{serial % 1000:03d}")


def _resolve(expression: str, response: Any) -> Any:
    """An OpenAPI link's runtime expression against an answer ($response.body#/…,
    $response.header.…), as a client following the link would read it."""
    if expression.startswith("$response.body#/"):
        value = response.json()
        for part in expression.removeprefix("$response.body#/").split("/"):
            value = value[part]
        return value
    if expression.startswith("$response.header."):
        name = expression.removeprefix("$response.header.").lower()
        value = {k.lower(): v for k, v in response.headers.items()}[name]
        return value[0] if isinstance(value, list) else value
    raise AssertionError(f"unsupported link expression {expression}")


def _follow(
    contract_app: Any,
    schema: OpenApiSchema,
    source: Any,
    links: dict[str, Any],
    roles: dict[str, Role],
) -> dict[str, int]:
    """Call every linked operation with the values its link names, each call held to the
    document; the statuses reached, by operation id."""
    reached: dict[str, int] = {}
    by_id = {
        op["operationId"]: (path, method.upper())
        for path, ops in DOCUMENT["paths"].items()
        for method, op in ops.items()
    }
    for target, link in links.items():
        path, method = by_id[link["operationId"]]
        operation = schema[path][method]
        path_parameters: dict[str, Any] = {}
        token = contract_app.state.contract_tokens[roles.get(target, Role.city_bureau)]
        headers = {"Authorization": f"Bearer {token}"}
        for name, expression in link["parameters"].items():
            value = _resolve(expression, source)
            if name.startswith("header."):
                headers[name.removeprefix("header.")] = value
            else:
                path_parameters[name] = value
        body = (
            operation.definition.raw.get("requestBody", {})
            .get("content", {})
            .get("application/json", {})
            .get("example")
        )
        case = operation.Case(
            path_parameters=path_parameters,
            headers=headers,
            **({"body": body} if body is not None else {}),
        )
        response = case.call_and_validate(checks=CHECKS)
        reached[target] = response.status_code
    return reached


def test_links_from_an_opened_case_lead_where_they_say(
    contract_app: Any, contract_schema: OpenApiSchema
) -> None:
    """Open a case as the document's example does, then follow each link of the answer as a
    generated client would: reading the case, its actions, events and replay, and firing each
    action with the ETag as If-Match. Every answer is held to the document; the reads succeed
    and each action answers a documented refusal or moves the case."""
    _fresh_database(contract_app)
    operation = contract_schema["/api/v1/cases"]["POST"]
    body = json.loads(
        json.dumps(
            operation.definition.raw["requestBody"]["content"]["application/json"]["example"]
        )
    )
    body["household"]["head_id_number"] = _new_id_number()
    token = contract_app.state.contract_tokens[Role.village_cadre]
    opened = operation.Case(body=body, headers={"Authorization": f"Bearer {token}"})
    response = opened.call_and_validate(checks=CHECKS)
    assert response.status_code == 201, response.text
    links = DOCUMENT["paths"]["/api/v1/cases"]["post"]["responses"]["201"]["links"]
    assert {"cases-get_case", "cases-list_actions", "cases-fire_start_village_review"} <= set(links)
    roles = {
        "cases-fire_start_village_review": Role.village_cadre,
        "cases-fire_withdraw": Role.village_cadre,
    }
    reached = _follow(contract_app, contract_schema, response, links, roles)
    for read in ("cases-get_case", "cases-list_actions", "cases-list_events", "cases-replay_case"):
        assert reached[read] == 200, (read, reached)
    fired = {op: status for op, status in reached.items() if op.startswith("cases-fire_")}
    assert fired["cases-fire_start_village_review"] == 200, fired
    # every other action was refused as the document says: the version moved (412), the step
    # is not possible from this state (409) or the caller may never fire it (403)
    assert set(fired.values()) <= {200, 403, 409, 412, 422}, fired


def test_links_from_a_registered_household_lead_where_they_say(
    contract_app: Any, contract_schema: OpenApiSchema
) -> None:
    _fresh_database(contract_app)
    operation = contract_schema["/api/v1/households"]["POST"]
    body = dict(operation.definition.raw["requestBody"]["content"]["application/json"]["example"])
    body["head_id_number"] = _new_id_number()
    token = contract_app.state.contract_tokens[Role.village_cadre]
    registered = operation.Case(body=body, headers={"Authorization": f"Bearer {token}"})
    response = registered.call_and_validate(checks=CHECKS)
    assert response.status_code == 201, response.text
    links = DOCUMENT["paths"]["/api/v1/households"]["post"]["responses"]["201"]["links"]
    reached = _follow(
        contract_app,
        contract_schema,
        response,
        links,
        {"households-get_household": Role.village_cadre},
    )
    assert reached == {"households-get_household": 200}
