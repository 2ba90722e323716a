"""Case writes per second over HTTP against PostgreSQL, with pgbench's ceiling beside it (or
against the embedded SQLite, given a ``sqlite+aiosqlite:///`` URL).

    python -m bench.transitions [--duration 10] [--clients 1,8,32] [--record]

A fresh database (``BENCH_DATABASE_URL``, created if missing) is migrated; the API runs as a
separate uvicorn process; cases are brought to city confirmation through the API, with a
department's snapshot holding every case's head loaded first (so each submission's data
comparison finds a record, as in service: :func:`upload_department_data`), then each
client fires ``return_to_township`` / ``submit_to_city`` on its own cases for the duration
(each a real, rule-checked transition with its chained event), with the township's answer to
the return recorded in between as the rules require. Every write carries an
``Idempotency-Key`` of its own, as the console sends with every write, so its record is part
of each write's work. The ceiling is pgbench running ``bench/transition.sql`` — the statements
those writes send, in the same mix (the case's read, then one statement, its own transaction,
with the move, its event, a new entry in each of the case's indexes, and the key's record
holding the answer; in one write of three, the resubmission, the data comparison's read and a
second event), with facts of the service's size — at the same client counts against the same
server with the same durability settings. ``--record`` appends the results to
``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import json
import os
import platform
import re
import resource
import shutil
import sqlite3
import subprocess
import sys
import sysconfig
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import bindparam, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from app import migrations
from app.auth.tokens import mint
from app.core.config import Settings
from app.core.db import is_sqlite
from app.core.observability import LOG_CONFIG
from app.core.serving import HTTP
from app.households.idnumber import make as make_id_number
from workflows.calendar import local_date
from workflows.vocabulary import Role

HERE = Path(__file__).resolve().parent
SECRET = "bench-secret-" + "b" * 40
DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/fangfanpin_bench"
VILLAGE = "220281102200"


@dataclass
class Case:
    id: str
    version: int
    state: str = "city_confirmation"
    head_id_number: str = ""


@dataclass
class Run:
    clients: int
    count: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    server_cpu: float = 0.0
    """CPU seconds the API server process used during the run."""
    client_cpu: float = 0.0
    """CPU seconds the load generator used during the run."""
    database_cpu: float | None = None
    """CPU seconds PostgreSQL's processes on this machine used during the run (none where
    it runs elsewhere, or for the embedded SQLite, which runs in the server's process)."""

    def cpu_ms(self, seconds: float) -> float:
        return seconds / self.count * 1000 if self.count else 0.0

    @property
    def tps(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    fixed_percentiles: dict[float, float] = field(default_factory=dict)
    """Percentiles (ms) a load generator reported itself (wrk), instead of latencies."""

    def percentile(self, p: float) -> float:
        if p in self.fixed_percentiles:
            return self.fixed_percentiles[p]
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000 if ordered else 0.0


# --- database and server -----------------------------------------------------------------------


async def fresh_database(url: str) -> None:
    parsed = make_url(url)
    if is_sqlite(url):  # the embedded database: a new file
        for leftover in ("", "-wal", "-shm"):
            Path(f"{parsed.database}{leftover}").unlink(missing_ok=True)  # noqa: ASYNC240
        return
    admin = create_async_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        exists = await connection.scalar(
            text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": parsed.database}
        )
        if not exists:
            await connection.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    await admin.dispose()
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        await connection.execute(text("DROP SCHEMA public CASCADE"))
        await connection.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


def demo_database(url: str) -> None:
    """A fresh database at ``url``, migrated, with the demo's areas and users."""
    asyncio.run(fresh_database(url))
    migrations.upgrade(url)
    subprocess.run(
        [sys.executable, "-m", "app.cli", "demo"],
        check=True,
        capture_output=True,
        env={**os.environ, "DATABASE_URL": url},
    )


def publish(text_report: str, *, record: bool) -> None:
    """Print a benchmark's report; with ``record``, append it to bench/RESULTS.md."""
    print()
    print(text_report)
    if record:
        with (HERE / "RESULTS.md").open("a") as results:
            results.write("\n" + text_report)


async def server_settings(url: str) -> dict[str, str]:
    if is_sqlite(url):
        with sqlite3.connect(str(make_url(url).database)) as connection:
            journal = connection.execute("PRAGMA journal_mode").fetchone()[0]
        # the service's own connections (app.core.db) set WAL and leave synchronous at its
        # default, FULL in this build unless the pragma says otherwise on them
        return {"server_version": f"SQLite {sqlite3.sqlite_version}", "journal_mode": journal}
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        names = (
            "server_version",
            "synchronous_commit",
            "fsync",
            "wal_sync_method",
            "shared_buffers",
        )
        values = {n: str(await connection.scalar(text(f"SHOW {n}"))) for n in names}
    await engine.dispose()
    return values


POOL = 20
"""The server's pool when no more than this many requests come at once."""


def keyed(headers: dict[str, str]) -> dict[str, str]:
    """``headers`` with an ``Idempotency-Key`` of their own, as the console sends with every
    write and opening: its record is part of the request's work."""
    return {**headers, "Idempotency-Key": uuid.uuid4().hex}


UNREACHED = 10**9
"""The benchmarks' servers keep the rate limits on, as a deployment does (``RATE_LIMITS``), so
their cost is counted in every request, but each at this many a minute, far above any rate a
benchmark reaches: a few users writing a thousand times a second would be refused at the
limits a deployment sets for one person."""
UNREACHED_LIMITS = {
    "RATE_LIMITS": "true",
    "RATE_WRITES_PER_MINUTE": str(UNREACHED),
    "RATE_INTAKE_PER_MINUTE": str(UNREACHED),
    "RATE_AUTH_FAILURES_PER_MINUTE": str(UNREACHED),
}
""":data:`UNREACHED` as the servers' environment."""


def start_server(url: str, port: int, workers: int, at_once: int = POOL) -> subprocess.Popen[bytes]:
    """The API under uvicorn, its pool sized for ``at_once`` requests at a time as
    ``deploy/README.md`` advises (no fewer than :data:`POOL` connections), logging as
    ``fangfanpin serve`` does (``LOG_CONFIG``: a JSON line a request), to a file, its rate
    limits counting but out of reach (:data:`UNREACHED_LIMITS`), and sending its answers as
    it does (``app.core.serving``)."""
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "JWT_SECRET": SECRET,
        "DATABASE_POOL_SIZE": str(max(POOL, at_once)),
        **UNREACHED_LIMITS,
    }
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "app.main:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-config",
        str(_LOGS / "log-config.json"),
        "--no-access-log",  # (as `fangfanpin serve`)
        "--http",
        HTTP,  # (as `fangfanpin serve`)
    ]
    (_LOGS / "log-config.json").write_text(json.dumps(LOG_CONFIG))
    with (_LOGS / f"server-{port}.log").open("ab") as log:
        return subprocess.Popen(command, env=env, cwd=HERE.parent, stderr=log)


