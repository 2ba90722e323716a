"""Reads and openings over HTTP against PostgreSQL: a case, its actions, the inbox of 100,000
open cases, and opening a case with its household.

    python -m bench.reads [--duration 10] [--open-cases 100000] [--workers 1] [--record]

A fresh database (``BENCH_DATABASE_URL``) is migrated with the demo areas; 64 cases are
brought through the API to the city (half returned to the township), then copied in SQL into
``--open-cases`` open cases of one township (households and cases; their trails are not
needed by these reads). The API runs as a separate uvicorn process, driven by wrk
(``bench/reads.lua``) at 8 connections: ``GET /cases/{id}`` and ``GET /cases/{id}/actions``
over those cases, ``POST /cases`` with a new household each time (and an
``Idempotency-Key`` of its own, as the console sends), and ``GET /health``, the floor
(:data:`FLOOR`). The inbox is asked by
the township official, one request at a time, and timed. ``--record`` appends the results
to ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.cases.models import Case as CaseRow
from app.households.models import Household
from bench.transitions import (
    BUREAU,
    BUREAU_TOKEN,
    CADRE,
    DEFAULT_URL,
    HERE,
    TOWNSHIP,
    TOWNSHIP_TOKEN,
    Run,
    demo_database,
    machine,
    peak_rss_mib,
    prepare,
    publish,
    run_wrk,
    server_settings,
    start_server,
    wait_ready,
)

CADRE_TOKEN = CADRE["Authorization"].removeprefix("Bearer ")
"""The village cadre opens the cases."""


async def return_half(base_url: str, cases: list[Any]) -> None:
    """Half the prepared cases back to the township: the official's inbox has work."""
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        for case in cases[::2]:
            answer = await client.post(
                f"/api/v1/cases/{case.id}/actions/return_to_township",
                json={"reason": "补充材料"},
                headers={**BUREAU, "If-Match": f'"{case.version}"'},
            )
            answer.raise_for_status()


