"""The API's routers, with a route that refuses a path it cannot match before FastAPI's own
matching runs.

FastAPI tries a request's path against the routes of each included router in turn, and each
try sets and restores its scope keys, looks up the route's effective context and runs the
path's regex. The cases router alone holds some eighty routes, so a write to
``…/return-responses`` used to be tried against more than seventy of them, twice (once to
pick the router, once to pick the route). A route's path ends with the literal text after its
last parameter (``/actions/submit_to_city``, ``/return-responses``), and whatever prefix it is
included under, its regex can only match a path that ends so: :class:`Route` checks that
first, which a plain string comparison answers.

FastAPI still sets and restores its scope key around each route it asks, for every route
of the router, twice a request. So the included routers of our :class:`Router` are asked
of only the routes a path's last segment allows (:func:`_narrowed_match`): its own, and
those whose path ends in a parameter. This replaces FastAPI's private ``_IncludedRouter._match``
with one that calls it on those routes alone; FastAPI is pinned (``constraints.txt``) and
``tests/test_routing.py`` holds every route's answer to FastAPI's own.

Even narrowed, FastAPI walks down the included routers twice a request (once to pick the
router, once the route). :class:`Dispatch`, the app's router stack, reaches the route in one
pass over a table of the routes each last segment allows, made again whenever a route is
added, and leaves the scope exactly as FastAPI would; any request it is not sure of (a mount,
a plain route, no full match) goes to FastAPI's routing unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter
from fastapi.routing import (
    _FASTAPI_EFFECTIVE_ROUTE_CONTEXT_KEY,
    _FASTAPI_INCLUDED_ROUTER_KEY,
    _FASTAPI_SCOPE_KEY,
    APIRoute,
    _effective_route_context_var,
    _EffectiveRouteContext,
    _get_scope_included_router,
    _IncludedRouter,
)
from starlette._utils import get_route_path
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Mount
from starlette.routing import Route as StarletteRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from app.core.lean import Plan, Unsupported


def literal_tail(path: str) -> str:
    """The literal text a route's path ends with: after its last ``{parameter}``, or the
    whole path when it has none."""
    return path[path.rfind("}") + 1 :]


class Route(APIRoute):
    """An :class:`~fastapi.routing.APIRoute` that answers ``Match.NONE`` at once for a path
    not ending with its literal tail; any other path is matched by FastAPI as before."""

    def __init__(self, path: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(path, *args, **kwargs)
        self.tail = literal_tail(path)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """FastAPI's handler, behind the route's :class:`~app.core.lean.Plan` when the plan
        covers the route (``app.core.lean``)."""
        standard = super().get_route_handler()
        try:
            plan = Plan(_effective(self))
        except Unsupported:
            return standard
        return plan.handler(standard)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http" and not scope["path"].endswith(self.tail):
            return Match.NONE, {}
        return super().matches(scope)


def _effective(route: Route) -> Any:
    """The route as included (its router's prefix, dependencies and defaults merged), which
    FastAPI builds the handler of while it includes the router; the route itself otherwise."""
    context = _effective_route_context_var.get()
    return context if context is not None and context.original_route is route else route


class Router(APIRouter):
    """An :class:`~fastapi.APIRouter` that answers ``Match.NONE`` at once for a path none of
    its routes can match. FastAPI asks each included router in turn, and each asks every one
    of its routes (setting and restoring a scope key around each): a request to the last of
    the API's routers was tried against some 130 routes of the routers before it. A route's
    path begins with its literal head, the text before its first parameter (the router's
    prefix and the prefix it is included under are part of it), so a path that begins with
    none of its routes' heads cannot match any of them. A router holding anything but
    :class:`~fastapi.routing.APIRoute` routes (an included router, a mount) is not guarded."""

    _heads: tuple[int, tuple[str, ...] | None] = (-1, None)
    """The routes' literal heads, and how many routes there were when they were read."""

    def heads(self) -> tuple[str, ...] | None:
        """Its routes' literal heads; ``None`` when a route has none to give."""
        counted, heads = self._heads
        if counted != len(self.routes):
            found = {literal_head(r.path) for r in self.routes if isinstance(r, APIRoute)}
            whole = len(found) > 0 and all(isinstance(r, APIRoute) for r in self.routes)
            heads = tuple(sorted(found)) if whole and "" not in found else None
            self._heads = (len(self.routes), heads)
        return heads

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        heads = self.heads()
        if scope["type"] == "http" and heads is not None:
            included = _get_scope_included_router(scope)
            path = get_route_path(scope)
            if included is not None and included.include_context.prefix:
                outer = included.include_context.prefix
                if not path.startswith(outer):
                    return Match.NONE, {}
                path = path[len(outer) :]
            if not path.startswith(heads):
                return Match.NONE, {}
        return super().matches(scope)


def literal_head(path: str) -> str:
    """The literal text a path begins with: up to its first ``{parameter}``."""
    brace = path.find("{")
    return path if brace < 0 else path[:brace]


def api_router(**options: Any) -> APIRouter:
    """A :class:`Router` whose routes are :class:`Route`: every router of the API is made
    here."""
    return Router(route_class=Route, **options)


class _Narrowed:
    """An included router as :meth:`_IncludedRouter._match` reads it, with only the candidates
    a path may match."""

    __slots__ = ("candidates",)

    def __init__(self, candidates: list[Any]) -> None:
        self.candidates = candidates

    def effective_candidates(self) -> list[Any]:
        return self.candidates


@dataclass(frozen=True)
class _Index:
    """An included router's candidates by the last segment of the paths they can match."""

    version: int
    """Its router's own count of changes to its routes, when they were read."""
    flat: bool
    """It includes no router of its own: its routes changed only if that count did."""
    candidates: list[Any]
    by_segment: dict[str, _Narrowed]
    rest: _Narrowed
    """The candidates for a path whose last segment no route ends with."""


_FASTAPI_MATCH = _IncludedRouter._match


def _last_segment(candidate: Any) -> str | None:
    """The last segment of every path ``candidate`` can match: what follows the last ``/``
    of its route's literal tail. ``None`` when the tail does not hold a whole segment (it is
    empty, or it follows a parameter within a segment), or the candidate is not one of our
    routes: then it is a candidate for every path."""
    route = getattr(candidate, "original_route", None)
    if not isinstance(route, Route):
        return None
    cut = route.tail.rfind("/")
    return route.tail[cut + 1 :] if cut >= 0 else None


def _index(included: _IncludedRouter) -> _Index:
    """``included``'s candidates by the last segment of the paths they can match, kept on it
    until its routes change. FastAPI counts every change to a router's routes
    (``_routes_version``); its own check walks the routes for routers included in it on
    every request, which a router that includes none need not."""
    version = included.original_router._routes_version
    kept: _Index | None = getattr(included, "_narrowed", None)
    if kept is not None and kept.flat and kept.version == version:
        return kept
    candidates = included.effective_candidates()
    if kept is not None and kept.candidates is candidates:
        return kept
    segments = [_last_segment(c) for c in candidates]
    keyed = {s for s in segments if s is not None}
    kept = _Index(
        version=version,
        flat=not any(isinstance(c, _IncludedRouter) for c in candidates),
        candidates=candidates,
        by_segment={
            key: _Narrowed(
                [c for c, s in zip(candidates, segments, strict=True) if s in (None, key)]
            )
            for key in keyed
        },
        rest=_Narrowed([c for c, s in zip(candidates, segments, strict=True) if s is None]),
    )
    included._narrowed = kept  # type: ignore[attr-defined]
    return kept


def _narrowed_match(self: _IncludedRouter, scope: Scope) -> Any:
    """FastAPI's matching of a path against an included router's candidates in turn, asked
    of only those whose literal tail the path's last segment allows (:func:`_index`), in
    the same order: a candidate left out could not have matched, so the answer is the same.
    FastAPI asks each candidate twice a request (once to pick the router, once the route),
    setting and restoring a scope key around each: a write to ``…/return-responses`` was
    tried 80 times, some 90 µs; it is now tried against the few routes a path's last
    segment leaves (those ending in a parameter, and its own)."""
    if scope["type"] != "http" or not isinstance(self.original_router, Router):
        return _FASTAPI_MATCH(self, scope)
    index = _index(self)
    path = get_route_path(scope)
    narrowed = index.by_segment.get(path[path.rfind("/") + 1 :], index.rest)
    return _FASTAPI_MATCH(narrowed, scope)  # type: ignore[arg-type]


_IncludedRouter._match = _narrowed_match  # type: ignore[method-assign]


_GENERATION = [0]
"""Bumped whenever any router's routes change (FastAPI's own ``_mark_routes_changed``, which
every way of adding a route or including a router calls): a :class:`Dispatch` table made at
another generation is made again."""
_FASTAPI_MARK = APIRouter._mark_routes_changed


def _mark_routes_changed(self: APIRouter) -> None:
    _GENERATION[0] += 1
    _FASTAPI_MARK(self)


APIRouter._mark_routes_changed = _mark_routes_changed  # type: ignore[method-assign]


@dataclass(frozen=True, slots=True)
class _Leaf:
    """One of our routes as an included router holds it, with the included router FastAPI
    records in the scope when it hands the request to that route."""

    context: _EffectiveRouteContext
    route: Route
    included: _IncludedRouter


@dataclass(frozen=True, slots=True)
class _Other:
    """Anything else FastAPI asks on the way (a plain route, a mount, a route of another
    kind): a path it may match is left to FastAPI's routing, whole. ``exact``: the only path
    it can match (a parameterless plain route); ``prefix``: what every path it can match
    begins with (a mount); neither: it is asked."""

    route: Any
    exact: str | None
    prefix: str | None


@dataclass(frozen=True)
class _Table:
    generation: int
    by_segment: dict[str, tuple[_Leaf | _Other, ...]]
    rest: tuple[_Leaf | _Other, ...]


def _other(route: Any) -> _Other:
    if isinstance(route, Mount):
        return _Other(route, None, route.path + "/")
    if isinstance(route, StarletteRoute) and not route.param_convertors:
        return _Other(route, route.path_format, None)
    return _Other(route, None, None)


def _flattened(router: APIRouter) -> list[_Leaf | _Other] | None:
    """The routes of ``router`` in the order FastAPI asks them, the included routers' own in
    their place; ``None`` when a router on the way carries form limits (FastAPI applies them
    to the scope as it passes)."""
    found: list[_Leaf | _Other] = []

    def walk(included: _IncludedRouter) -> bool:
        if included.include_context.form_limits or included.original_router.form_limits:
            return False
        for candidate in included.effective_candidates():
            if isinstance(candidate, _IncludedRouter):
                if not walk(candidate):
                    return False
            elif isinstance(candidate.original_route, Route):
                found.append(_Leaf(candidate, candidate.original_route, included))
            else:
                found.append(_Other(candidate, None, None))
        return True

    if router.form_limits:
        return None
    for route in router.routes:
        if isinstance(route, _IncludedRouter):
            if not walk(route):
                return None
        else:
            found.append(_other(route))
    return found


def _table(router: APIRouter) -> _Table | None:
    generation = _GENERATION[0]
    flat = _flattened(router)
    if flat is None:
        return None
    segments = [
        _last_segment(entry.context) if isinstance(entry, _Leaf) else None for entry in flat
    ]
    keyed = {s for s in segments if s is not None}
    return _Table(
        generation=generation,
        by_segment={
            key: tuple(e for e, s in zip(flat, segments, strict=True) if s in (None, key))
            for key in keyed
        },
        rest=tuple(e for e, s in zip(flat, segments, strict=True) if s is None),
    )


class Dispatch:
    """The app's router, reaching a request's route in one pass over the routes its path's
    last segment allows, instead of FastAPI's two walks down the included routers (once to
    pick the router, once the route, setting and restoring its scope keys at every step).

    The route it picks is the one FastAPI picks: the first, in FastAPI's order, that matches
    the path and the method in full; and it leaves the scope as FastAPI leaves it (the
    router, the included router, the route's effective context, the route, its endpoint and
    path parameters) before calling the same application FastAPI calls. Any other request —
    one that no route matches in full, that a route of another kind (a mount, a plain route)
    may match, a websocket, or one FastAPI's telemetry follows — goes to FastAPI's routing as
    before. ``tests/test_routing.py`` holds every route's scope to FastAPI's."""

    def __init__(self, router: APIRouter) -> None:
        self.router = router
        self.fallback: ASGIApp = router.app
        self.table: _Table | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or "fastapi.telemetry" in scope:
            await self.fallback(scope, receive, send)
            return
        table = self.table
        if table is None or table.generation != _GENERATION[0]:
            table = self.table = _table(self.router)
            if table is None:
                await self.fallback(scope, receive, send)
                return
        path = get_route_path(scope)
        for entry in table.by_segment.get(path[path.rfind("/") + 1 :], table.rest):
            if isinstance(entry, _Leaf):
                if not path.endswith(entry.route.tail):
                    continue
                match, child = entry.context.matches(scope)
                if match is Match.FULL:
                    await self._selected(entry, child, scope, receive, send)
                    return
            elif (
                path == entry.exact
                if entry.exact is not None
                else path.startswith(entry.prefix)
                if entry.prefix is not None
                else entry.route.matches(scope)[0] is not Match.NONE
            ):
                break  # FastAPI decides
        await self.fallback(scope, receive, send)

    async def _selected(
        self, entry: _Leaf, child: Scope, scope: Scope, receive: Receive, send: Send
    ) -> None:
        if "router" not in scope:
            scope["router"] = self.router
        fastapi = scope.setdefault(_FASTAPI_SCOPE_KEY, {})
        fastapi[_FASTAPI_INCLUDED_ROUTER_KEY] = entry.included
        scope.update(child)
        fastapi[_FASTAPI_EFFECTIVE_ROUTE_CONTEXT_KEY] = entry.context
        scope["route"] = entry.route
        app = entry.context.app
        assert app is not None
        await app(scope, receive, send)
