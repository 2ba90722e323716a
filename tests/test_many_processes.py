"""Two API processes and two workers on one PostgreSQL, driven at once: no timer fires twice,
no update is lost, no two events share a ``(case_id, seq)``, the audit log stays gap-free."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from app.auth.tokens import mint
from app.core.db import make_engine
from app.core.serving import HTTP
from tests.helpers import Api
from workflows.vocabulary import Role

ROOT = Path(__file__).resolve().parent.parent
CASES = 12


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


async def until_up(port: int) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(150):
            try:
                if (await client.get(f"http://127.0.0.1:{port}/health")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"the API on port {port} did not come up")


async def advance(client: httpx.AsyncClient, port: int, case_id: str, token: str) -> list[int]:
    """Read the version and fire start_village_review until it is done (another process or
    a worker may move the case in between); answers every status seen."""
    seen: list[Any] = []
    base = f"http://127.0.0.1:{port}/api/v1/cases/{case_id}"
    headers = {"Authorization": f"Bearer {token}"}
    for _ in range(30):
        case = (await client.get(base, headers=headers)).json()
        if case["state"] == "village_nomination":
            return seen
        response = await client.post(
            f"{base}/actions/start_village_review",
            headers={**headers, "If-Match": f'"{case["version"]}"'},
            json={},
        )
        seen.append(response.status_code)
    raise AssertionError(f"case {case_id} never moved: {seen}")


async def test_two_apis_and_two_workers_at_once(postgres_api: Api) -> None:
    api = postgres_api
    case_ids = [str((await api.open_case())["id"]) for _ in range(CASES)]
    # opened on the test clock in March: their identification deadlines are long past
    env = {
        **os.environ,
        "DATABASE_URL": api.settings.database_url,
        "JWT_SECRET": api.settings.jwt_secret,
        "EMBEDDED_WORKER": "false",
        "FANGFANPIN_DEMO": "1",  # the development keys of the test settings
        "DATABASE_POOL_SIZE": "4",
    }
    ports = [free_port(), free_port()]
    processes = [
        start(
            ["uvicorn", "app.main:app", "--port", str(p), "--log-level", "warning", "--http", HTTP],
            env,
        )
        for p in ports
    ]
    processes += [start(["app.cli", "worker", "--interval", "0.2"], env) for _ in range(2)]
    try:
        for port in ports:
            await until_up(port)
        now = datetime.now(UTC)
        token = mint(
            api.settings,
            sub="cadre.pinggang",
            role=Role.village_cadre,
            area="220281102200",
            now=now,
            ttl=timedelta(hours=1),
        )
        async with httpx.AsyncClient(timeout=30) as client:
            racing = [
                advance(client, port, case_id, token) for case_id in case_ids for port in ports
            ]
            statuses = await asyncio.gather(*racing)
        seen = {s for each in statuses for s in each}
        assert seen <= {200, 412}, seen  # won, or lost the race: never an error
        assert sum(each.count(200) for each in statuses) == CASES  # exactly one winner a case
        engine = make_engine(api.settings.database_url)
        try:
            for _ in range(100):  # the workers fire the due timers and sequence the log
                async with engine.connect() as connection:
                    pending = await connection.scalar(
                        text(
                            "SELECT count(*) FROM timer WHERE fired_at IS NULL AND due_at <= now()"
                        )
                    )
                    logged = await connection.scalar(text("SELECT count(*) FROM audit_log"))
                    events = await connection.scalar(text("SELECT count(*) FROM case_event"))
                if pending == 0 and logged == events:
                    break
                await asyncio.sleep(0.2)
            async with engine.connect() as connection:
                per_case = (
                    await connection.execute(
                        text(
                            "SELECT case_id, count(*) FILTER (WHERE name = 'deadline_escalation'),"
                            " count(*) FILTER (WHERE name = 'start_village_review'), count(*),"
                            " max(seq), count(DISTINCT seq) FROM case_event GROUP BY case_id"
                        )
                    )
                ).all()
                indices = (
                    (
                        await connection.execute(
                            text("SELECT log_index FROM audit_log ORDER BY log_index")
                        )
                    )
                    .scalars()
                    .all()
                )
                versions: dict[str, int] = dict(
                    (
                        await connection.execute(text("SELECT id, version FROM monitoring_case"))
                    ).all()
                )
        finally:
            await engine.dispose()
        assert pending == 0
        assert len(per_case) == CASES
        for case_id, escalations, reviews, count, last, distinct in per_case:
            assert escalations == 1, (case_id, escalations)  # fired once, not twice
            assert reviews == 1
            assert count == last == distinct == versions[case_id]  # 1..n, none lost
        assert indices == list(range(len(indices)))
        assert len(indices) == sum(row[3] for row in per_case)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        errors = []
        for process in processes:
            if process.stderr is not None:
                errors.append(process.stderr.read().decode())
                process.stderr.close()
        assert not any("Traceback" in error for error in errors), errors
