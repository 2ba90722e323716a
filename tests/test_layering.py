"""Imports go one way: the workflow definitions know nothing of the service; the plumbing in
``app/core`` knows no domain; no domain reaches into an entry point; and no domain imports
itself back through others, in a cycle of any length. Every import counts, those inside
functions too."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENTRY_POINTS = {
    "app.main",
    "app.cli",
    "app.contract",
    "app.contract_examples",
    "app.startup",
    "app.wiring",
    "app.worker",
}
"""The process's doors: they assemble the domains, and nothing below imports them."""


def _module(path: Path) -> str:
    name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    return name.removesuffix(".__init__")


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def _graph(package: str) -> dict[str, set[str]]:
    return {
        _module(path): _imports(path)
        for path in sorted((ROOT / package).rglob("*.py"))
        if "static" not in path.parts
    }


def _domain(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and module not in ENTRY_POINTS) else ""


def test_workflows_import_nothing_of_the_service() -> None:
    wrong = {
        m: sorted(i for i in imports if i == "app" or i.startswith("app."))
        for m, imports in _graph("workflows").items()
    }
    assert not {m: i for m, i in wrong.items() if i}


def test_the_plumbing_knows_no_domain() -> None:
    wrong = {
        module: sorted(i for i in imports if i.startswith("app.") and not i.startswith("app.core"))
        for module, imports in _graph("app").items()
        if module.startswith("app.core.")
    }
    assert not {m: i for m, i in wrong.items() if i}


def test_no_domain_reaches_into_an_entry_point() -> None:
    graph = _graph("app")
    wrong = {
        module: sorted(i for i in imports if i in ENTRY_POINTS)
        for module, imports in graph.items()
        if module not in ENTRY_POINTS
    }
    assert not {m: i for m, i in wrong.items() if i}


def _domains() -> dict[str, set[str]]:
    """Which domains each domain imports (entry points and the plumbing left out)."""
    reaches: dict[str, set[str]] = defaultdict(set)
    for module, imports in _graph("app").items():
        source = _domain(module)
        for imported in imports:
            if imported.startswith("app.") and imported not in ENTRY_POINTS:
                target = _domain(imported)
                if source and target and target not in (source, "core"):
                    reaches[source].add(target)
    return reaches


def _cycle(reaches: dict[str, set[str]]) -> list[str]:
    """A cycle among the domains (each imports the next, the last the first), or none."""
    done: set[str] = set()

    def visit(domain: str, path: list[str]) -> list[str]:
        if domain in path:
            return [*path[path.index(domain) :], domain]
        if domain in done:
            return []
        for target in sorted(reaches.get(domain, ())):
            if found := visit(target, [*path, domain]):
                return found
        done.add(domain)
        return []

    for domain in sorted(reaches):
        if found := visit(domain, []):
            return found
    return []


def test_the_domains_import_one_way() -> None:
    """No domain imports another that imports it back, directly or through others: the
    domains form layers (a reaction that goes up is a hook, connected in ``app.wiring``)."""
    assert _cycle(_domains()) == []


SQL_BUILDERS = {"select", "insert", "update", "delete", "text", "func", "aliased", "case"}
"""What builds a statement; a module that declares routes imports none of it."""
READS_THE_DATABASE_ITSELF = {"app.health"}
"""The health check asks the database for its own state (its revision, replication lag),
which is no domain's data."""


def _builds_sql(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
            found.update(alias.name for alias in node.names if alias.name in SQL_BUILDERS)
    return found


def test_endpoints_keep_their_sql_in_repositories() -> None:
    """A module that declares routes says what each endpoint does; its queries live in a
    repository (or the domain's service), so they are found, reused and tested in one place."""
    routers = [
        path
        for path in sorted((ROOT / "app").rglob("*.py"))
        if "static" not in path.parts and "api_router(" in path.read_text()
    ]
    assert len(routers) > 20
    wrong = {
        _module(path): sorted(found)
        for path in routers
        if (found := _builds_sql(path)) and _module(path) not in READS_THE_DATABASE_ITSELF
    }
    assert wrong == {}


def test_the_checks_can_fail() -> None:
    """The import reader sees what the tests above rely on: a function-level import and a
    'from' import of a name."""
    sample = ROOT / "app" / "contract.py"
    assert "app.main" in _imports(sample)
    assert _domain("app.cases.service") == "cases"
    assert _domain("app.main") == ""
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []
    assert _builds_sql(ROOT / "app" / "health.py") == {"text"}