_LOGS = Path(os.environ.get("BENCH_LOGS") or tempfile.mkdtemp(prefix="fangfanpin-bench-"))
"""Where the benchmarks' servers write their logs (``server-PORT.log``): ``BENCH_LOGS`` to
keep them, else a directory removed when the benchmark ends."""
if not os.environ.get("BENCH_LOGS"):
    atexit.register(shutil.rmtree, _LOGS, ignore_errors=True)


def wait_ready(port: int, seconds: float = 30) -> None:
    """Until the server on ``port`` answers ready (schema at head), or ``seconds`` pass."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process and its children (uvicorn workers)."""
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    ticks = 0
    for each in pids:
        fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def database_cpu_seconds() -> float | None:
    """User plus system CPU time of every PostgreSQL process on this machine (its backends,
    WAL writer, checkpointer..., and those that ended), or None where there is none: the
    database's share of a run, read beside the server's. Its cost a transaction is not
    fixed: pgbench's own statements cost PostgreSQL's processes about 0.2 ms a transaction
    at 7,000 a second and 0.47 ms at 1,400 (``-R 1400``), so the API's figure is read
    against pgbench's at a like rate (``bench/RESULTS.md``, 2026-12-03).

    A backend that ends is reaped by the postmaster, whose children's time then holds its
    own; one reaped while /proc is read may be counted twice or not at all (the postmaster
    read before it, and the backend gone by its turn: once a second of CPU lost, which left
    a pgbench run's database time at nothing). So /proc is read until two readings in a row
    saw the same processes with the same children's time: none was reaped meanwhile."""
    last = _postgres_processes()
    for _ in range(100):
        now = _postgres_processes()
        if {pid: c for pid, (_, c) in now.items()} == {pid: c for pid, (_, c) in last.items()}:
            break
        last = now
    if not now:
        return None
    ticks = sum(own + children for own, children in now.values())
    return ticks / os.sysconf("SC_CLK_TCK")


