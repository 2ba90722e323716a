"""The request handler of the API's routes: what FastAPI's own handler does for a route, with
what the route declares worked out once instead of on every request.

FastAPI's handler (``fastapi.routing.get_request_handler``) solves a route's dependencies
anew on each request: for every parameter it asks again whether its annotation is a sequence,
which aliases it goes by and whether it is a model; for every dependency, whether it is a
generator or a coroutine and what its cache key is; it wraps each generator dependency's exit
in a cancel scope; and it opens telemetry and operation contexts around each part. For a
write that was about a tenth of the process's work (``bench/RESULTS.md``), for a read more.

A :class:`Plan` is made when the route is built (``app.core.routing.Route``): the dependency
tree as FastAPI built it, each node's kind and each parameter's aliases and location already
known. A request then does what FastAPI would do, in the same order, with the same results:

* parameters (path, query, header) and the body are validated with FastAPI's own field
  validation before any dependency runs (validation has no effects, so the order does not
  show); dependencies run depth-first in declaration order, each ``use_cache`` dependency once
  a request (keyed by its callable, as FastAPI keys it when no OAuth scopes are involved);
  a generator dependency enters the request's function or request stack by its ``scope``;
* the answer is serialized with FastAPI's ``serialize_response`` and the route's response
  class, the ``Response`` parameter's headers and status merged in as FastAPI merges them.

Whatever the plan does not cover is left to FastAPI, whole: a route with cookies, forms,
background tasks, security scopes, sequence parameters or several bodies is built with
FastAPI's handler (:func:`plan` raises :class:`Unsupported`); a request whose parameters or
body do not validate, whose body is not JSON, or that arrives while dependency overrides or
FastAPI's telemetry are active, is handed to FastAPI's handler, which answers it as it always
has (its 422 problem, its order of errors). No effect has happened by then.

One difference is deliberate: FastAPI shields a generator dependency's exit from cancellation
(``fastapi.concurrency._asynccontextmanager_with_shielded_exit``); here it is not shielded. A
request is cancelled only when the server shuts down; the session's exit then rolls back or
the connection is dropped, and PostgreSQL and SQLite undo the unfinished transaction either
way.

This module uses FastAPI's private helpers (``_validate_value_with_model_field``,
``_get_param_aliases``, ``_get_param_model``, ``_is_json_field``, ``_get_oauth_scopes``,
``get_telemetry_data``, ``serialize_response``), as its handler does; FastAPI is pinned
(``constraints.txt``), and every route's test runs through this module.
"""

from __future__ import annotations

import email.message
import functools
import inspect
from collections.abc import Callable, Coroutine
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import params
from fastapi._compat import ModelField, Undefined
from fastapi._compat.shared import field_annotation_is_sequence
from fastapi.datastructures import DefaultPlaceholder
from fastapi.dependencies.models import Dependant, _get_oauth_scopes
from fastapi.dependencies.utils import (
    _get_param_aliases,
    _get_param_model,
    _is_json_field,
    _should_embed_body_fields,
    _validate_value_with_model_field,
)
from fastapi.exceptions import EndpointContext
from fastapi.routing import _extract_endpoint_context, serialize_response
from fastapi.telemetry import get_telemetry_data
from fastapi.utils import is_body_allowed_for_status_code
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

Handler = Callable[[Request], Coroutine[Any, Any, Response]]

COROUTINE, ASYNC_GENERATOR, FUNCTION = "coroutine", "async generator", "function"


class Unsupported(Exception):
    """The route uses something the plan does not cover: FastAPI's handler serves it."""


@dataclass(frozen=True, slots=True)
class Param:
    """A path, query or header parameter: where it is read and under which names."""

    name: str
    field: ModelField
    source: str  # "path", "query" or "header": the request's mapping, and the error's loc
    aliases: tuple[str, ...]  # the request keys, in FastAPI's order of preference


@dataclass(slots=True)
class Node:
    """One dependant of the route's tree (a dependency, or the endpoint at the root)."""

    call: Callable[..., Any]
    name: str | None
    kind: str
    scope: str | None
    use_cache: bool
    params: tuple[Param, ...]
    request_names: tuple[str, ...]
    response_name: str | None
    subs: tuple[Node, ...]
    context: Callable[..., Any] | None  # ``asynccontextmanager(call)`` for a generator


def _kind(call: Callable[..., Any]) -> str:
    if isinstance(call, functools.partial):
        raise Unsupported("a partial")  # FastAPI unwraps it to classify it
    target = call if inspect.isroutine(call) else type(call).__call__  # e.g. HTTPBearer()
    if inspect.isasyncgenfunction(target):
        return ASYNC_GENERATOR
    if inspect.isgeneratorfunction(target):
        raise Unsupported("a sync generator")
    return COROUTINE if inspect.iscoroutinefunction(target) else FUNCTION


