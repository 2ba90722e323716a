"""`fangfanpin demo`: the demo areas and the illustrative income lines, and `--reset`."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str, database: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database}
    env.pop("DATABASE_MIGRATION_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_demo_loads_labelled_lines_once_and_reset_starts_over(tmp_path: Path) -> None:
    path = tmp_path / "demo.sqlite3"
    url = f"sqlite+aiosqlite:///{path}"
    assert cli("migrate", database=url).returncode == 0
    first = cli("demo", database=url)
    assert first.returncode == 0, first.stderr
    assert "illustrative income lines 2022–2030 loaded" in first.stdout
    with closing(sqlite3.connect(path)) as db:
        (reason, parameters) = db.execute(
            "SELECT reason, parameters FROM policy_version WHERE version = 'jiaohe-demo-lines'"
        ).fetchone()
        assert "示例数据" in reason
        assert "not provincial data" in reason
        lines = json.loads(parameters)["income_lines"]
        assert lines["2027"] == "7800.00"
        assert lines["2021"] == "6000.00"
        db.execute(
            "INSERT INTO household (id, village_code, head_name, head_id_number_encrypted,"
            " head_id_number_masked, head_id_digest, size, created_at) VALUES ('h', "
            "'220281102200', '王', 'x', 'x', 'd', 1, '2026-01-01 00:00:00')"
        )
        db.commit()
    second = cli("demo", database=url)
    assert "income lines" not in second.stdout  # loaded once
    reset = cli("demo", "--reset", database=url)
    assert reset.returncode == 0, reset.stderr
    assert "deleted and migrated anew" in reset.stdout
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("SELECT count(*) FROM household").fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM area").fetchone()[0] > 0


def test_reset_never_touches_a_server_database() -> None:
    refused = cli("demo", "--reset", database="postgresql+asyncpg://nobody@127.0.0.1:1/none")
    assert refused.returncode != 0
    assert "embedded SQLite" in refused.stdout + refused.stderr
