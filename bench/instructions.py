"""Instructions a rule-checked write costs the service's process, counted by callgrind: a
measure of the write path's CPU that does not move with the host.

    python -m bench.instructions [--writes 100] [--record]
    python -m bench.instructions --smoke          # no valgrind: the harness, a few writes

On the 2-core hosts here the server's CPU per write moves by 15-25% from one run to the next
for the same code (``bench/RESULTS.md``), so a change worth 5% cannot be seen with
``bench.transitions``. valgrind's callgrind counts the instructions the process executes
instead: the same code, inputs and database give the same count within about 0.3%.

The app runs in this process (ASGI calls, no HTTP server, no load generator), one write at a
time, against a fresh PostgreSQL database (``BENCH_DATABASE_URL``): cases are prepared through
the API to the city's confirmation as ``bench.transitions`` prepares them (its department
data loaded, so each resubmission's comparison finds a record), 60 writes warm the
caches, then the counters are zeroed and ``--writes`` writes of the same cycle (the city
returns the case, the township answers the return, the township resubmits and the data
comparison runs) are counted and dumped, then as many reads of a case, as many reads of its
actions, then as many openings (``POST /cases``, a self-declaration with a new household each
time; each write and each opening with an ``Idempotency-Key`` of its own, as the console
sends). What is counted: the
whole request in the app, its middlewares, FastAPI, SQLAlchemy, asyncpg and the event loop,
its JSON log line written to a file as a served API writes it (since 2026-12-05: about 77,000
instructions of a read's were not counted before, :func:`served_logging`); not uvicorn's HTTP
parsing and not PostgreSQL; on the embedded SQLite, its driver's threads
too (SQLite runs in the process). The process runs uninstrumented but for the four phases
counted, which callgrind's client requests switch on and dump from inside it (a small C
helper built with gcc against valgrind's header: :data:`HELPER`).
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from app.core.db import is_sqlite
from app.households.idnumber import make as make_id_number
from bench import transitions as T

HELPER = """#include <valgrind/callgrind.h>
void fangfanpin_start(void) { CALLGRIND_START_INSTRUMENTATION; }
void fangfanpin_stop(void) { CALLGRIND_STOP_INSTRUMENTATION; CALLGRIND_DUMP_STATS; }
"""
"""Callgrind's client requests: the process runs uninstrumented (``--instr-atstart=no``) but
for the phases counted, each dumped at its end. Not ``CALLGRIND_ZERO_STATS``: it zeroes the
calling thread's counters only, and a dump then still holds what the other threads (the
embedded SQLite's driver thread of each pooled connection) ran since they started, the
preparation's bulk upload included; instrumentation switched on and off is every thread's."""
CASES = 16
WARM_UP = 60
PHASES = ("write", "read", "actions", "opening")
"""What is counted, in order: one dump each."""


async def call(
    app: Any, path: str, headers: dict[str, str], body: bytes, method: str = "POST"
) -> tuple[int, str]:
    """One request straight into the ASGI app; its status and ETag."""
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    if body:
        raw += [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": raw,
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    received = False
    never = asyncio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal received
        if not received:
            received = True
            return {"type": "http.request", "body": body, "more_body": False}
        await never.wait()  # the client never disconnects
        return {"type": "http.disconnect"}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = sent[0]
    tag = dict(start["headers"]).get(b"etag", b"").decode()
    if start["status"] not in (200, 201):
        body_text = b"".join(m.get("body", b"") for m in sent[1:]).decode()[:500]
        raise RuntimeError(f"refused {start['status']}: {body_text}")
    return start["status"], tag


async def write(app: Any, case: T.Case) -> None:
    """The case's next write in the benchmark's cycle (as bench/transitions.lua drives it)."""
    if case.state == "city_confirmation":
        path, who, body, target = (
            "actions/return_to_township",
            T.BUREAU,
            b'{"reason":"x"}',
            "returned",
        )
    elif case.state == "returned":
        path, who, body = "return-responses", T.TOWNSHIP, b'{"response":"y"}'
        target = "township_verification"
    else:
        path, who, body, target = "actions/submit_to_city", T.TOWNSHIP, b"", "city_confirmation"
    headers = T.keyed({**who, "If-Match": f'"{case.version}"'})
    _, tag = await call(app, f"/api/v1/cases/{case.id}/{path}", headers, body)
    case.version, case.state = int(tag.strip('"')), target


def opening(serial: int) -> bytes:
    """A self-declaration of a new household (its head born on a day of its own per thousand
    openings), as bench/reads.lua sends it."""
    born = date(1950, 1, 1) + timedelta(days=serial // 1000)
    head = make_id_number(f"220281{born:%Y%m%d}{serial % 1000:03d}")
    return json.dumps(
        {
            "channel": "self_declared",
            "application_sha256": "c" * 64,
            "household": {
                "head_name": "王德福",
                "head_id_number": head,
                "village_code": T.VILLAGE,
                "size": 3,
            },
        }
    ).encode()


def served_logging(log: Any) -> None:
    """Logging as a served API logs (``LOG_CONFIG``: a JSON line a request), to the file
    ``log`` as the HTTP benchmarks' servers log to theirs, so the request's line is counted
    with the request."""
    import logging.config

    from app.core.observability import LOG_CONFIG

    logging.config.dictConfig(LOG_CONFIG)
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(log)


async def counted(url: str, writes: int, helper: str | None) -> tuple[float, float, float, float]:
    """The child: prepare, warm up, count ``writes`` writes, then as many reads of a case
    (``GET /cases/{id}``, the city's), as many of its actions (``GET /cases/{id}/actions``,
    the city's, at its confirmation), then as many openings; CPU seconds of each."""

    from app.core.config import Settings
    from app.main import create_app

    counters = ctypes.CDLL(helper) if helper else None
    settings = Settings(
        database_url=url,
        jwt_secret=T.SECRET,
        database_pool_size=20,
        rate_limits=True,  # counted, never reached (as the HTTP benchmarks' servers)
        rate_writes_per_minute=T.UNREACHED,
        rate_intake_per_minute=T.UNREACHED,
        rate_auth_failures_per_minute=T.UNREACHED,
    )
    app = create_app(settings)
    with tempfile.TemporaryFile("w", prefix="fangfanpin-instructions-") as log:
        served_logging(log)
        return await phases(app, url, writes, counters)


async def phases(
    app: Any, url: str, writes: int, counters: Any
) -> tuple[float, float, float, float]:
    """What :func:`counted` counts, in ``app`` (its phases, each switched on and dumped by
    ``counters`` when under callgrind)."""
    import httpx

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            cases = await T.gather_bounded([T.prepare_case(client, i) for i in range(CASES)], 8)
            await T.finish_preparation(url, client, cases)
        for i in range(WARM_UP):
            await write(app, cases[i % CASES])
        if counters:
            counters.fangfanpin_start()
        started = time.process_time()
        for i in range(writes):
            await write(app, cases[i % CASES])
        cpu = (time.process_time() - started) / writes
        if counters:
            counters.fangfanpin_stop()
            counters.fangfanpin_start()
        started = time.process_time()
        for i in range(writes):
            await call(app, f"/api/v1/cases/{cases[i % CASES].id}", T.BUREAU, b"", "GET")
        read = (time.process_time() - started) / writes
        if counters:
            counters.fangfanpin_stop()
            counters.fangfanpin_start()
        started = time.process_time()
        for i in range(writes):
            path = f"/api/v1/cases/{cases[i % CASES].id}/actions"
            await call(app, path, T.BUREAU, b"", "GET")
        actions = (time.process_time() - started) / writes
        if counters:
            counters.fangfanpin_stop()
        for i in range(WARM_UP):
            await call(app, "/api/v1/cases", T.keyed(T.CADRE), opening(i))
        if counters:
            counters.fangfanpin_start()
        started = time.process_time()
        for i in range(writes):
            await call(app, "/api/v1/cases", T.keyed(T.CADRE), opening(WARM_UP + i))
        opened = (time.process_time() - started) / writes
        if counters:
            counters.fangfanpin_stop()
    return cpu, read, actions, opened


def build_helper(directory: Path) -> Path:
    source, library = directory / "counters.c", directory / "counters.so"
    source.write_text(HELPER)
    subprocess.run(
        ["gcc", "-O2", "-shared", "-fPIC", "-o", str(library), str(source)],
        check=True,
        capture_output=True,
    )
    return library


def commit() -> str:
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=T.HERE.parent
    )
    return done.stdout.strip() or "unknown"


