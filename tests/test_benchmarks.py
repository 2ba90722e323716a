"""Every benchmark under bench/ runs for a few seconds at a tiny size, so none can rot
unnoticed (the measurements themselves are `make bench*`, recorded in bench/RESULTS.md)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import make_url

from bench.transitions import _spent, database_cpu_seconds
from tests.conftest import OWNERS, browser_or_skip
from tests.test_many_processes import free_port

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str, logs: Path | None = None) -> str:
    """The benchmark's output; ``logs``: where its servers' logs are kept."""
    done = subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **({"BENCH_LOGS": str(logs)} if logs else {})},
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return done.stdout


@pytest.fixture
def bench_url(database_urls: dict[str, str | None]) -> str:
    """A database of its own on the test server, which each benchmark makes afresh."""
    url = database_urls["postgresql"]
    if url is None:
        pytest.skip("PostgreSQL is not reachable (CI sets REQUIRE_POSTGRES=1 and never skips)")
    owner = make_url(OWNERS[url])
    return owner.set(database=f"{owner.database}_bench").render_as_string(hide_password=False)


async def bench_row(bench_url: str, query: str) -> asyncpg.Record:
    """The one row ``query`` reads in the benchmark's database, as it left it."""
    url = make_url(bench_url).set(drivername="postgresql")
    connection = await asyncpg.connect(url.render_as_string(hide_password=False))
    try:
        row = await connection.fetchrow(query)
    finally:
        await connection.close()
    assert row is not None
    return row


async def test_transitions_benchmark_runs(bench_url: str, tmp_path: Path) -> None:
    port = free_port()
    out = run(
        "bench.transitions",
        "--database-url",
        bench_url,
        "--duration",
        "1",
        "--clients",
        "1,4",  # at 4, two of wrk's threads with two connections each, as at 8 and 32
        "--per-client",
        "2",
        "--warm-up",
        "1",
        "--port",
        str(port),
        logs=tmp_path,
    )
    assert "Failed transitions: 0." in out
    rows = [line for line in out.splitlines() if line.startswith(("| 1 |", "| 4 |"))]
    assert len(rows) == 2, out[-1500:]
    assert all(float(row.split("|")[2]) > 0 for row in rows), out[-1500:]
    # PostgreSQL's CPU a write and a pgbench transaction, beside the server's (it runs here)
    assert all(float(row.split("|")[10]) > 0 for row in rows), out[-1500:]
    assert all(float(row.split("|")[11]) > 0 for row in rows), out[-1500:]
    # pgbench sent the service's mix: resubmissions with the data comparison among its steps
    mix = re.search(r"pgb +(\d+) steps, (\d+) of them resubmissions", out)
    assert mix, out[-1500:]
    assert 0 < int(mix.group(2)) < int(mix.group(1)), mix.group(0)
    # the server logged as `fangfanpin serve` does: a JSON line a request, writes included
    text = (tmp_path / f"server-{port}.log").read_text()
    logged = [json.loads(line) for line in text.splitlines()]
    writes = [line for line in logged if "/actions/" in line.get("route", "")]
    assert writes, logged[-3:]
    assert all(line["status"] == 200 for line in writes), writes[-3:]
    # each write carried an Idempotency-Key, as the console's do, and pgbench's stored answers
    kept = await bench_row(
        bench_url,
        "SELECT count(*) FILTER (WHERE key NOT LIKE 'pgb-%') AS api,"
        " count(*) FILTER (WHERE key LIKE 'pgb-%') AS pgbench"
        " FROM idempotency_record WHERE status_code = 200 AND path LIKE '/api/v1/cases/%/%'",
    )
    assert kept["api"] > len(writes) / 2, (kept, len(writes))  # (the preparation's had none)
    assert kept["pgbench"] > 0, kept