def _postgres_processes() -> dict[int, tuple[int, int]]:
    """Each PostgreSQL process's own CPU ticks and its ended children's, by pid."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # gone meanwhile, or not ours to read
            continue
        name, rest = stat.split("(", 1)[1].rsplit(")", 1)
        if name.startswith("postgres"):
            fields = rest.split()  # utime, stime; cutime, cstime: its children's it has
            # waited for (a backend that ended, pgbench's at the end of its run, counts there)
            found[int(entry.name)] = (
                int(fields[11]) + int(fields[12]),
                int(fields[13]) + int(fields[14]),
            )
    return found


def _spent(before: float | None) -> float | None:
    after = database_cpu_seconds()
    return None if before is None or after is None else max(after - before, 0.0)


def peak_rss_mib(pid: int) -> float:
    """Peak resident memory (VmHWM) of a process and its children, MiB."""
    total = 0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for each in pids:
        status = Path(f"/proc/{each}/status").read_text()
        match = re.search(r"VmHWM:\s+(\d+) kB", status)
        total += int(match.group(1)) if match else 0
    return total / 1024


# --- the HTTP load -----------------------------------------------------------------------------


def headers(user: str, role: Role, area: str) -> dict[str, str]:
    settings = Settings(jwt_secret=SECRET)
    token = mint(
        settings, sub=user, role=role, area=area, now=datetime.now(UTC), ttl=timedelta(hours=2)
    )
    return {"Authorization": f"Bearer {token}"}


TODAY = local_date(datetime.now(UTC)).isoformat()
"""The server runs on the wall clock: facts are dated its today (Asia/Shanghai)."""
VERIFICATION = {
    "verified_on": TODAY,
    "verified_by": ["张书记"],
    "household_size": 4,
    "wage_income": "12000.00",
    "business_income": "0",
    "property_income": "0",
    "transfer_income": "3000",
    "business_expense": "0",
    "compliant_out_of_pocket": "15000",
    "large_rigid_spending": True,
    "guarantees": dict.fromkeys(
        (
            "food_and_clothing",
            "compulsory_education",
            "basic_medical_care",
            "housing_safety",
            "drinking_water",
        ),
        True,
    ),
}
CADRE = headers("cadre.pinggang", Role.village_cadre, VILLAGE)
COMMITTEE = headers("committee.pinggang", Role.village_committee, VILLAGE)
TOWNSHIP = headers("township.baishishan", Role.township_official, VILLAGE[:9])
BUREAU = headers("bureau.jiaohe", Role.city_bureau, "220281")
TOWNSHIP_TOKEN = TOWNSHIP["Authorization"].removeprefix("Bearer ")
BUREAU_TOKEN = BUREAU["Authorization"].removeprefix("Bearer ")


async def prepare_case(client: httpx.AsyncClient, serial: int) -> Case:
    """A case through the API up to its public notice (finished by finish_preparation)."""

    async def post(path: str, body: Any, who: dict[str, str], version: int | None = None) -> Any:
        extra = {"If-Match": f'"{version}"'} if version is not None else {}
        response = await client.post(path, json=body, headers={**who, **extra})
        response.raise_for_status()
        return response.json()

    born = datetime(1950, 1, 1) + timedelta(days=serial)  # one household head per birth date
    id_number = make_id_number(f"220281{born:%Y%m%d}001")
    case = await post(
        "/api/v1/cases",
        {
            "channel": "self_declared",
            "application_sha256": "c" * 64,
            "household": {
                "head_name": "王德福",
                "head_id_number": id_number,
                "village_code": VILLAGE,
                "size": 4,
            },
        },
        CADRE,
    )
    base = f"/api/v1/cases/{case['id']}"
    await post(f"{base}/actions/start_village_review", None, CADRE, 1)
    await post(
        f"{base}/commitment-forms",
        {
            "signatory_name": "王德福",
            "signed_on": TODAY,
            "document_sha256": "a" * 64,
            "covered_member_id_numbers": [id_number],
        },
        CADRE,
    )
    await post(f"{base}/household-verifications", VERIFICATION, CADRE)
    await post(
        f"{base}/reviews",
        {
            "held_on": TODAY,
            "eligible_members": 30,
            "present": 21,
            "votes_for": 15,
            "votes_against": 4,
            "abstentions": 2,
            "minutes_sha256": "b" * 64,
        },
        COMMITTEE,
    )
    await post(f"{base}/actions/publish_notice", None, COMMITTEE, 5)
    return Case(case["id"], 6, "public_notice", id_number)


DEPARTMENT_OTHERS = 5_000
"""People in the benchmark's department snapshot beside the cases' heads."""


async def upload_department_data(client: httpx.AsyncClient, cases: list[Case]) -> None:
    """A department snapshot (vehicle registrations) holding every case's head among
    :data:`DEPARTMENT_OTHERS` other people, as the city's data holds its households: each
    submission's data comparison then finds a record, as it would in service (with no
    department data it reads nothing and finds nothing)."""
    others = (
        make_id_number(f"220282{date(1940, 1, 1) + timedelta(days=i // 10):%Y%m%d}{i % 10:03d}")
        for i in range(DEPARTMENT_OTHERS)
    )
    people = [*(case.head_id_number for case in cases), *others]
    records = [{"id_number": person, "attributes": {"count": 1}} for person in people]
    response = await client.post(
        "/api/v1/department-data/vehicles/snapshots", json={"records": records}, headers=BUREAU
    )
    response.raise_for_status()


async def finish_preparation(url: str, client: httpx.AsyncClient, cases: list[Case]) -> None:
    """Age the notices in the database (as if five days had passed), load the department
    data the comparison reads, then go to the city."""
    await upload_department_data(client, cases)
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        # The notice's publication time is in the facts the rules read; the events keep theirs.
        if is_sqlite(url):
            aged = (datetime.now(UTC) - timedelta(days=10)).isoformat()
            await connection.execute(
                text(
                    "UPDATE monitoring_case SET facts = json_set(facts, "
                    "'$.procedures.identification.notice.published_at', :aged)"
                ),
                {"aged": aged},
            )
        else:
            await connection.execute(
                text(
                    "UPDATE monitoring_case SET facts = jsonb_set(facts::jsonb, "
                    "'{procedures,identification,notice,published_at}', "
                    "to_jsonb((now() - interval '10 days')::text))::json"
                )
            )
    await engine.dispose()

    async def advance(case: Case) -> None:
        for action, who, body in (
            ("submit_to_township", COMMITTEE, None),
            (
                "home-visits",
                TOWNSHIP,
                {
                    "visited_by": ["李"],
                    "visited_on": TODAY,
                    "findings": "属实",
                    "opinion": "同意",
                },
            ),
            ("submit_to_city", TOWNSHIP, None),
        ):
            if action == "home-visits":
                response = await client.post(
                    f"/api/v1/cases/{case.id}/home-visits", json=body, headers=who
                )
            else:
                response = await client.post(
                    f"/api/v1/cases/{case.id}/actions/{action}",
                    headers={**who, "If-Match": f'"{case.version}"'},
                )
            response.raise_for_status()
            case.version = int(response.headers["etag"].strip('"'))
        case.state = "city_confirmation"

    await gather_bounded([advance(c) for c in cases], 16)


async def gather_bounded(jobs: list[Any], limit: int) -> list[Any]:
    semaphore = asyncio.Semaphore(limit)

    async def one(job: Any) -> Any:
        async with semaphore:
            return await job

    return await asyncio.gather(*(one(job) for job in jobs))


async def drive(client: httpx.AsyncClient, cases: list[Case], run: Run, stop_at: float) -> None:
    index = 0
    while time.perf_counter() < stop_at:
        case = cases[index % len(cases)]
        index += 1
        # The cycle: the city returns the case, the township answers the return (a recorded
        # fact), the township resubmits (the data comparison runs again). Each is one
        # rule-checked write appending a chained event, like the statements pgbench runs.
        if case.state == "city_confirmation":
            path, who, body = "actions/return_to_township", BUREAU, {"reason": "补充材料"}
            target = "returned"
        elif case.state == "returned":
            path, who, body = "return-responses", TOWNSHIP, {"response": "已补充"}
            target = "township_verification"
        else:
            path, who, body, target = "actions/submit_to_city", TOWNSHIP, None, "city_confirmation"
        started = time.perf_counter()
        response = await client.post(
            f"/api/v1/cases/{case.id}/{path}",
            json=body,
            headers=keyed({**who, "If-Match": f'"{case.version}"'}),
        )
        run.latencies.append(time.perf_counter() - started)
        if response.status_code in (200, 201):
            run.count += 1
            case.version, case.state = int(response.headers["etag"].strip('"')), target
        else:
            run.errors += 1


async def prepare(base_url: str, db_url: str, total: int) -> list[Case]:
    """``total`` cases through the API up to the city's confirmation."""
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        print(f"preparing {total} cases through the API", flush=True)
        cases = await gather_bounded([prepare_case(client, i) for i in range(total)], 16)
        await finish_preparation(db_url, client, cases)
    return cases


