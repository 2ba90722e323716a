"""What a frontend team reads in the OpenAPI document holds: typed enums, one operation per
action, problem answers with their codes, request and response headers, examples that the
server's own schemas accept; and the API behaviours they build on (languages, filters, search)."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from app.core.problems import PROBLEMS
from app.main import create_app
from tests.helpers import Api, new_id_number
from workflows.case import CURRENT, OPEN_ACTIONS, STATES
from workflows.rule_codes import RULE_CODES


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return create_app().openapi()


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m, p, op) for p, ops in document["paths"].items() for m, op in ops.items()]


def test_codes_states_and_actions_are_enums(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert set(schemas["ProblemCode"]["enum"]) == set(PROBLEMS)
    assert set(schemas["RuleCode"]["enum"]) == set(RULE_CODES)
    assert set(schemas["CaseState"]["enum"]) == set(STATES)
    assert set(schemas["ActionName"]["enum"]) == set(CURRENT.actions) - set(OPEN_ACTIONS.values())
    case = schemas["CaseOut"]["properties"]
    assert case["state"] == {"$ref": "#/components/schemas/CaseState"}
    listing = {p["name"]: p for p in document["paths"]["/api/v1/cases"]["get"]["parameters"]}
    assert "CaseState" in str(listing["state"]["schema"])


def test_each_action_is_its_own_operation_with_its_payload(document: dict[str, Any]) -> None:
    for action in set(CURRENT.actions) - set(OPEN_ACTIONS.values()):
        operation = document["paths"][f"/api/v1/cases/{{case_id}}/actions/{action}"]["post"]
        assert operation["operationId"] == f"cases-fire_{action}"
        body = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        payload = next(s for s in CURRENT.steps if s.action == action).payload
        assert body.endswith("/" + payload.__name__)
        if_match = next(p for p in operation["parameters"] if p["name"] == "If-Match")
        assert if_match["required"] is True
        assert {"409", "412", "428"} <= set(operation["responses"])
    assert "/api/v1/cases/{case_id}/actions/{action}" not in document["paths"]


def test_every_problem_answer_is_problem_json_with_headers(document: dict[str, Any]) -> None:
    responses = document["components"]["responses"]
    for name, response in responses.items():
        content = response["content"]["application/problem+json"]["schema"]
        assert content == {"$ref": "#/components/schemas/Problem"}, name
        assert "X-Request-Id" in response["headers"]
    assert "Retry-After" in responses["Problem429"]["headers"]
    for method, path, operation in _operations(document):
        problems = {s for s in operation["responses"] if s >= "400"}
        for status in problems:
            assert operation["responses"][status] == {
                "$ref": f"#/components/responses/Problem{status}"
            }
        if operation.get("security"):
            assert {"401", "403"} <= problems, (method, path)
        if method == "post":
            names = {p["name"] for p in operation.get("parameters", [])}
            assert "Idempotency-Key" in names, path
            assert "409" in problems, path
            assert "422" in problems, path


def test_response_headers_are_declared(document: dict[str, Any]) -> None:
    opened = document["paths"]["/api/v1/cases"]["post"]["responses"]["201"]["headers"]
    assert {"ETag", "Location", "Idempotent-Replayed", "X-Request-Id"} <= set(opened)
    read = document["paths"]["/api/v1/cases/{case_id}"]["get"]["responses"]["200"]["headers"]
    assert "ETag" in read
    export = document["paths"]["/api/v1/exports/national"]["get"]["responses"]["200"]["headers"]
    assert {"Content-Disposition", "X-Export-Batch", "X-Export-To"} <= set(export)


def test_schema_names_are_clean_type_names(document: dict[str, Any]) -> None:
    """Two models of one name in two modules became app__x__router__Name: a generated
    client's types must read as the domain's."""
    names = list(document["components"]["schemas"])
    assert [n for n in names if "__" in n or not n.isidentifier()] == []


def test_tags_servers_and_operation_ids(document: dict[str, Any]) -> None:
    described = {t["name"] for t in document["tags"] if t.get("description")}
    used = {tag for *_, op in _operations(document) for tag in op.get("tags", [])}
    assert used <= described, used - described
    assert document["servers"]


def test_every_request_body_has_an_example_its_schema_accepts(document: dict[str, Any]) -> None:
    registry = Registry().with_resource(
        "urn:openapi", Resource.from_contents(document, default_specification=DRAFT202012)
    )
    checked = 0
    for method, path, operation in _operations(document):
        content = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if content is None or "$ref" not in content.get("schema", {}):
            continue
        assert "example" in content, (method, path)
        schema = {"$ref": "urn:openapi" + content["schema"]["$ref"]}
        jsonschema.Draft202012Validator(schema, registry=registry).validate(content["example"])
        checked += 1
    assert checked > 50


def test_the_main_answers_have_examples_their_schemas_accept(document: dict[str, Any]) -> None:
    registry = Registry().with_resource(
        "urn:openapi", Resource.from_contents(document, default_specification=DRAFT202012)
    )
    examples = 0
    for _, _, operation in _operations(document):
        content = operation["responses"].get("200", {}).get("content", {})
        json_answer = content.get("application/json", {})
        if "example" in json_answer:
            schema = json_answer["schema"]
            if "$ref" in schema:
                schema = {"$ref": "urn:openapi" + schema["$ref"]}
            elif schema.get("items", {}).get("$ref"):
                schema = {
                    "type": "array",
                    "items": {"$ref": "urn:openapi" + schema["items"]["$ref"]},
                }
            jsonschema.Draft202012Validator(schema, registry=registry).validate(
                json_answer["example"]
            )
            examples += 1
    assert examples >= 4
    for response in document["components"]["responses"].values():
        for example in response["content"]["application/problem+json"].get("examples", {}).values():
            problem = {"$ref": "urn:openapi#/components/schemas/Problem"}
            jsonschema.Draft202012Validator(problem, registry=registry).validate(example["value"])
    responses = document["components"]["responses"]
    for status in ("401", "403", "404", "409", "412", "422", "428"):
        examples = responses[f"Problem{status}"]["content"]["application/problem+json"]
        assert examples.get("examples"), status


async def test_titles_and_unmet_messages_in_chinese_unless_english_is_asked(api: Api) -> None:
    case = await api.open_case("cadre_found")
    chinese = await api.act("committee.pinggang", case["id"], "publish_notice")
    assert chinese.status_code == 409
    assert chinese.json()["title"] == PROBLEMS["transition_not_allowed"].zh
    english = await api.client.post(
        f"/api/v1/cases/{case['id']}/actions/publish_notice",
        headers=api.headers(
            "committee.pinggang",
            **{"If-Match": f'"{case["version"]}"', "Accept-Language": "en-GB,en;q=0.9"},
        ),
    )
    assert english.json()["title"] == PROBLEMS["transition_not_allowed"].en
    await api.must("cadre.pinggang", case["id"], "start_village_review")
    refused = await api.act("committee.pinggang", case["id"], "publish_notice")
    unmet = {u["code"]: u["message"] for u in refused.json()["unmet"]}
    assert unmet["commitment_form_missing"] == RULE_CODES["commitment_form_missing"][0]
    actions = await api.client.get(
        f"/api/v1/cases/{case['id']}/actions",
        headers=api.headers("committee.pinggang", **{"Accept-Language": "en"}),
    )
    listed = next(a for a in actions.json() if a["name"] == "publish_notice")
    message = next(u["message"] for u in listed["unmet"] if u["code"] == "commitment_form_missing")
    assert message.startswith("No signed commitment")
    zh_first = await api.client.get(
        f"/api/v1/cases/{case['id']}/actions",
        headers=api.headers("committee.pinggang", **{"Accept-Language": "zh-CN,en;q=0.8"}),
    )
    listed = next(a for a in zh_first.json() if a["name"] == "publish_notice")
    assert not listed["unmet"][0]["message"].isascii()


async def test_actions_list_the_payload_fields_their_rules_require(api: Api) -> None:
    case = await api.open_case("cadre_found")
    actions = (await api.get("cadre.pinggang", f"/api/v1/cases/{case['id']}/actions")).json()
    withdraw = next(a for a in actions if a["name"] == "withdraw")
    assert withdraw["allowed"] is True
    assert withdraw["requires"] == ["reason"]
    review = next(a for a in actions if a["name"] == "start_village_review")
    assert review["requires"] == []
    without = await api.act("cadre.pinggang", case["id"], "withdraw", {})
    assert without.status_code == 409
    assert [u["code"] for u in without.json()["unmet"]] == ["reason_missing"]


async def test_actions_show_each_step_s_payload_schema_every_time(api: Api) -> None:
    """What a console builds its form from: the step's payload model as JSON Schema (made
    once per model in the process), the same on every request."""
    case = await api.open_case("cadre_found")
    first, again = [
        (await api.get("cadre.pinggang", f"/api/v1/cases/{case['id']}/actions")).json()
        for _ in range(2)
    ]
    assert first == again
    for listed in first:
        step = CURRENT.step(listed["name"], "cadre_found")
        assert step is not None
        assert listed["payload_schema"] == step.payload.model_json_schema()
    withdraw = next(a for a in first if a["name"] == "withdraw")
    assert "reason" in withdraw["payload_schema"]["properties"]


async def test_an_unknown_filter_value_is_refused_not_an_empty_list(api: Api) -> None:
    refused = await api.get("bureau.jiaohe", "/api/v1/cases", state="asisted")
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "query.state"
    known = await api.get("bureau.jiaohe", "/api/v1/cases", state="assisted")
    assert known.status_code == 200
    assert known.json()["items"] == []


async def test_cases_are_found_by_name_prefix_and_full_id_number_with_a_total(api: Api) -> None:
    first = await api.open_case("cadre_found")
    second = await api.open_case("cadre_found")
    member = new_id_number()
    await api.add_member(second["id"], member, "李秀英", "spouse")
    by_head = await api.get("bureau.jiaohe", "/api/v1/cases", name="王德", total="true")
    assert by_head.json()["total"] == 2
    assert len(by_head.json()["items"]) == 2
    by_member = await api.get("bureau.jiaohe", "/api/v1/cases", name="李秀")
    assert [c["id"] for c in by_member.json()["items"]] == [second["id"]]
    assert by_member.json()["total"] is None  # counted only when asked
    inside = await api.get("bureau.jiaohe", "/api/v1/cases", name="秀英")
    assert inside.json()["items"] == []  # a prefix, not any part
    by_number = await api.get("bureau.jiaohe", "/api/v1/cases", id_number=member)
    assert [c["id"] for c in by_number.json()["items"]] == [second["id"]]
    head = api.heads[first["id"]]
    by_head_number = await api.get("bureau.jiaohe", "/api/v1/cases", id_number=head)
    assert [c["id"] for c in by_head_number.json()["items"]] == [first["id"]]
    partial = await api.get("bureau.jiaohe", "/api/v1/cases", id_number=member[:10])
    assert partial.status_code == 422
    elsewhere = await api.get("cadre.laodong", "/api/v1/cases", id_number=member, total="true")
    assert elsewhere.json() == {"items": [], "next_cursor": None, "total": 0}
    paged = await api.get("bureau.jiaohe", "/api/v1/cases", limit=1, total="true")
    assert paged.json()["total"] == 2
    assert len(paged.json()["items"]) == 1


async def test_the_upload_examples_are_accepted_as_documented(api: Api) -> None:
    from app.contract_examples import UPLOAD_EXAMPLES

    for media_type, example in UPLOAD_EXAMPLES.items():
        body = example.encode() if isinstance(example, str) else json.dumps(example).encode()
        content_type = "text/csv; charset=utf-8" if media_type == "text/csv" else media_type
        answer = await api.client.post(
            "/api/v1/warning-batches",
            content=body,
            params={"reference": media_type},
            headers={**api.headers("dept.civil-affairs"), "Content-Type": content_type},
        )
        assert answer.status_code == 201, answer.text
        assert answer.json()["accepted"] == 1, answer.text
