"""The OpenAPI document as the contract frontends build on: what FastAPI derives from the
routes, completed with what it cannot know.

- Every operation declares the problem statuses it can answer, each with the RFC 9457 schema
  (``Problem``; ``code`` is an enum built from :mod:`app.core.problems`, ``unmet`` items carry
  rule codes from :mod:`workflows.rule_codes`), as ``application/problem+json``.
- Request headers the server reads (``Idempotency-Key`` on every POST, ``If-Match``, required
  on actions) and response headers it sets (``ETag``, ``Location``, ``Idempotent-Replayed``,
  ``X-Request-Id``, the export's headers, ``Retry-After``).
- Each action's operation shows its payload model, the one the service validates against.
- Tag descriptions, ``servers`` and examples for request bodies and the main answers.

Which statuses an operation can give follows from what the middlewares and dependencies do
to every request, plus what a route declares itself in ``responses=``; the tests hold the
document to the server's behaviour (``tests/test_contract.py``, schemathesis).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from app.contract_examples import (
    ACTION_EXAMPLES,
    BODY_EXAMPLES,
    RESPONSE_EXAMPLES,
    SUCCESS_EXAMPLES,
    UPLOAD_EXAMPLES,
)
from app.core.problems import PROBLEMS, codes_for
from workflows.case import WORKFLOWS
from workflows.rule_codes import RULE_CODES

REF = "#/components/schemas/{model}"
PROBLEM_JSON = "application/problem+json"

TAGS = [
    {"name": "health", "description": "Liveness, readiness and metrics (no token)."},
    {
        "name": "cases",
        "description": "监测对象识别与帮扶: open a case through a channel, read it, "
        "fire its workflow's actions (one operation each) and record the facts its rules read.",
    },
    {"name": "documents", "description": "Printable notices and announcements of a case."},
    {
        "name": "households",
        "description": "The registry: households and their members (ID numbers masked by role).",
    },
    {"name": "intake", "description": "12317 self-declarations and their tracking numbers."},
    {
        "name": "department-data",
        "description": "Sector departments' data snapshots for the data comparison (数据比对).",
    },
    {
        "name": "department warnings",
        "description": "Department warning batches (部门预警): "
        "upload, per-row outcome, dispositions and feedback.",
    },
    {
        "name": "warning-indicators",
        "description": "Warning indicators and the alert proposals they raise.",
    },
    {
        "name": "warning-lists",
        "description": "Quarterly warning lists (预警名单) and their entries.",
    },
    {
        "name": "screening",
        "description": "Screening campaigns, rounds, visits and regional alerts (排查).",
    },
    {"name": "elimination-rounds", "description": "Rounds of risk elimination (风险消除)."},
    {
        "name": "obligations",
        "description": "The calendar of recurring duties and their completion.",
    },
    {"name": "fund", "description": "Assistance fund disbursements, balances and ledger."},
    {"name": "policies", "description": "Versioned policy parameters (notice length, lines)."},
    {
        "name": "exports",
        "description": "The national monitoring system's export: batches, "
        "acknowledgments, sync status, ledgers.",
    },
    {"name": "personal-data", "description": "Reads of personal data and their access log."},
    {
        "name": "audit",
        "description": "The transparency log: checkpoints, proofs, case history "
        "as of a time, activity.",
    },
    {"name": "workflows", "description": "The workflow definitions, diagrams and permissions."},
    {"name": "console", "description": "How the operator console signs in (no token)."},
    {
        "name": "demo",
        "description": "Demo mode only (FANGFANPIN_DEMO=1): demo users, tokens "
        "and the demo clock. Absent from a production service.",
    },
]

CASE_MODELS = {"CaseOut", "CaseOpened"}
"""Answers that carry a case, and so its version as ``ETag``."""

LOCATION_OPERATIONS = {
    "cases-open_case",
    "households-register_household",
    "warning-indicators-define_indicator",
    "screening-open_campaign",
    "screening-register_alert",
    "department_warnings-upload",
    "warning-lists-open_case_from_entry",
}

EXPORT_HEADERS = {
    "Content-Disposition": "attachment; the file name carries the batch id",
    "X-Export-Batch": "The batch this export records (acknowledge it by this id).",
    "X-Export-After": "The log position the batch starts after (exclusive).",
    "X-Export-To": "The log position the batch reaches (inclusive): the next cursor.",
}


def _header(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"description": description, "schema": schema or {"type": "string"}}


def problem_schemas() -> dict[str, Any]:
    """``Problem`` and its parts, with the codes as enums."""
    return {
        "ProblemCode": {
            "type": "string",
            "enum": sorted(PROBLEMS),
            "description": "Stable problem codes; each is registered with one status.",
        },
        "RuleCode": {
            "type": "string",
            "enum": sorted(RULE_CODES),
            "description": "Codes of the workflow's rules, as `unmet` items carry them.",
        },
        "Unmet": {
            "type": "object",
            "required": ["code", "message", "met_at"],
            "properties": {
                "code": {"$ref": REF.format(model="RuleCode")},
                "message": {
                    "type": "string",
                    "description": "Chinese, or English on Accept-Language: en.",
                },
                "met_at": {
                    "anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}],
                    "description": "When a time rule will be met; null otherwise.",
                },
            },
        },
        "FieldError": {
            "type": "object",
            "required": ["field", "message", "type"],
            "properties": {
                "field": {"type": "string", "description": "The field's path, dotted."},
                "message": {"type": "string"},
                "type": {"type": "string", "description": "What is wrong, as a code."},
            },
        },
        "Problem": {
            "type": "object",
            "description": "RFC 9457 problem details, with a stable `code`. Refusals may add "
            "members that say where (`field`, `current_version`, `retry_after`, …).",
            "required": ["type", "title", "status", "detail", "code"],
            "properties": {
                "type": {"type": "string", "description": "urn:fangfanpin:problem:<code>"},
                "title": {
                    "type": "string",
                    "description": "The code's title: Chinese, or English on Accept-Language: en.",
                },
                "status": {"type": "integer"},
                "detail": {"type": "string"},
                "code": {"$ref": REF.format(model="ProblemCode")},
                "errors": {
                    "type": "array",
                    "items": {"$ref": REF.format(model="FieldError")},
                    "description": "422 validation_failed: every invalid field.",
                },
                "unmet": {
                    "type": "array",
                    "items": {"$ref": REF.format(model="Unmet")},
                    "description": "409 guard_failed: every unmet rule.",
                },
            },
            "additionalProperties": True,
        },
    }


def _statuses(path: str, method: str, operation: dict[str, Any]) -> set[int]:
    """The problem statuses every request to the operation may meet on its way."""
    statuses: set[int] = set()
    if operation.get("security"):
        statuses |= {401, 403, 429, 503}  # 503: the database restarting, ask again
    if "{" in path:
        statuses.add(404)
    if operation.get("parameters") or operation.get("requestBody"):
        statuses.add(422)
    if "requestBody" in operation:
        statuses.add(413)
    if method == "post":
        statuses |= {409, 413, 422}  # an Idempotency-Key in flight or reused; a body too large
    if any(p["name"] == "If-Match" for p in operation.get("parameters", [])):
        statuses |= {409, 412}
    if operation.get("x-action"):
        statuses.add(428)
    return statuses


def _problem_response(status: int) -> dict[str, Any]:
    """The shared answer for a problem status (``components/responses/Problem<status>``)."""
    codes = codes_for(status)
    response: dict[str, Any] = {
        "description": "Problem: " + ", ".join(codes),
        "content": {PROBLEM_JSON: {"schema": {"$ref": REF.format(model="Problem")}}},
        "headers": {"X-Request-Id": {"$ref": "#/components/headers/X-Request-Id"}},
    }
    if status == 401:
        response["headers"]["WWW-Authenticate"] = _header('Bearer error="invalid_token"')
    if status in (429, 503):
        response["headers"]["Retry-After"] = _header("Seconds to wait.", {"type": "integer"})
    if status == 409:
        response["headers"]["Idempotent-Replayed"] = {
            "$ref": "#/components/headers/Idempotent-Replayed"
        }
    example = RESPONSE_EXAMPLES.get(status)
    if example:
        response["content"][PROBLEM_JSON]["examples"] = example
    return response


def _body_schema_name(operation: dict[str, Any]) -> str | None:
    content = operation.get("requestBody", {}).get("content", {})
    schema = content.get("application/json", {}).get("schema", {})
    ref = schema.get("$ref", "")
    return ref.rsplit("/", 1)[-1] if ref else None


def _action_payloads() -> dict[str, type]:
    payloads: dict[str, type] = {}
    for flow in WORKFLOWS.values():
        for step in flow.steps:
            payloads.setdefault(step.action, step.payload)
    return payloads


def published() -> dict[str, Any]:
    """The document as committed (``openapi/openapi.json``): the same in every mode, the
    demonstration's endpoints included (404 outside one; the ``demo`` tag says so)."""
    from app.main import create_app

    return create_app().openapi()