async def http_runs(
    base_url: str,
    db_url: str,
    clients: list[int],
    cases: list[Case],
    duration: float,
    server_pid: int,
) -> list[Run]:
    await case_positions(db_url, cases)
    limits = httpx.Limits(max_connections=max(clients) + 4, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as client:
        runs = []
        for count in clients:
            print(
                f"driving {count} client(s) for {duration:.0f} s (server pid {server_pid})",
                flush=True,
            )
            run = Run(count)
            shares = [cases[i::count] for i in range(count)]
            server_before, client_before = cpu_seconds(server_pid), time.process_time()
            database_before = database_cpu_seconds()
            started = time.perf_counter()
            stop_at = started + duration
            await asyncio.gather(*(drive(client, share, run, stop_at) for share in shares))
            run.seconds = time.perf_counter() - started
            run.server_cpu = cpu_seconds(server_pid) - server_before
            run.client_cpu = time.process_time() - client_before
            run.database_cpu = _spent(database_before)
            runs.append(run)
            print(
                f"http  clients={count:>2}  {run.tps:8.1f} tps  p50 {run.percentile(0.5):6.1f} ms"
                f"  p99 {run.percentile(0.99):6.1f} ms  errors {run.errors}  server CPU "
                f"{run.cpu_ms(run.server_cpu):.2f} ms/tx  load generator CPU "
                f"{run.cpu_ms(run.client_cpu):.2f} ms/tx  database CPU "
                f"{_ms(run, run.database_cpu)} ms/tx"
            )
        return runs


# --- the same load from wrk ---------------------------------------------------------------------


async def case_positions(url: str, cases: list[Case]) -> None:
    """Each case's version and state as the database has them (after a run moved them)."""
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT c.id, c.version, c.state, e.name AS last FROM monitoring_case c "
                "JOIN case_event e ON e.case_id = c.id AND e.seq = c.version "
                "WHERE c.id IN :ids"
            ).bindparams(bindparam("ids", expanding=True)),
            {"ids": [c.id for c in cases]},
        )
        found = {row.id: row for row in rows}
    await engine.dispose()
    for case in cases:
        row = found[case.id]
        # a returned case waits in township_verification for the township's answer first
        case.version = row.version
        case.state = "returned" if row.last == "return_to_township" else row.state


