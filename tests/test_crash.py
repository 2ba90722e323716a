"""Faults under load: kill -9 of the API, repeated, and a PostgreSQL restart. No acknowledged
write is lost, none is doubled, every case replays clean, and an auditor's bundle of the whole
log verifies offline.

Eight clients each record facts on their own case as fast as the server answers, every write
with its own ``Idempotency-Key``. A client whose request got no answer, or a 503, sends it
again, same key and body, until it is answered, as the API tells clients to. Afterwards each
key's write is in the trail exactly once: the ones that committed before the fault are
replayed from their record, the ones that did not run for the first time. These tests run
real processes against real faults, so they wait on the wall clock for a server to come back
(the time rules have their own tests, on an injected clock).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from app import migrations
from app.areas.demo import load as load_demo_areas
from app.auth.tokens import mint
from app.core.config import Settings
from app.core.db import make_engine, make_sessionmaker
from app.core.serving import HTTP
from app.households.idnumber import make as make_id_number
from tests.conftest import REPOSITORY, REQUIRE_POSTGRES, free_port, run_cli
from tests.helpers import APPLICATION, Api
from tests.test_read_replica import BIN, Clusters
from workflows.calendar import local_date
from workflows.vocabulary import Role

CLIENTS = 8
HAS_INITDB = BIN is not None and Path(f"{BIN}/initdb").exists()
GUARANTEES = (
    "food_and_clothing",
    "compulsory_education",
    "basic_medical_care",
    "housing_safety",
    "drinking_water",
)


def _serve(port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "app.main:app",
            "--port",
            str(port),
            "--log-level",
            "critical",
            "--http",
            HTTP,  # as `fangfanpin serve` answers
        ],
        env=env,
        cwd=REPOSITORY,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def _until_up(client: httpx.AsyncClient) -> None:
    for _ in range(600):
        try:
            if (await client.get("/ready")).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.05)
    raise AssertionError("the API did not come up")


class Load:
    """The clients, their keys, and what the server answered them."""

    def __init__(self, client: httpx.AsyncClient, settings: Settings) -> None:
        self.client, self.settings = client, settings
        self.acknowledged: Counter[str] = Counter()
        self.unavailable = self.replayed = self.retried = 0
        self.stop = asyncio.Event()
        self.now = datetime.now(UTC)
        self.cadre = self.bearer("cadre.pinggang", Role.village_cadre, "220281102200")
        self.cases: list[str] = []

    def bearer(self, sub: str, role: Role, area: str) -> dict[str, str]:
        token = mint(
            self.settings, sub=sub, role=role, area=area, now=self.now, ttl=timedelta(hours=1)
        )
        return {"Authorization": f"Bearer {token}"}

    async def open_cases(self) -> None:
        for serial in range(CLIENTS):
            number = make_id_number(f"220281196001{serial + 1:02d}{serial:03d}")
            opened = await self.client.post(
                "/api/v1/cases",
                headers=self.cadre,
                json={
                    "channel": "self_declared",
                    "application_sha256": APPLICATION,
                    "household": {
                        "head_name": "王德福",
                        "head_id_number": number,
                        "village_code": "220281102200",
                        "size": 3,
                    },
                },
            )
            assert opened.status_code == 201, opened.text
            case_id = opened.json()["id"]
            moved = await self.client.post(
                f"/api/v1/cases/{case_id}/actions/start_village_review",
                headers={**self.cadre, "If-Match": '"1"'},
            )
            assert moved.status_code == 200, moved.text
            self.cases.append(case_id)

    async def write(self, case_id: str, index: int) -> None:
        today = local_date(self.now).isoformat()
        n = 0
        while not self.stop.is_set():
            key = f"c{index}-{n}"
            body = {
                "verified_on": today,
                "verified_by": [f"核实员 {key}"],
                "household_size": 3,
                "wage_income": "9000.00",
                "business_income": "0",
                "property_income": "0",
                "transfer_income": "0",
                "business_expense": "0",
                "compliant_out_of_pocket": "0",
                "large_rigid_spending": False,
                "guarantees": dict.fromkeys(GUARANTEES, True),
            }
            attempts = 0
            while True:  # the same key and body until the server answers
                attempts += 1
                try:
                    answer = await self.client.post(
                        f"/api/v1/cases/{case_id}/household-verifications",
                        headers={**self.cadre, "Idempotency-Key": key},
                        json=body,
                    )
                except httpx.HTTPError:
                    await asyncio.sleep(0.05)  # the server is down: ask again
                    continue
                if answer.status_code == 503:
                    assert answer.json()["code"] == "database_unavailable", answer.text
                    assert answer.headers["retry-after"] == "1"
                    self.unavailable += 1
                    await asyncio.sleep(0.05)
                    continue
                if answer.status_code == 409 and answer.json()["code"] == (
                    "idempotency_key_in_flight"
                ):
                    continue
                assert answer.status_code == 201, answer.text
                break
            self.acknowledged[key] += 1
            self.replayed += answer.headers.get("idempotent-replayed") == "true"
            self.retried += attempts > 1
            n += 1

    async def under(self, fault: Callable[[], Awaitable[None]], times: int) -> None:
        writers = [asyncio.create_task(self.write(c, i)) for i, c in enumerate(self.cases)]
        try:
            for _ in range(times):
                await asyncio.sleep(0.8)  # let writes pile up in flight
                await fault()
            await asyncio.sleep(0.5)
        finally:
            self.stop.set()
            await asyncio.gather(*writers)

    async def check(self, env: dict[str, str], bundle: Path) -> None:
        """Every acknowledged key once in the trail; every case replays; the log verifies."""
        auditor = self.bearer("auditor.jiaohe", Role.auditor, "220281")
        in_trail: Counter[str] = Counter()
        for case_id in self.cases:
            events = (
                await self.client.get(f"/api/v1/cases/{case_id}/events", headers=auditor)
            ).json()
            for event in events:
                if event["name"] == "household_verification":
                    in_trail[event["payload"]["verified_by"][0].split(" ", 1)[1]] += 1
            replay = (
                await self.client.get(f"/api/v1/cases/{case_id}/replay", headers=auditor)
            ).json()
            assert replay["matches"], replay
            assert replay["chain_valid"], replay
            assert replay["facts_match"], replay
            assert replay["all_steps_legal"], replay
        assert sum(self.acknowledged.values()) > 50, self.acknowledged
        assert set(self.acknowledged.values()) == {1}
        assert in_trail == self.acknowledged, (
            in_trail - self.acknowledged,
            self.acknowledged - in_trail,
        )
        assert self.retried > 0, "no write was in flight at a fault: the test proved nothing"
        run_cli("audit", "bundle", str(bundle), env=env)
        verified = run_cli("audit", "verify", str(bundle), env=env)
        assert "OK: every check passed" in verified, verified
        print(
            f"{sum(self.acknowledged.values())} writes, {self.retried} retried after a "
            f"fault, {self.replayed} of those answered from their record, "
            f"{self.unavailable} answers 503"
        )


def _env(url: str, settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": url,
        "JWT_SECRET": settings.jwt_secret,
        "EMBEDDED_WORKER": "false",
        "FANGFANPIN_DEMO": "1",
        "RATE_LIMITS": "false",
        "DATABASE_POOL_SIZE": "10",
    }


async def test_kill_minus_nine_under_writes_loses_and_doubles_nothing(
    postgres_api: Api, tmp_path: Path
) -> None:
    env = _env(postgres_api.settings.database_url, postgres_api.settings)
    port = free_port()
    server = _serve(port, env)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        load = Load(client, postgres_api.settings)

        async def kill() -> None:
            nonlocal server
            os.kill(server.pid, signal.SIGKILL)
            server.wait()
            server = _serve(port, env)
            await _until_up(client)

        try:
            await _until_up(client)
            await load.open_cases()
            await load.under(kill, times=3)
            await load.check(env, tmp_path / "bundle")
        finally:
            server.terminate()
            server.wait(timeout=10)


async def test_a_postgresql_restart_under_writes_is_survived(tmp_path: Path) -> None:
    """The database crashes and comes back (on a private cluster, never the shared one); the
    service, never restarted, answers 503 meanwhile and carries on once it is back."""
    if not HAS_INITDB:
        if REQUIRE_POSTGRES:
            pytest.fail("PostgreSQL's server programs are needed for the restart test")
        pytest.skip("PostgreSQL's server programs (initdb, pg_ctl) are not installed")
    cluster = Clusters()
    try:
        await asyncio.to_thread(cluster.up, replica=False)
        url = cluster.url(0)
        await asyncio.to_thread(migrations.upgrade, url)
        engine = make_engine(url)
        async with make_sessionmaker(engine)() as session, session.begin():
            await load_demo_areas(session)
        await engine.dispose()
        settings = Settings(database_url=url, jwt_secret="test-secret-" + "x" * 32)
        env = _env(url, settings)
        port = free_port()
        server = _serve(port, env)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            load = Load(client, settings)

            async def restart() -> None:
                await asyncio.to_thread(cluster.stop, cluster.primary)
                await asyncio.sleep(0.3)  # requests meet the database gone
                await asyncio.to_thread(cluster.start, cluster.primary, cluster.ports[0])

            try:
                await _until_up(client)
                await load.open_cases()
                await load.under(restart, times=2)
                assert server.poll() is None, "the service died with its database"
                assert load.unavailable > 0, "no request met the database down"
                await load.check(env, tmp_path / "bundle")
            finally:
                server.terminate()
                server.wait(timeout=10)
    finally:
        await asyncio.to_thread(cluster.down)
