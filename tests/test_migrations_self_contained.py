"""A revision does to a database forever what it did the day it was written: it imports no
service code that a later change could alter. Only column types (``app.core.db``) and key
access (``app.core.config``, ``app.core.crypto``, to seal data as revisions 0011 and 0020 do)
may be imported; anything else a revision needs is frozen inside it."""

from __future__ import annotations

import ast
from pathlib import Path

VERSIONS = Path(__file__).parent.parent / "alembic" / "versions"
ALLOWED = {"app.core.db", "app.core.config", "app.core.crypto"}


def imported(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_revisions_import_only_column_types_and_key_access() -> None:
    revisions = sorted(VERSIONS.glob("*.py"))
    assert len(revisions) >= 29
    leaks = {
        path.name: sorted(
            m for m in imported(path) if (m == "app" or m.startswith("app.")) and m not in ALLOWED
        )
        for path in revisions
    }
    assert {name: found for name, found in leaks.items() if found} == {}


def test_the_check_sees_an_import_of_service_code(tmp_path: Path) -> None:
    revision = tmp_path / "0099_example.py"
    revision.write_text("from app.exports.document import compose\nimport app.core.db\n")
    assert imported(revision) == {"app.exports.document", "app.core.db"}
