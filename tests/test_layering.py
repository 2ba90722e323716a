"""Imports go one way: the workflow definitions know nothing of the service; the plumbing in
``app/core`` knows no domain; no domain reaches into an entry point; and no new pair of
domains imports each other (the pairs that still do are listed here, to be taken apart, never
added to). Every import counts, those inside functions too."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENTRY_POINTS = {"app.main", "app.cli", "app.contract", "app.contract_examples", "app.startup"}
"""The process's doors: they assemble the domains, and nothing below imports them."""
KNOWN_CYCLES = {
    ("cases", "exports"),
    ("cases", "households"),
    ("cases", "screening"),
}
"""Domains that still import each other (2026-11-30): each pair is a debt of the house.
The personal-data reads moved from access_log to households, which took one apart."""


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


def test_no_new_pair_of_domains_imports_each_other() -> None:
    reaches: dict[str, set[str]] = defaultdict(set)
    for module, imports in _graph("app").items():
        source = _domain(module)
        for imported in imports:
            if imported.startswith("app.") and imported not in ENTRY_POINTS:
                target = _domain(imported)
                if source and target and target != source:
                    reaches[source].add(target)
    cycles = {tuple(sorted((a, b))) for a in reaches for b in reaches[a] if a in reaches.get(b, ())}
    assert cycles - KNOWN_CYCLES == set(), f"new: {sorted(cycles - KNOWN_CYCLES)}"
    assert KNOWN_CYCLES - cycles == set(), (
        f"taken apart: remove {sorted(KNOWN_CYCLES - cycles)} from KNOWN_CYCLES"
    )


def test_the_checks_can_fail() -> None:
    """The import reader sees what the tests above rely on: a function-level import and a
    'from' import of a name."""
    sample = ROOT / "app" / "contract.py"
    assert "app.main" in _imports(sample)
    assert _domain("app.cases.service") == "cases"
    assert _domain("app.main") == ""