def build(app: FastAPI) -> dict[str, Any]:
    """The completed document for ``app``."""
    document = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=TAGS,
        servers=[{"url": "/", "description": "The service that serves this document."}],
    )
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.update(problem_schemas())
    components["headers"] = {
        "X-Request-Id": _header("The request's id, as logged (sent back when given)."),
        "ETag": _header('The case\'s version as a strong ETag, "7": send it as If-Match.'),
        "Location": _header("Where the created resource is read."),
        "Idempotent-Replayed": _header(
            '"true" when this is the stored answer to an earlier request with the same '
            "Idempotency-Key.",
            {"type": "string", "enum": ["true"]},
        ),
    }
    payloads = _action_payloads()
    used: set[int] = set()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            action = operation.get("x-action")
            if action:
                _type_action(operation, payloads[action], schemas)
            if method == "post":
                operation.setdefault("parameters", []).append(
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "description": "Makes a retry safe: the same key and body within 24 h get "
                        "the first answer again (2xx and 409 guard_failed) and write nothing.",
                        "schema": {"type": "string", "minLength": 1, "maxLength": 200},
                    }
                )
            _headers(method, operation)
            responses = operation["responses"]
            for status in _statuses(path, method, operation) | _declared(responses):
                responses[str(status)] = {"$ref": f"#/components/responses/Problem{status}"}
                used.add(status)
            operation["responses"] = dict(sorted(responses.items()))
            _examples(operation)
    _links(document)
    components["responses"] = {f"Problem{s}": _problem_response(s) for s in sorted(used)}
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return document