def _param(field: ModelField) -> Param:
    info = field.field_info
    if not isinstance(info, params.Param) or info.in_.value not in ("path", "query", "header"):
        raise Unsupported(f"parameter {field.name}")
    if (
        _get_param_model(field) is not None
        or _is_json_field(field)
        or field_annotation_is_sequence(info.annotation)
    ):
        raise Unsupported(f"parameter {field.name} is a model, JSON or a sequence")
    aliases = tuple(request_key for _, request_key in _get_param_aliases(field))
    return Param(field.name, field, info.in_.value, aliases)


def _node(dependant: Dependant, *, root: bool) -> Node:
    if dependant.call is None:
        raise Unsupported("a dependant without a callable")
    if (
        dependant.cookie_params
        or dependant.websocket_param_name
        or dependant.background_tasks_param_name
        or dependant.security_scopes_param_name
        or dependant.concurrency is not None
        or _get_oauth_scopes(dependant=dependant)
        or (dependant.body_params and not root)
    ):
        raise Unsupported("cookies, websockets, background tasks, scopes or a nested body")
    kind = _kind(dependant.call)
    if root and kind == ASYNC_GENERATOR:
        raise Unsupported("a streaming endpoint")
    return Node(
        call=dependant.call,
        name=dependant.name,
        kind=kind,
        scope=dependant.scope,
        use_cache=dependant.use_cache,
        params=tuple(
            _param(f)
            for f in (*dependant.path_params, *dependant.query_params, *dependant.header_params)
        ),
        request_names=tuple(
            n for n in (dependant.request_param_name, dependant.http_connection_param_name) if n
        ),
        response_name=dependant.response_param_name,
        subs=tuple(_node(sub, root=False) for sub in dependant.dependencies),
        context=asynccontextmanager(dependant.call) if kind == ASYNC_GENERATOR else None,
    )


def _json_content(content_type: str | None) -> bool:
    """Whether FastAPI would parse a body of this content type as JSON."""
    if not content_type:
        return False
    if content_type.startswith("application/json"):
        return content_type[16:17] in ("", ";", " ")
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


