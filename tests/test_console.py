"""The operator console, clicked through in headless Chromium against a real server — on
PostgreSQL when one answers (CI requires it), else on SQLite: a case from its opening by a
village cadre to the city's confirmation, through the console's forms only."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from bench.transitions import wait_ready
from tests import oidc_stub
from tests.conftest import (
    APP_ROLE,
    ARTIFACTS,
    OWNERS,
    REPOSITORY,
    browser_or_skip,
    free_port,
    run_cli,
)
from tests.helpers import new_id_number


async def _recreate(owner_url: str, name: str, *, drop_only: bool = False) -> None:
    engine = create_async_engine(
        make_url(owner_url).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    async with engine.connect() as connection:
        await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if not drop_only:
            owner = make_url(owner_url).username
            await connection.execute(text(f'CREATE DATABASE "{name}" OWNER "{owner}"'))
    await engine.dispose()


@pytest.fixture
def console_server(
    tmp_path: Path, database_urls: dict[str, str | None]
) -> Iterator[dict[str, Any]]:
    with _served(tmp_path, database_urls, {}) as served:
        yield served


@contextmanager
def _served(
    tmp_path: Path, database_urls: dict[str, str | None], extra: dict[str, str]
) -> Iterator[dict[str, Any]]:
    """A served demo (as ``make run`` serves it) on a database of its own."""
    env = {**os.environ, "FANGFANPIN_DEMO": "1", **extra}
    for name in ("DATABASE_URL", "DATABASE_MIGRATION_URL", "DATABASE_APP_ROLE"):
        env.pop(name, None)
    postgres = database_urls["postgresql"]
    database = None
    if postgres:
        owner = make_url(OWNERS[postgres])
        database = f"{owner.database}_console"
        asyncio.run(_recreate(OWNERS[postgres], database))
        env["DATABASE_URL"] = make_url(postgres).set(database=database).render_as_string(False)
        env["DATABASE_MIGRATION_URL"] = owner.set(database=database).render_as_string(False)
        env["DATABASE_APP_ROLE"] = APP_ROLE
    else:
        env["DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'console.sqlite3'}"
    run_cli("migrate", env=env)
    run_cli("demo", env=env)
    port = free_port()
    log = (tmp_path / "server.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--with-worker"],
        env=env,
        cwd=REPOSITORY,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_ready(port)
        yield {
            "base": f"http://127.0.0.1:{port}",
            "backend": "postgresql" if postgres else "sqlite",
        }
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
        if postgres and database:
            asyncio.run(_recreate(OWNERS[postgres], database, drop_only=True))


def test_the_console_is_served_from_the_service(console_server: dict[str, Any]) -> None:
    base = console_server["base"]
    page = httpx.get(f"{base}/console/")
    assert page.status_code == 200
    assert "防返贫监测工作台" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert httpx.get(f"{base}/", follow_redirects=False).headers["location"] == "/console/"
    scripts = [line for line in page.text.split('"') if line.endswith(".js")]
    assert scripts
    assert all(s.startswith("/console/assets/") for s in scripts)


def test_a_case_from_opening_to_confirmation_through_the_console(
    console_server: dict[str, Any],
) -> None:
    browser_or_skip()
    shots = ARTIFACTS / "console"
    shutil.rmtree(shots, ignore_errors=True)  # this run's screens only
    shots.mkdir(parents=True)
    done = subprocess.run(
        [
            "node",
            "tests/browser/console.mjs",
            console_server["base"],
            str(shots),
            new_id_number(born="19750315"),
        ],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert "error" not in report, report.get("error")
    assert report["outside"] == [], "the page made a request to another origin"
    assert report["pageErrors"] == []
    assert report["reviewsStarted"] == 1  # a double click acted once (one Idempotency-Key)
    assert report["concurrentChange"] == 201
    assert report["stale"].startswith("案件已被修改")
    assert report["reloadOffered"] == 1
    # the refused step shows the rule that holds it and when it will be met
    assert report["listedUnmet"] == ["notice_period_running"]
    assert report["earlyUnmet"] == ["notice_period_running"]
    assert "公示期未满" in report["earlyRefusal"]
    assert "起满足" in report["earlyRefusal"]
    assert report["objectionsLeft"] == 0  # the township dismissed it through the console
    assert any("异议处理" in line for line in report["timelineTitles"])  # events by name
    assert report["afterNotice"].endswith("（乡镇审核）")  # the notice timer moved it on
    assert report["finalTitle"].endswith("（帮扶中）")
    # another village's cadre finds nothing: not in the inbox, and the page is "not found"
    assert report["otherVillageRows"] == 0
    assert "案件不存在" in report["otherVillagePage"]
    # the diagram: its own chunk, loaded on demand, the current state and the path marked
    assert report["diagramChunk"] == 1
    assert report["diagramCurrent"] == "assisted"
    assert report["diagramVisited"] == [
        "cadre_found",
        "village_nomination",
        "public_notice",
        "township_verification",
        "city_confirmation",
    ]
    assert "在办案件" in report["dashboardOpen"]
    assert "因病" in report["riskCounts"]  # the classification's risk type, counted
    assert report["measuresDue"] == "待落实帮扶措施：0 件"  # the measure planned cleared it
    assert "待导出 1" in report["syncStatus"]
    assert report["noticeDueKind"] == "notice_end"  # the committee's inbox: the notice's end
    # the printable notice keeps its print style under the console's policy
    assert report["printTitle"]
    assert report["printAlign"] == "center"
    assert report["ledgerBytes"] > 1000  # the XLSX ledger, fetched with the token
    assert "集中排查" in report["campaigns"]
    assert report["campaignOpened"] == 201
    assert "白石山镇" in report["campaignProgress"]  # the campaign's progress per township
    assert report["nationalSync"] == "待导出"  # confirmed, not yet exported
    assert "帮扶计划未经评议公示" in report["progressRefused"]  # a refused fact shows its rule
    assert report["replayMatches"] == "是"
    assert report["chainValid"] == "是"
    assert report["bundleBytes"] > 1000  # the auditor's bundle, zipped
    assert report["logRows"] >= 1  # the worker sequences events into the log as they commit
    serious = [v for v in report["axe"] if v["impact"] in ("serious", "critical")]
    assert serious == [], serious
    assert report["axeRulesPassed"] > 50  # axe ran on every audited screen
    assert len(report["shots"]) >= 6


def test_sign_in_through_the_identity_provider_with_pkce(
    tmp_path: Path, database_urls: dict[str, str | None]
) -> None:
    """OpenID Connect against a stub provider: the console sends the user there with a PKCE
    challenge, exchanges the code with its verifier, and works with the provider's token,
    which the API verifies against the provider's JWKS."""
    browser_or_skip()
    port = free_port()
    person = {"sub": "oidc.liu", "name": "刘晓燕", "role": "township_official", "area": "220281102"}
    with oidc_stub.running(port, person, audience="fangfanpin-api") as provider:
        extra = {
            "JWT_JWKS_URL": f"{provider.issuer}/jwks",
            "JWT_JWKS_ISSUER": provider.issuer,
            "OIDC_AUTHORIZATION_ENDPOINT": f"{provider.issuer}/authorize",
            "OIDC_TOKEN_ENDPOINT": f"{provider.issuer}/token",
        }
        with _served(tmp_path, database_urls, extra) as served:
            policy = httpx.get(f"{served['base']}/console/").headers["content-security-policy"]
            assert f"connect-src 'self' {provider.issuer};" in policy
            done = subprocess.run(
                ["node", "tests/browser/oidc.mjs", served["base"], str(ARTIFACTS / "console")],
                cwd=REPOSITORY,
                capture_output=True,
                text=True,
                timeout=120,
            )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert "error" not in report, report.get("error")
    assert report["who"].startswith("刘晓燕（乡镇干部，220281102）")
    assert report["inbox"].startswith("共 ")  # the API accepted the provider's token
    assert provider.exchanged == [{"client_id": "fangfanpin-console"}]
    assert set(report["origins"]) == {served["base"], provider.issuer}
