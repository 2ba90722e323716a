"""Hooks: a point in one domain's write path where another domain's work joins it, in the same
transaction, without the first domain importing the second.

The domain that changes something declares the hook (``app.cases.hooks.case_moved``); the
domain that keeps something in step with it provides a listener; the process's entry points
connect the two, in one place (``app.wiring``), so the reactions between domains read as a
list. A hook with no listener refuses to run rather than skip its work unnoticed: a process
that forgot the wiring fails at its first write, not months later in a report.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Generic, ParamSpec

from sqlalchemy import or_, true

P = ParamSpec("P")


class HookNotConnected(RuntimeError):
    """A hook ran with no listener: the process did not import ``app.wiring``."""


class Hook(Generic[P]):
    """Awaits each connected listener in turn, with the emitter's session and arguments; an
    error in a listener is the emitter's error (its transaction rolls back)."""

    def __init__(self, name: str, doc: str) -> None:
        self.name = name
        self.__doc__ = doc
        self.listeners: list[Callable[P, Awaitable[object]]] = []
        self.conditions: dict[Callable[P, Awaitable[object]], Callable[[], Any]] = {}

    def connect(
        self,
        listener: Callable[P, Awaitable[object]],
        *,
        writes_when: Callable[[], Any] | None = None,
    ) -> None:
        """Add ``listener`` once (connecting it again changes nothing). ``writes_when``: what
        builds the SQL condition under which the listener writes anything (over the
        parameters its hook names), for an emitter that asks, in a read before its write,
        whether that write will be the request's only one (:meth:`writes_when`)."""
        if listener not in self.listeners:
            self.listeners.append(listener)
        if writes_when is not None:
            self.conditions[listener] = writes_when

    def writes_when(self) -> Any:
        """An SQL condition true whenever a listener may write: any listener's own condition,
        and always when a listener declared none or none is connected."""
        conditions = [self.conditions.get(listener) for listener in self.listeners]
        if not conditions or None in conditions:
            return true()
        return or_(*(build() for build in conditions if build is not None))

    async def __call__(self, *args: P.args, **kwargs: P.kwargs) -> None:
        if not self.listeners:
            raise HookNotConnected(
                f"nothing listens to {self.name!r}: import app.wiring in the entry point"
            )
        for listener in self.listeners:
            await listener(*args, **kwargs)

    def __repr__(self) -> str:
        return f"Hook({self.name!r}, {len(self.listeners)} listener(s))"