def _declared(responses: dict[str, Any]) -> set[int]:
    """Problem statuses a route declared itself (``responses=``): completed with the schema."""
    return {int(s) for s in responses if s.isdigit() and int(s) >= 400}


def _type_action(operation: dict[str, Any], payload: Any, schemas: dict[str, Any]) -> None:
    """The action's body is its step's payload model; If-Match is required."""
    schema = payload.model_json_schema(ref_template=REF)
    for name, definition in schema.pop("$defs", {}).items():
        schemas.setdefault(name, definition)
    schemas.setdefault(payload.__name__, schema)
    required = bool(schema.get("required"))
    body: dict[str, Any] = {
        "required": required,
        "content": {"application/json": {"schema": {"$ref": REF.format(model=payload.__name__)}}},
    }
    body["content"]["application/json"]["example"] = ACTION_EXAMPLES.get(operation["x-action"], {})
    operation["requestBody"] = body
    for parameter in operation.get("parameters", []):
        if parameter["name"] == "If-Match":
            parameter["required"] = True
            parameter["schema"] = {"type": "string", "pattern": r'^"\d+"$'}


def _headers(method: str, operation: dict[str, Any]) -> None:
    for status, response in operation["responses"].items():
        if not status.startswith("2"):
            continue
        headers = response.setdefault("headers", {})
        headers["X-Request-Id"] = {"$ref": "#/components/headers/X-Request-Id"}
        schema = response.get("content", {}).get("application/json", {}).get("schema", {})
        if schema.get("$ref", "").rsplit("/", 1)[-1] in CASE_MODELS:
            headers["ETag"] = {"$ref": "#/components/headers/ETag"}
        if status == "201" and operation["operationId"] in LOCATION_OPERATIONS:
            headers["Location"] = {"$ref": "#/components/headers/Location"}
        if method == "post":
            headers["Idempotent-Replayed"] = {"$ref": "#/components/headers/Idempotent-Replayed"}
        if operation["operationId"] == "exports-national_export":
            headers.update({name: _header(text) for name, text in EXPORT_HEADERS.items()})


CASE_LINKS_FROM = {"cases-open_case"}
"""Operations whose answer is a case a client then reads and acts on (OpenAPI links)."""


def _links(document: dict[str, Any]) -> None:
    """From an opened case to reading it, its actions, events and replay, and to firing each
    action with the ETag as If-Match; from a registered household to reading it."""
    case_reads = {"cases-get_case", "cases-list_actions", "cases-list_events", "cases-replay_case"}
    case_links: dict[str, Any] = {}
    for operations in document["paths"].values():
        for operation in operations.values():
            op_id = operation["operationId"]
            if op_id in case_reads:
                case_links[op_id] = {
                    "operationId": op_id,
                    "parameters": {"case_id": "$response.body#/id"},
                }
            elif operation.get("x-action"):
                case_links[op_id] = {
                    "operationId": op_id,
                    "parameters": {
                        "case_id": "$response.body#/id",
                        "header.If-Match": "$response.header.ETag",
                    },
                }
    household_links = {
        "households-get_household": {
            "operationId": "households-get_household",
            "parameters": {"household_id": "$response.body#/id"},
        },
    }
    for operations in document["paths"].values():
        for operation in operations.values():
            links = (
                case_links
                if operation["operationId"] in CASE_LINKS_FROM
                else household_links
                if operation["operationId"] == "households-register_household"
                else None
            )
            if links is None:
                continue
            for status, response in operation["responses"].items():
                if status in ("200", "201"):
                    response["links"] = links


def _examples(operation: dict[str, Any]) -> None:
    if operation["operationId"] == "department_warnings-upload":
        for media_type, example in UPLOAD_EXAMPLES.items():
            operation["requestBody"]["content"][media_type]["example"] = example
    answer = SUCCESS_EXAMPLES.get(operation["operationId"])
    if answer is not None:
        ok = operation["responses"]["200"]["content"]["application/json"]
        ok["example"] = answer
    name = _body_schema_name(operation)
    if name and name in BODY_EXAMPLES:
        operation["requestBody"]["content"]["application/json"]["example"] = BODY_EXAMPLES[name]