async def multiply(url: str, total: int) -> int:
    """Copy the cases there are into ``total`` open cases (and their households), in SQL."""
    engine = create_async_engine(url)
    household = [c.name for c in Household.__table__.columns]
    case = [c.name for c in CaseRow.__table__.columns]
    fresh_household = {"id": "md5(h.id || n)", "head_id_digest": "md5(h.head_id_digest || n)"}
    fresh_case = {"id": "md5(c.id || n)", "household_id": "md5(c.household_id || n)"}
    async with engine.begin() as connection:
        have = int(await connection.scalar(text("SELECT count(*) FROM monitoring_case")))
        copies = max(0, total // have - 1)
        await connection.execute(
            text(
                f"INSERT INTO household ({', '.join(household)}) SELECT "
                + ", ".join(fresh_household.get(name, f"h.{name}") for name in household)
                + f" FROM household h, generate_series(1, {copies}) AS n"
            )
        )
        await connection.execute(
            text(
                f"INSERT INTO monitoring_case ({', '.join(case)}) SELECT "
                + ", ".join(fresh_case.get(name, f"c.{name}") for name in case)
                + f" FROM monitoring_case c, generate_series(1, {copies}) AS n"
            )
        )
        count = int(await connection.scalar(text("SELECT count(*) FROM monitoring_case")))
    # as autovacuum leaves a table some time after a bulk load: statistics and visibility map
    async with engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.execute(text("VACUUM ANALYZE household"))
        await autocommit.execute(text("VACUUM ANALYZE monitoring_case"))
    await engine.dispose()
    return count


async def inbox_times(base_url: str, rounds: int) -> tuple[list[float], int]:
    """The township official's inbox, asked ``rounds`` times in turn after a first time:
    seconds each (the first one first), and the number of cases it reports. The first one
    meets the copied cases' pages outside PostgreSQL's buffers and its statements not yet
    prepared on the connection, as a process's first inbox after the copy would; it is
    reported apart from the others."""
    times, total = [], 0
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        for _ in range(rounds + 1):
            started = time.perf_counter()
            answer = await client.get("/api/v1/inbox", headers=TOWNSHIP)
            times.append(time.perf_counter() - started)
            answer.raise_for_status()
            total = int(answer.json()["total"])
    return times, total


FLOOR = "GET /health (the floor)"
"""A request that does nothing (no token to check, no database): what uvicorn, the
middlewares and FastAPI cost a request on this host, and so the part of a read of a case
that no change to the read's own work can remove. Hosts here differ in pace by a factor of
two, and the floor says which kind of host a run was on."""


def report(
    runs: dict[str, Run],
    inbox: tuple[list[float], int],
    count: int,
    peak: float,
    pg: dict[str, str],
    args: Any,
) -> str:
    rows = [
        f"| {name} | {run.tps:.0f} | {run.percentile(0.5):.1f} | {run.percentile(0.99):.1f} | "
        f"{run.cpu_ms(run.server_cpu):.2f} | {run.errors} |"
        for name, run in runs.items()
    ]
    (first, *times), total = inbox
    floor = ""
    if FLOOR in runs and "GET /cases/{id}" in runs:
        floor_run, read = runs[FLOOR], runs["GET /cases/{id}"]
        share = floor_run.cpu_ms(floor_run.server_cpu) / read.cpu_ms(read.server_cpu)
        floor = (
            f"The floor (`GET /health`: no token to check, no database) costs {share:.0%} of "
            "the server's CPU a read of a case costs. "
        )
    return "\n".join(
        [
            f"### Reads and openings over HTTP — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
            "",
            f"Machine: {machine()}. PostgreSQL {pg['server_version']} on the same machine. "
            f"API: uvicorn, {args.workers} worker(s), a JSON log line a request (as "
            "`fangfanpin serve`); load from wrk (bench/reads.lua), "
            f"8 connections, {args.duration:.0f} s each. {count:,} open cases in the database.",
            "",
            "| request | per second | p50 ms | p99 ms | server CPU ms/request | failed |",
            "|---|---:|---:|---:|---:|---:|",
            *rows,
            "",
            f"{floor}Inbox of the township official ({total:,} cases in it, first page of 100), "
            f"{len(times)} requests in turn after a first one ({first * 1000:.1f} ms): "
            f"median {statistics.median(times) * 1000:.1f} ms, "
            f"slowest {max(times) * 1000:.1f} ms. API server peak memory (VmHWM): "
            f"{peak:.0f} MiB.",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--open-cases", type=int, default=100_000)
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--record", action="store_true", help="append to bench/RESULTS.md")
    args = parser.parse_args()

    demo_database(args.database_url)
    pg = asyncio.run(server_settings(args.database_url))
    server = start_server(args.database_url, args.port, args.workers)
    try:
        base = f"http://127.0.0.1:{args.port}"
        wait_ready(args.port)
        cases = asyncio.run(prepare(base, args.database_url, 64))
        asyncio.run(return_half(base, cases))
        count = asyncio.run(multiply(args.database_url, args.open_cases))
        print(f"{count:,} open cases", flush=True)
        ids = ",".join(c.id for c in cases)
        runs = {}
        for name, mode, env in (
            ("GET /cases/{id}", "case", {"BENCH_TOKEN": BUREAU_TOKEN, "BENCH_CASES": ids}),
            (
                "GET /cases/{id}/actions",
                "actions",
                {"BENCH_TOKEN": TOWNSHIP_TOKEN, "BENCH_CASES": ids},
            ),
            (
                "POST /cases (opening)",
                "open",
                {"BENCH_TOKEN": CADRE_TOKEN, "BENCH_RUN": uuid.uuid4().hex},
            ),
            (FLOOR, "floor", {}),
        ):
            print(f"wrk: {name}", flush=True)
            run = run_wrk(
                HERE / "reads.lua", {**env, "BENCH_MODE": mode}, base, 8, args.duration, server.pid
            )
            runs[name] = run
            print(
                f"  {run.tps:8.1f}/s  p50 {run.percentile(0.5):.1f} ms  server CPU "
                f"{run.cpu_ms(run.server_cpu):.2f} ms  errors {run.errors}"
            )
        inbox = asyncio.run(inbox_times(base, 20))
        print(f"inbox: median {statistics.median(inbox[0][1:]) * 1000:.1f} ms", flush=True)
        peak = peak_rss_mib(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    publish(report(runs, inbox, count, peak, pg, args), record=args.record)


if __name__ == "__main__":
    main()