def measure(url: str, writes: int, keep: Path | None = None) -> tuple[float, float, float, float]:
    """Instructions a write, a read, a read of actions and an opening: the child runs under
    callgrind; each of its four dumps' totals, per request. ``keep``: a directory the dumps
    are copied to (``write.callgrind``, ``read.callgrind``, ``actions.callgrind``,
    ``opening.callgrind``), for
    ``callgrind_annotate --inclusive=yes`` to say where the instructions go."""
    for tool in ("valgrind", "gcc"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is needed (apt-get install valgrind gcc)")
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        child = ["-m", "bench.instructions", "--child", "--writes", str(writes)]
        done, dumps = under_callgrind(directory, [*child, "--database-url", url])
        if done.returncode != 0 or len(dumps) != len(PHASES):
            raise SystemExit(f"the counted run failed:\n{done.stdout[-2000:]}{done.stderr[-3000:]}")
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
            for dump, name in zip(dumps, PHASES, strict=True):
                shutil.copy(dump, keep / f"{name}.callgrind")
        write, read, actions, opened = (instructions_in(dump) / writes for dump in dumps)
        return write, read, actions, opened


def under_callgrind(
    directory: Path, arguments: list[str]
) -> tuple[subprocess.CompletedProcess[str], list[Path]]:
    """Python with these arguments under callgrind, uninstrumented but for what it switches
    on through :data:`HELPER` (built in ``directory``, its path passed as ``--helper``): the
    run, and its dumps in order (one per phase)."""
    helper = build_helper(directory)
    command = [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",  # switched on for the phases counted (HELPER)
        f"--callgrind-out-file={directory / 'callgrind.out'}",
        sys.executable,
        *arguments,
        "--helper",
        str(helper),
    ]
    done = subprocess.run(command, capture_output=True, text=True, cwd=T.HERE.parent)
    dumps = sorted(directory.glob("callgrind.out.*"), key=lambda p: int(p.suffix[1:]))
    return done, dumps


def instructions_in(dump: Path) -> int:
    """The instructions a dump holds: its ``totals`` line, the sum of its costs (its
    ``summary`` line says 0 when instrumentation started switched off)."""
    for line in dump.read_text().splitlines():
        if line.startswith("totals:"):
            return int(line.split()[1])
    raise SystemExit(f"callgrind's dump {dump.name} has no totals line")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--database-url", default=os.environ.get("BENCH_DATABASE_URL", T.DEFAULT_URL)
    )
    parser.add_argument("--writes", type=int, default=100)
    parser.add_argument("--record", action="store_true", help="append to bench/RESULTS.md")
    parser.add_argument("--smoke", action="store_true", help="run the harness without valgrind")
    parser.add_argument(
        "--keep", type=Path, help="a directory to keep callgrind's four dumps in, to annotate"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--helper", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        cpu, read, actions, opened = asyncio.run(
            counted(args.database_url, args.writes, args.helper)
        )
        print(
            f"{args.writes} writes, {cpu * 1e3:.2f} ms of CPU a write, {read * 1e3:.2f} a read, "
            f"{actions * 1e3:.2f} a read of actions, {opened * 1e3:.2f} an opening"
        )
        return
    T.demo_database(args.database_url)
    if args.smoke:
        cpu, read, actions, opened = asyncio.run(counted(args.database_url, args.writes, None))
        print(f"smoke: {args.writes} writes in-process, {cpu * 1e3:.2f} ms of CPU a write")
        print(f"smoke: {args.writes} reads in-process, {read * 1e3:.2f} ms of CPU a read")
        print(f"smoke: {args.writes} reads of actions in-process, {actions * 1e3:.2f} ms each")
        print(f"smoke: {args.writes} openings in-process, {opened * 1e3:.2f} ms of CPU each")
        return
    per_write, per_read, per_actions, per_opening = measure(
        args.database_url, args.writes, args.keep
    )
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    version = asyncio.run(T.server_settings(args.database_url))["server_version"]
    database = (
        f"the embedded {version}"
        if is_sqlite(args.database_url)
        else f"PostgreSQL {version} on the same machine"
    )
    text = (
        f"### Instructions a write, in-process under callgrind — {when}\n\n"
        f"Machine: {T.machine()}. Code at `{commit()}`; "
        f"{database}. "
        f"{args.writes} writes counted after {WARM_UP} to warm up, {CASES} cases, one write at "
        "a time (return / answer / resubmit with the data comparison, which finds a record "
        "in the department data loaded; each with an Idempotency-Key of its own, as the "
        "console sends), then as many reads "
        "(`GET /cases/{id}`), as many reads of its actions (`GET /cases/{id}/actions`, the "
        "city's official at the city's confirmation), then as many openings (`POST /cases`, "
        "a new household and a key each).\n\n"
        f"**{per_write / 1e6:.3f} M instructions a write; {per_read / 1e6:.3f} M a read; "
        f"{per_actions / 1e6:.3f} M a read of actions; {per_opening / 1e6:.3f} M an "
        "opening.**\n"
    )
    T.publish(text, record=args.record)


if __name__ == "__main__":
    main()