async def test_the_databases_cpu_counts_a_backend_that_ended(bench_url: str) -> None:
    """``database_cpu_seconds`` counts what a PostgreSQL backend spent after it ended (as
    pgbench's end with its run): the postmaster holds its children's time once they end."""
    before = database_cpu_seconds()
    if before is None:
        pytest.skip("PostgreSQL does not run on this machine")
    url = make_url(bench_url).set(drivername="postgresql", database="postgres")
    connection = await asyncpg.connect(url.render_as_string(hide_password=False))
    try:
        await connection.fetchval("SELECT count(*) FROM generate_series(1, 3000000)")
    finally:
        await connection.close()
    spent = 0.0
    for _ in range(200):  # the backend ends a moment after the connection closes
        spent = (database_cpu_seconds() or 0.0) - before
        if spent >= 0.1:
            break
        await asyncio.sleep(0.01)
    assert spent >= 0.1, spent


async def test_the_databases_cpu_is_whole_when_read_as_a_backend_ends(bench_url: str) -> None:
    """Read at once as a connection closes (its backend ending and being reaped meanwhile,
    as pgbench's at the end of its run), PostgreSQL's CPU still holds what the backend spent,
    neither lost nor counted twice; ten times over, as the reaping falls where it may."""
    url = make_url(bench_url).set(drivername="postgresql", database="postgres")
    for _ in range(10):
        before = database_cpu_seconds()
        if before is None:
            pytest.skip("PostgreSQL does not run on this machine")
        connection = await asyncpg.connect(url.render_as_string(hide_password=False))
        try:
            await connection.fetchval("SELECT count(*) FROM generate_series(1, 1000000)")
        finally:
            await connection.close()
        spent = _spent(before)
        assert spent is not None
        assert 0.03 <= spent < 5, spent


def wrk_or_skip() -> None:
    if shutil.which("wrk") is None:
        if os.environ.get("REQUIRE_WRK") == "1":
            pytest.fail("wrk is needed for the benchmarks' smoke runs (CI installs it)")
        pytest.skip("wrk is not installed: apt-get install wrk (CI sets REQUIRE_WRK=1)")


def test_transitions_benchmark_runs_on_the_embedded_database(tmp_path: Path) -> None:
    wrk_or_skip()
    url = f"sqlite+aiosqlite:///{tmp_path / 'bench.sqlite3'}"
    out = run(
        "bench.transitions",
        "--database-url",
        url,
        "--duration",
        "1",
        "--clients",
        "1,2",
        "--per-client",
        "2",
        "--warm-up",
        "1",
        "--port",
        str(free_port()),
    )
    assert "embedded SQLite" in out, out[-1500:]
    assert "Failed transitions: 0." in out, out[-1500:]
    rows = [line for line in out.splitlines() if line.startswith(("| 1 |", "| 2 |"))]
    assert len(rows) == 2, out[-1500:]
    assert all(float(row.split("|")[2]) > 0 for row in rows), out[-1500:]


async def test_reads_benchmark_runs(bench_url: str) -> None:
    wrk_or_skip()
    out = run(
        "bench.reads",
        "--database-url",
        bench_url,
        "--duration",
        "1",
        "--open-cases",
        "640",
        "--port",
        str(free_port()),
    )
    assert "640 open cases" in out, out[-1500:]
    rows = {
        line.split("|")[1].strip(): line.split("|")
        for line in out.splitlines()
        if line.startswith("| GET") or line.startswith("| POST")
    }
    assert set(rows) == {
        "GET /cases/{id}",
        "GET /cases/{id}/actions",
        "POST /cases (opening)",
        "GET /health (the floor)",
    }
    assert "The floor (`GET /health`" in out, out[-1500:]
    assert all(float(row[2]) > 0 and row[6].strip() == "0" for row in rows.values()), out[-1500:]
    # each opening carried an Idempotency-Key, as the console's do, and left its record
    (kept,) = await bench_row(
        bench_url,
        "SELECT count(*) FROM idempotency_record"
        " WHERE path = '/api/v1/cases' AND status_code = 201",
    )
    assert kept > 0, kept


def test_serving_benchmark_runs() -> None:
    wrk_or_skip()
    out = run("bench.serving", "--pairs", "1", "--duration", "1", "--port", str(free_port()))
    rows = [line.split("|") for line in out.splitlines() if line.startswith("| uvicorn's")]
    rows += [line.split("|") for line in out.splitlines() if line.startswith("| app.core")]
    assert len(rows) == 2, out[-1500:]
    assert all(float(row[3]) > 0 for row in rows), out[-1500:]


