"""The hooks between domains: a hook with no listener refuses to run, and the app connects
every hook a domain declares."""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from sqlalchemy import column

import app
from app.core.hooks import Hook, HookNotConnected
from app.main import create_app


def declared_hooks() -> dict[str, Hook[...]]:
    found: dict[str, Hook[...]] = {}
    for module in pkgutil.walk_packages(app.__path__, "app."):
        if module.name.endswith(".hooks") and module.name != "app.core.hooks":
            loaded = importlib.import_module(module.name)
            found.update(
                {f"{module.name}.{k}": v for k, v in vars(loaded).items() if isinstance(v, Hook)}
            )
    return found


async def test_a_hook_with_no_listener_refuses() -> None:
    hook: Hook[[int]] = Hook("sample", "A hook nobody listens to.")
    with pytest.raises(HookNotConnected, match="nothing listens to 'sample'"):
        await hook(1)
    heard: list[int] = []

    async def listener(value: int) -> None:
        heard.append(value)

    hook.connect(listener)
    hook.connect(listener)  # once only
    await hook(2)
    assert heard == [2]


def test_the_app_connects_every_declared_hook() -> None:
    hooks = declared_hooks()
    assert {"app.cases.hooks.case_moved", "app.households.hooks.household_registered"} <= set(hooks)
    for hook in hooks.values():
        hook.listeners.clear()  # as in a fresh process, whatever ran before in this one
    create_app()
    assert {name: hook for name, hook in hooks.items() if not hook.listeners} == {}


def test_a_hook_says_when_its_listeners_write() -> None:
    """An emitter that asks before writing whether its listeners will write (an opening,
    before it writes a new household alone) gets every listener's condition joined; a hook
    with a listener that declared none, or with no listener, answers that they may always."""
    hook: Hook[[int]] = Hook("sample", "A hook whose listeners say when they write.")
    assert str(hook.writes_when().compile()) == "true"

    async def quiet(value: int) -> None: ...

    async def loud(value: int) -> None: ...

    hook.connect(quiet, writes_when=lambda: column("a") > 1)
    assert str(hook.writes_when().compile()) == "a > :a_1"
    hook.connect(loud, writes_when=lambda: column("b") == 2)
    assert str(hook.writes_when().compile()) == "a > :a_1 OR b = :b_1"
    hook.connect(lambda value: quiet(value))
    assert str(hook.writes_when().compile()) == "true"
