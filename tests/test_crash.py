"""kill -9 of the API while clients write, repeated: no acknowledged write is lost, none is
doubled, every case replays clean, and an auditor's bundle of the whole log verifies offline.

Eight clients each record facts on their own case as fast as the server answers, every write
with its own ``Idempotency-Key``. The server is killed (SIGKILL) three times under that load
and started again; a client whose request got no answer sends it again, same key and body,
until it is answered, as the API tells clients to. Afterwards each key's write is in the trail
exactly once: the ones that committed before the kill are replayed from their record, the
ones that did not run for the first time.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from app.auth.tokens import mint
from app.households.idnumber import make as make_id_number
from tests.conftest import REPOSITORY, free_port, run_cli
from tests.helpers import APPLICATION, Api
from workflows.calendar import local_date
from workflows.vocabulary import Role

CLIENTS = 8
KILLS = 3


def _serve(port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app.main:app", "--port", str(port),
         "--log-level", "warning"], env=env, cwd=REPOSITORY,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip


async def _until_up(client: httpx.AsyncClient) -> None:
    for _ in range(300):
        try:
            if (await client.get("/ready")).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.05)
    raise AssertionError("the API did not come up")


async def test_kill_minus_nine_under_writes_loses_and_doubles_nothing(
    postgres_api: Api, tmp_path: Path
) -> None:
    api = postgres_api
    env = {**os.environ, "DATABASE_URL": api.settings.database_url,
           "JWT_SECRET": api.settings.jwt_secret, "EMBEDDED_WORKER": "false",
           "FANGFANPIN_DEMO": "1", "RATE_LIMITS": "false", "DATABASE_POOL_SIZE": "10"}  # fmt: skip
    now = datetime.now(UTC)
    today = local_date(now).isoformat()

    def bearer(sub: str, role: Role, area: str) -> dict[str, str]:
        token = mint(api.settings, sub=sub, role=role, area=area, now=now, ttl=timedelta(hours=1))
        return {"Authorization": f"Bearer {token}"}

    cadre = bearer("cadre.pinggang", Role.village_cadre, "220281102200")
    port = free_port()
    server = _serve(port, env)
    acknowledged: Counter[str] = Counter()
    replayed = 0
    retried = 0
    stop = asyncio.Event()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        try:
            await _until_up(client)
            cases = []
            for serial in range(CLIENTS):
                number = make_id_number(f"220281196001{serial + 1:02d}{serial:03d}")
                opened = await client.post("/api/v1/cases", headers=cadre, json={
                    "channel": "self_declared", "application_sha256": APPLICATION,
                    "household": {"head_name": "王德福", "head_id_number": number,
                                  "village_code": "220281102200", "size": 3}})  # fmt: skip
                assert opened.status_code == 201, opened.text
                case_id = opened.json()["id"]
                moved = await client.post(
                    f"/api/v1/cases/{case_id}/actions/start_village_review",
                    headers={**cadre, "If-Match": '"1"'},
                )
                assert moved.status_code == 200, moved.text
                cases.append(case_id)

            async def write(case_id: str, index: int) -> None:
                nonlocal replayed, retried
                n = 0
                while not stop.is_set():
                    key = f"c{index}-{n}"
                    body = {"verified_on": today, "verified_by": [f"核实员 {key}"],
                            "household_size": 3, "wage_income": "9000.00",
                            "business_income": "0", "property_income": "0",
                            "transfer_income": "0", "business_expense": "0",
                            "compliant_out_of_pocket": "0", "large_rigid_spending": False,
                            "guarantees": dict.fromkeys(
                                ("food_and_clothing", "compulsory_education",
                                 "basic_medical_care", "housing_safety", "drinking_water"),
                                True)}  # fmt: skip
                    attempts = 0
                    while True:  # the same key and body until the server answers
                        attempts += 1
                        try:
                            answer = await client.post(
                                f"/api/v1/cases/{case_id}/household-verifications",
                                headers={**cadre, "Idempotency-Key": key}, json=body)  # fmt: skip
                        except httpx.HTTPError:
                            await asyncio.sleep(0.05)  # the server is down: ask again
                            continue
                        if answer.status_code == 409 and (
                            answer.json()["code"] == "idempotency_key_in_flight"
                        ):
                            continue
                        assert answer.status_code == 201, answer.text
                        break
                    acknowledged[key] += 1
                    replayed += answer.headers.get("idempotent-replayed") == "true"
                    retried += attempts > 1
                    n += 1

            writers = [asyncio.create_task(write(c, i)) for i, c in enumerate(cases)]
            for _ in range(KILLS):
                await asyncio.sleep(0.8)  # let writes pile up in flight
                os.kill(server.pid, signal.SIGKILL)
                server.wait()
                server = _serve(port, env)
                await _until_up(client)
            await asyncio.sleep(0.5)
            stop.set()
            await asyncio.gather(*writers)

            # every acknowledged key once in the trail: none lost, none doubled
            auditor = bearer("auditor.jiaohe", Role.auditor, "220281")
            in_trail: Counter[str] = Counter()
            for case_id in cases:
                events = (await client.get(f"/api/v1/cases/{case_id}/events",
                                           headers=auditor)).json()  # fmt: skip
                for event in events:
                    if event["name"] == "household_verification":
                        in_trail[event["payload"]["verified_by"][0].split(" ", 1)[1]] += 1
                replay = (await client.get(f"/api/v1/cases/{case_id}/replay",
                                           headers=auditor)).json()  # fmt: skip
                assert replay["matches"] and replay["chain_valid"], replay
                assert replay["facts_match"] and replay["all_steps_legal"], replay
        finally:
            stop.set()
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
    assert sum(acknowledged.values()) > 50, acknowledged
    assert set(acknowledged.values()) == {1}
    assert in_trail == acknowledged, (in_trail - acknowledged, acknowledged - in_trail)
    assert retried > 0, "no write was in flight at a kill: the test proved nothing"
    # the log, sequenced and checkpointed, verifies offline
    cli_env = {**env, "FANGFANPIN_DEMO": "1"}
    run_cli("audit", "bundle", str(tmp_path / "bundle"), env=cli_env)
    verified = run_cli("audit", "verify", str(tmp_path / "bundle"), env=cli_env)
    assert "OK: every check passed" in verified, verified
    print(
        f"{sum(acknowledged.values())} writes, {retried} retried after a kill, "
        f"{replayed} of those answered from their record"
    )