class Plan:
    """What one route's requests do, worked out from the route once."""

    def __init__(self, route: Any) -> None:
        dependant: Dependant | None = route.dependant
        if dependant is None:
            raise Unsupported("no dependant")
        if getattr(route, "is_sse_stream", False) or getattr(route, "is_json_stream", False):
            raise Unsupported("a streaming route")
        if getattr(route, "stream_item_field", None) is not None:
            raise Unsupported("a streaming route")
        body = dependant.body_params
        if body and (
            len(body) > 1
            or route._embed_body_fields
            or _should_embed_body_fields(body)
            or not isinstance(body[0].field_info, params.Body)
            or isinstance(body[0].field_info, params.Form)
        ):
            raise Unsupported("a form, an embedded or several bodies")
        strict = route.strict_content_type
        if not (strict.value if isinstance(strict, DefaultPlaceholder) else strict):
            raise Unsupported("a body read as JSON without a content type")
        self.root = _node(dependant, root=True)
        self.path = f"{','.join(sorted(route.methods or ()))} {dependant.path}"
        self.endpoint: EndpointContext | None = None  # for a response that does not validate
        self.body: ModelField | None = body[0] if body else None
        self.status_code: int | None = route.status_code
        self.response_field: ModelField | None = route.response_field
        self.response_class = route.response_class
        self.dump_json = self.response_field is not None and isinstance(
            route.response_class, DefaultPlaceholder
        )
        if isinstance(route.response_class, DefaultPlaceholder):
            self.response_type = route.response_class.value
        else:
            self.response_type = route.response_class
        self.serialization = {
            "include": route.response_model_include,
            "exclude": route.response_model_exclude,
            "by_alias": route.response_model_by_alias,
            "exclude_unset": route.response_model_exclude_unset,
            "exclude_defaults": route.response_model_exclude_defaults,
            "exclude_none": route.response_model_exclude_none,
        }
        self.overrides = route.dependency_overrides_provider
        self.coroutine = self.root.kind == COROUTINE

    def handler(self, fallback: Handler) -> Handler:
        """The route's handler: this plan, and ``fallback`` (FastAPI's handler for the same
        route) for a request the plan leaves to it."""

        async def handle(request: Request) -> Response:
            if get_telemetry_data() is not None or (
                self.overrides is not None and getattr(self.overrides, "dependency_overrides", None)
            ):
                return await fallback(request)
            validated = await self.validate(request)
            if validated is None:
                return await fallback(request)
            return await self.run(request, validated)

        handle.plan = self  # type: ignore[attr-defined]
        return handle

    async def validate(self, request: Request) -> dict[int, dict[str, Any]] | None:
        """Every node's parameters (and the body, the root's), validated; ``None`` when any
        does not validate or the body is not JSON (FastAPI then answers the request)."""
        body: Any = Undefined
        if self.body is not None:
            try:
                raw = await request.body()
            except Exception:  # FastAPI answers it (400, or the body limit's 413)
                return None
            if raw:
                if not _json_content(request.headers.get("content-type")):
                    return None
                try:
                    body = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    return None
        validated: dict[int, dict[str, Any]] = {}
        pending = [self.root]
        while pending:
            node = pending.pop()
            pending.extend(node.subs)
            values: dict[str, Any] = {}
            for param in node.params:
                found = (
                    request.path_params
                    if param.source == "path"
                    else request.query_params
                    if param.source == "query"
                    else request.headers
                )
                alias = param.aliases[0]
                if len(param.aliases) > 1:
                    alias = next((a for a in param.aliases if a in found), alias)
                value = found.get(alias)
                value, errors = _validate_value_with_model_field(
                    field=param.field,
                    value=Undefined if value is None else value,
                    values=values,
                    loc=(param.source, alias),
                )
                if errors:
                    return None
                values[param.name] = value
            validated[id(node)] = values
        if self.body is not None:
            value, errors = _validate_value_with_model_field(
                field=self.body, value=body, values={}, loc=("body",)
            )
            if errors:
                return None
            validated[id(self.root)][self.body.name] = value
        return validated

    async def run(self, request: Request, validated: dict[int, dict[str, Any]]) -> Response:
        sub_response = Response()
        del sub_response.headers["content-length"]
        sub_response.status_code = None  # type: ignore[assignment]
        values = await _solve(self.root, request, sub_response, {}, validated)
        if self.coroutine:
            content = await self.root.call(**values)
        else:
            content = await run_in_threadpool(self.root.call, **values)
        if isinstance(content, Response):
            return content
        arguments: dict[str, Any] = {}
        status = self.status_code or sub_response.status_code
        if status is not None:
            arguments["status_code"] = status
        if sub_response.status_code:
            arguments["status_code"] = sub_response.status_code
        serialized = await serialize_response(
            field=self.response_field,
            response_content=content,
            is_coroutine=self.coroutine,
            endpoint_ctx=self.endpoint or self._endpoint(),
            dump_json=self.dump_json,
            **self.serialization,
        )
        if self.dump_json:
            response = Response(content=serialized, media_type="application/json", **arguments)
        else:
            response = self.response_type(serialized, **arguments)
        if not is_body_allowed_for_status_code(response.status_code):
            response.body = b""
        response.headers.raw.extend(sub_response.headers.raw)
        return response

    def _endpoint(self) -> EndpointContext:
        """Where the endpoint is (file, line), for the message of an answer that does not
        validate: read from its source on the route's first request."""
        found = EndpointContext(**_extract_endpoint_context(self.root.call))
        found["path"] = self.path
        self.endpoint = found
        return found


async def _solve(
    node: Node,
    request: Request,
    response: Response,
    cache: dict[Callable[..., Any], Any],
    validated: dict[int, dict[str, Any]],
) -> dict[str, Any]:
    """The arguments ``node`` is called with: its dependencies solved (as FastAPI's
    ``solve_dependencies`` does, in its order), its validated parameters, the request and the
    sub-response."""
    values: dict[str, Any] = {}
    for sub in node.subs:
        arguments = await _solve(sub, request, response, cache, validated)
        if sub.use_cache and sub.call in cache:
            solved = cache[sub.call]
        elif sub.context is not None:
            stack: AsyncExitStack = request.scope[
                "fastapi_function_astack" if sub.scope == "function" else "fastapi_inner_astack"
            ]
            solved = await stack.enter_async_context(sub.context(**arguments))
        elif sub.kind == COROUTINE:
            solved = await sub.call(**arguments)
        else:
            solved = await run_in_threadpool(sub.call, **arguments)
        if sub.name is not None:
            values[sub.name] = solved
        cache.setdefault(sub.call, solved)
    values.update(validated[id(node)])
    for name in node.request_names:
        values[name] = request
    if node.response_name:
        values[node.response_name] = response
    return values