async def settled_positions(url: str, cases: list[Case]) -> None:
    """The cases' positions once the server has finished what the last run left in flight
    (wrk stops waiting at its deadline; a queued write may still commit after it)."""
    await case_positions(url, cases)
    while True:
        before = [(c.version, c.state) for c in cases]
        await asyncio.sleep(0.5)
        await case_positions(url, cases)
        if [(c.version, c.state) for c in cases] == before:
            return


def wrk_runs(
    base_url: str,
    db_url: str,
    clients: list[int],
    cases: list[Case],
    duration: float,
    server_pid: int,
    warm_up: float = 0.0,
) -> list[Run]:
    """The transitions driven by wrk (C, two threads as pgbench has, bench/transitions.lua):
    the load generator's own CPU stays small beside the server's on the same cores. First
    ``warm_up`` seconds at the largest client count, not counted: the server's pool opens
    its connections then (each new one costs PostgreSQL 15-40 ms of asyncpg's type
    introspection under load), so the runs measure the service as it serves, not its start."""
    if warm_up > 0:
        asyncio.run(settled_positions(db_url, cases))
        count = max(clients)
        print(f"wrk warming up with {count} connection(s) for {warm_up:.0f} s", flush=True)
        run = _drive(base_url, count, cases, warm_up, server_pid)
        if run.errors:
            raise SystemExit(f"the warm-up's writes failed: {run.errors} of {run.count}")
    runs = []
    for count in clients:
        asyncio.run(settled_positions(db_url, cases))
        print(f"wrk driving {count} connection(s) for {duration:.0f} s", flush=True)
        run = _drive(base_url, count, cases, duration, server_pid)
        runs.append(run)
        print(
            f"wrk   clients={count:>2}  {run.tps:8.1f} tps  p50 {run.percentile(0.5):6.1f} ms"
            f"  p99 {run.percentile(0.99):6.1f} ms  errors {run.errors}  server CPU "
            f"{run.cpu_ms(run.server_cpu):.2f} ms/tx  load generator CPU "
            f"{run.cpu_ms(run.client_cpu):.2f} ms/tx  database CPU "
            f"{_ms(run, run.database_cpu)} ms/tx"
        )
    return runs


def _drive(base_url: str, count: int, cases: list[Case], seconds: float, server_pid: int) -> Run:
    """One wrk run of bench/transitions.lua at ``count`` connections for ``seconds``."""
    threads = _threads(count)
    return run_wrk(
        HERE / "transitions.lua",
        _wrk_env(threads, cases),
        base_url,
        count,
        seconds,
        server_pid,
        threads,
    )


def _threads(connections: int) -> int:
    """wrk's threads for ``connections``: two where they divide evenly, as pgbench's ``-j``
    beside it (wrk gives each thread ``connections // threads``). One thread a connection,
    as before 2026-12-05, put 32 of wrk's threads on the two cores at 32 clients: its CPU a
    write rose from 0.04-0.05 ms to 0.07, and the server had less of the cores
    (``bench/RESULTS.md``, notes of 2026-12-05)."""
    return 2 if connections % 2 == 0 else 1