def test_warning_batch_benchmark_runs(bench_url: str) -> None:
    out = run(
        "bench.warning_batch",
        "--database-url",
        bench_url,
        "--runs",
        "200:csv,200:json",
        "--port",
        str(free_port()),
    )
    assert out.count("200 rows") == 2, out[-1500:]
    assert "accepted" in out, out[-1500:]


def test_national_export_benchmark_runs(bench_url: str) -> None:
    out = run(
        "bench.national_export",
        "--database-url",
        bench_url,
        "--cases",
        "50",
        "--port",
        str(free_port()),
        "--ledger",
    )
    assert "exported 50 rows" in out, out[-1500:]
    assert "ledger: 25 households" in out, out[-1500:]  # the bench's cases alternate villages


def test_audit_verify_benchmark_runs() -> None:
    out = run("bench.audit_verify", "--events", "300")
    assert "verified 300 events" in out, out[-1500:]
    assert "ok=True" in out, out[-1500:]


def test_console_benchmark_runs() -> None:
    browser_or_skip()
    out = run("bench.console", "--cases", "5", "--port", str(free_port()))
    assert "opened 5 cases" in out, out[-1500:]
    assert "inbox of 5 cases rendered" in out, out[-1500:]


def test_instructions_benchmark_runs(bench_url: str) -> None:
    """The harness that callgrind counts, run natively (valgrind would take minutes)."""
    out = run("bench.instructions", "--smoke", "--writes", "6", "--database-url", bench_url)
    assert "smoke: 6 writes in-process" in out, out[-1500:]
    assert "smoke: 6 reads of actions in-process" in out, out[-1500:]
    assert "smoke: 6 openings in-process" in out, out[-1500:]


THREADED = """
import ctypes, queue, sys, threading

counters = ctypes.CDLL(sys.argv[sys.argv.index("--helper") + 1])
asked, answered = queue.SimpleQueue(), queue.SimpleQueue()


def add(n):
    total = 0
    for i in range(n):
        total += i
    return total


def worker():
    while (n := asked.get()) is not None:
        answered.put(add(n))


thread = threading.Thread(target=worker)
thread.start()
asked.put(400_000)  # before anything is counted: the preparation
answered.get()
for who, n in (("thread", 20_000), ("main", 20_000), ("thread", 400_000)):
    counters.fangfanpin_start()
    if who == "thread":
        asked.put(n)
        answered.get()
    else:
        add(n)
    counters.fangfanpin_stop()
asked.put(None)
thread.join()
"""


def test_instructions_count_every_threads_work_in_a_phase_and_nothing_before(
    tmp_path: Path,
) -> None:
    """The embedded SQLite's statements run on its driver's threads: a phase's count holds
    what another thread ran during it, and nothing it ran before (callgrind's
    ``CALLGRIND_ZERO_STATS`` left that in, the preparation's bulk upload included)."""
    if shutil.which("valgrind") is None or shutil.which("gcc") is None:
        if os.environ.get("REQUIRE_VALGRIND") == "1":
            pytest.fail("valgrind and gcc are needed for bench.instructions (CI installs them)")
        pytest.skip("valgrind is not installed: apt-get install valgrind (CI: REQUIRE_VALGRIND=1)")
    from bench.instructions import instructions_in, under_callgrind

    script = tmp_path / "threaded.py"
    script.write_text(THREADED)
    done, dumps = under_callgrind(tmp_path, [str(script)])
    assert done.returncode == 0, done.stderr[-3000:]
    small_in_thread, small_in_main, large_in_thread = (instructions_in(d) for d in dumps)
    # the thread's 400,000 additions before the first phase are not in it
    assert small_in_thread < 2 * small_in_main, (small_in_thread, small_in_main)
    # and a thread's work in a phase is: 20 times the additions, over 10 times the count
    assert large_in_thread > 10 * small_in_thread, (large_in_thread, small_in_thread)