def _wrk_env(threads: int, cases: list[Case]) -> dict[str, str]:
    """What bench/transitions.lua reads: its threads, tokens and cases where they stand, and
    a name for the run that no other run's idempotency keys share."""
    return {
        "BENCH_RUN": uuid.uuid4().hex,
        "BENCH_THREADS": str(threads),
        "BENCH_TOWNSHIP": TOWNSHIP_TOKEN,
        "BENCH_BUREAU": BUREAU_TOKEN,
        "BENCH_CASES": ",".join(f"{c.id}:{c.version}:{c.state}" for c in cases),
    }


def run_wrk(
    script: Path,
    env: dict[str, str],
    base_url: str,
    connections: int,
    duration: float,
    server_pid: int,
    threads: int | None = None,
) -> Run:
    """One wrk run of ``script`` at ``connections`` over ``threads`` threads (one connection a
    thread unless given), with the server's CPU and wrk's own; the script's done() prints the
    line parsed here."""
    server_before = cpu_seconds(server_pid)
    database_before = database_cpu_seconds()
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run(
        [
            "wrk",
            "-t",
            str(threads or connections),
            "-c",
            str(connections),
            "-d",
            f"{duration:.0f}s",
            "--timeout",
            "30s",
            "-s",
            str(script),
            base_url,
        ],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    run = Run(connections)
    run.server_cpu = cpu_seconds(server_pid) - server_before
    run.database_cpu = _spent(database_before)
    run.client_cpu = (children.ru_utime - children_before.ru_utime) + (
        children.ru_stime - children_before.ru_stime
    )
    match = re.search(
        r"WRK requests=(\d+) status_errors=(\d+) socket_errors=(\d+) duration_us=(\d+) "
        r"p50_us=(\d+) p99_us=(\d+)",
        result.stdout,
    )
    if match is None:
        raise RuntimeError(f"wrk said: {result.stdout}\n{result.stderr}")
    requests, status_errors, socket_errors, micros, p50, p99 = map(int, match.groups())
    run.errors = status_errors + socket_errors
    run.count = requests - status_errors
    run.seconds = micros / 1e6
    run.fixed_percentiles = {0.5: p50 / 1000, 0.99: p99 / 1000}
    if result.stderr.strip():
        print(result.stderr.strip())
    return run


# --- the pgbench ceiling -----------------------------------------------------------------------


def pgbench_runs(url: str, clients: list[int], per_client: int, duration: float) -> list[Run]:
    """pgbench running ``bench/transition.sql`` at each client count, each client on its own
    ``per_client`` cases (as the API's clients are). Refused when the statements did not run
    as the service's do: a resubmission's data comparison that found no record, or a mix
    without resubmissions."""
    ncases = max(clients) * per_client
    parsed = make_url(url)
    conn = [
        "-h",
        parsed.host or "127.0.0.1",
        "-p",
        str(parsed.port or 5432),
        "-U",
        parsed.username or "postgres",
    ]
    subprocess.run(
        [
            "psql",
            *conn,
            "-d",
            str(parsed.database),
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-v",
            f"ncases={ncases}",
            "-f",
            str(HERE / "pgbench_setup.sql"),
        ],
        check=True,
    )
    found = _psql(
        conn,
        parsed.database,
        "SELECT count(*) FROM household h"
        " JOIN department_record r ON r.id_digest = h.head_id_digest WHERE h.id LIKE 'pgbh-%'",
    )
    if int(found) < ncases:
        raise SystemExit(f"pgbench's households have {found} department records, not {ncases}")
    runs = []
    for count in clients:
        with tempfile.TemporaryDirectory() as logs:
            database_before = database_cpu_seconds()
            result = subprocess.run(
                [
                    "pgbench",
                    *conn,
                    "-n",
                    "-M",
                    "prepared",
                    "-f",
                    str(HERE / "transition.sql"),
                    "-D",
                    f"per={per_client}",
                    "-c",
                    str(count),
                    "-j",
                    str(min(count, 2)),
                    "-T",
                    str(int(duration)),
                    "-l",
                    "--log-prefix",
                    f"{logs}/tx",
                    str(parsed.database),
                ],
                check=True,
                capture_output=True,
                text=True,
            )
            run = Run(count)
            run.database_cpu = _spent(database_before)
            for log in Path(logs).iterdir():
                for line in log.read_text().splitlines():
                    run.latencies.append(int(line.split()[2]) / 1e6)
            run.count = len(run.latencies)
            match = re.search(r"tps = ([\d.]+)", result.stdout)
            run.seconds = run.count / float(match.group(1)) if match else duration
            failed = re.search(r"number of failed transactions: (\d+)", result.stdout)
            run.errors = int(failed.group(1)) if failed else 0
        runs.append(run)
        print(
            f"pgb   clients={count:>2}  {run.tps:8.1f} tps  p50 {run.percentile(0.5):6.1f} ms"
            f"  p99 {run.percentile(0.99):6.1f} ms  errors {run.errors}"
            f"  database CPU {_ms(run, run.database_cpu)} ms/tx"
        )
    steps, resubmissions = _psql(
        conn,
        parsed.database,
        "SELECT count(*) FILTER (WHERE name <> 'data_comparison'),"
        " count(*) FILTER (WHERE name = 'data_comparison')"
        " FROM case_event WHERE case_id LIKE 'pgb-%'",
    ).split("|")
    print(f"pgb   {steps} steps, {resubmissions} of them resubmissions with the data comparison")
    if int(resubmissions) == 0:
        raise SystemExit("pgbench ran no resubmission: its mix is not the service's")
    return runs


def _psql(conn: list[str], database: str | None, query: str) -> str:
    """One value (or a row, ``|``-separated) that ``query`` reads, through psql."""
    return subprocess.run(
        ["psql", *conn, "-d", str(database), "-Atc", query],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


# --- report ------------------------------------------------------------------------------------


def _ms(run: Run, seconds: float | None) -> str:
    return "—" if seconds is None else f"{run.cpu_ms(seconds):.2f}"


def machine() -> str:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory = int(re.findall(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())[0]) // 2**20
    return (
        f"{os.cpu_count()} cores ({cpu}), {memory} GiB, {platform.system()} {platform.release()}; "
        f"{interpreter()}; a loop of 10 M additions on it took {reference_loop():.2f} s as the "
        "run ended"
    )


def interpreter() -> str:
    """The Python the benchmark and its servers run on, and how it was built. The build moves
    the server's CPU as much as a change of code: the deploy image's interpreter
    (``python:3.11-slim``) is configured with ``--enable-optimizations --with-lto`` (profile-
    guided and link-time optimized); pyenv's, as on the hosts here, with neither, and the same
    write costs it about a tenth more instructions (``bench/RESULTS.md``, 2026-12-04).
    Debian's ``/usr/bin/python3.11`` is optimized too, by Debian's own build rules ("Enable
    LTO/PGO builds", its changelog), which keep those flags out of the configure line that
    ``sysconfig`` shows ("Don't propagate lto flags to the _sysconfigdata module")."""
    flags = str(sysconfig.get_config_var("CONFIG_ARGS") or "")
    named = [flag for flag in ("--enable-optimizations", "--with-lto") if flag in flags]
    maps = Path("/proc/self/maps").read_text()
    linked = "libpython shared" if "libpython" in maps else "libpython linked in"
    built = f"{linked}; configured {' '.join(named)}" if named else linked
    return f"Python {platform.python_version()} at {os.path.realpath(sys.executable)} ({built})"


def reference_loop() -> float:
    """Seconds for a plain Python loop of 10 M additions: how fast this host ran its Python
    at the time. The hosts here share their cores, and the same code's timings moved by a
    third within one session (``bench/RESULTS.md``): a run's figures are read beside it."""
    started, total = time.perf_counter(), 0
    for number in range(10_000_000):
        total += number
    return time.perf_counter() - started


LOADERS = {
    "wrk": "wrk (bench/transitions.lua, two threads, as pgbench has, at an even count of clients)",
    "httpx": "one httpx process",
}


def report(http: list[Run], pgb: list[Run], peak: float, pg: dict[str, str], args: Any) -> str:
    if not pgb:  # the embedded database: no ceiling to set beside it
        return report_embedded(http, peak, pg, args)
    rows = [
        f"| {h.clients} | {h.tps:.0f} | {h.percentile(0.5):.1f} | {h.percentile(0.99):.1f} | "
        f"{p.tps:.0f} | {p.percentile(0.5):.1f} | {p.percentile(0.99):.1f} | {h.tps / p.tps:.2f} | "
        f"{h.cpu_ms(h.server_cpu):.2f} | {_ms(h, h.database_cpu)} | {_ms(p, p.database_cpu)} | "
        f"{h.cpu_ms(h.client_cpu):.2f} |"
        for h, p in zip(http, pgb, strict=True)
    ]
    errors = sum(r.errors for r in http) + sum(r.errors for r in pgb)
    return "\n".join(
        [
            f"### Case writes over HTTP vs. pgbench — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
            "",
            f"Machine: {machine()}. PostgreSQL {pg['server_version']} on the same machine "
            f"(synchronous_commit={pg['synchronous_commit']}, fsync={pg['fsync']}, "
            f"wal_sync_method={pg['wal_sync_method']}, shared_buffers={pg['shared_buffers']}), "
            f"the same for both sides. Each write carries an Idempotency-Key, as the console's "
            "do; pgbench sends the writes' statements in the service's mix (bench/transition.sql: "
            "the case's read, then one statement that moves it, appends its event and inserts the "
            "key's record with the answer; the data comparison's read and a second event in one "
            "write of three; facts of the service's size). "
            f"{_setup(args)}",
            "",
            "| clients | API writes/s | API p50 ms | API p99 ms | pgbench tps | pgbench p50 ms "
            "| pgbench p99 ms | API / ceiling | server CPU ms/write "
            "| PostgreSQL CPU ms/write | PostgreSQL CPU ms/tx (pgbench) | load CPU ms/write |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
            *rows,
            "",
            f"API server peak memory (VmHWM): {peak:.0f} MiB. Failed transitions: {errors}.",
            "",
        ]
    )


def report_embedded(http: list[Run], peak: float, pg: dict[str, str], args: Any) -> str:
    rows = [
        f"| {h.clients} | {h.tps:.0f} | {h.percentile(0.5):.1f} | {h.percentile(0.99):.1f} | "
        f"{h.cpu_ms(h.server_cpu):.2f} | {h.cpu_ms(h.client_cpu):.2f} |"
        for h in http
    ]
    return "\n".join(
        [
            f"### Case writes over HTTP, embedded SQLite — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
            "",
            f"Machine: {machine()}. {pg['server_version']} (journal_mode={pg['journal_mode']}, "
            f"synchronous left at its default, as the service runs it), a file on local disk. "
            "Each write carries an Idempotency-Key, as the console's do. "
            f"{_setup(args)}",
            "",
            "| clients | API writes/s | API p50 ms | API p99 ms | server CPU ms/write "
            "| load CPU ms/write |",
            "|---:|---:|---:|---:|---:|---:|",
            *rows,
            "",
            f"API server peak memory (VmHWM): {peak:.0f} MiB. "
            f"Failed transitions: {sum(r.errors for r in http)}.",
            "",
        ]
    )


def _turns() -> str:
    """The servers' case writes at once (``CASE_WRITES_AT_ONCE``, as the environment sets it
    for them, else the service's default)."""
    from app.core.config import Settings

    at_once = (
        os.environ.get("CASE_WRITES_AT_ONCE")
        or Settings.model_fields["case_writes_at_once"].default
    )
    return f"case writes {at_once} at once" if int(at_once) else "case writes not limited"


def _setup(args: Any) -> str:
    return (
        f"API: uvicorn, {args.workers} worker(s), a pool of {max(POOL, max(args.clients))} "
        f"connections each, {_turns()}, a JSON log line a request (as `fangfanpin serve`); "
        "load from "
        f"{LOADERS[args.client]} on the same cores. {args.duration:.0f} s per client count"
        + (
            f" after {args.warm_up:.0f} s of writes not counted"
            if args.client == "wrk" and args.warm_up > 0
            else ""
        )
        + f"; {max(args.clients) * args.per_client} cases."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument(
        "--clients", type=lambda s: [int(x) for x in s.split(",")], default=[1, 8, 32]
    )
    parser.add_argument("--per-client", type=int, default=8, help="cases per client")
    parser.add_argument(
        "--warm-up",
        type=float,
        default=3.0,
        help="seconds of writes at the largest client count before the runs, not counted",
    )
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--record", action="store_true", help="append to bench/RESULTS.md")
    parser.add_argument(
        "--client",
        choices=("wrk", "httpx"),
        default="wrk" if shutil.which("wrk") else "httpx",
        help="the load generator: wrk (C, little CPU; the default where installed) or httpx",
    )
    args = parser.parse_args()

    demo_database(args.database_url)
    pg = asyncio.run(server_settings(args.database_url))
    server = start_server(args.database_url, args.port, args.workers, max(args.clients))
    try:
        base = f"http://127.0.0.1:{args.port}"
        wait_ready(args.port)
        cases = asyncio.run(prepare(base, args.database_url, max(args.clients) * args.per_client))
        if args.client == "wrk":
            http = wrk_runs(
                base,
                args.database_url,
                args.clients,
                cases,
                args.duration,
                server.pid,
                args.warm_up,
            )
        else:
            http = asyncio.run(
                http_runs(base, args.database_url, args.clients, cases, args.duration, server.pid)
            )
        peak = peak_rss_mib(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    pgb = (
        []
        if is_sqlite(args.database_url)
        else pgbench_runs(args.database_url, args.clients, args.per_client, args.duration)
    )
    publish(report(http, pgb, peak, pg, args), record=args.record)


if __name__ == "__main__":
    main()
