"""The national export of one million confirmed cases as JSON Lines: rows/s and peak memory.

    python -m bench.national_export [--cases 1000000] [--client curl] [--runs 5] [--record]
                                    [--format jsonl|csv|xlsx]

Data: a fresh PostgreSQL database (``BENCH_EXPORT_DATABASE_URL``) migrated by Alembic, with
the demo areas, filled by COPY: one household per case (1–4 members, 2.5 on average, every ID
number AES-GCM encrypted and blind-indexed as the service does), each case confirmed with its
national document (``app.exports.document.compose`` of the projection of facts shaped like a
real confirmation, the members' numbers sealed together beside it), one event per case, the log
entries that index those events (written directly: the sequencer is not what is measured
here). Then the API runs as its own uvicorn process and ``GET /api/v1/exports/national`` is
streamed to the end by an httpx client; rows per second count JSON lines (one per case,
members nested), and the server's peak resident memory (VmHWM) is read from /proc.
``--runs`` exports everything that many times on one server and reports the median (this
machine's timings vary by a fifth from run to run); ``--record`` appends to
``bench/RESULTS.md``. ``--format csv`` or ``xlsx`` (with curl) measures the flat exports, one
row per member, counted by the batch's record; the goals are set for JSON Lines.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import random
import subprocess
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from app import migrations
from app.areas.demo import load as load_areas
from app.core.blind import blind_of
from app.core.config import Settings
from app.core.crypto import cipher_for, context
from app.core.db import make_engine, make_sessionmaker
from app.exports.document import compose, numbers_context, place_values
from app.exports.projection import project
from app.households import idnumber
from app.national_sheet.sheet import STAMP as SHEET_VERSION
from bench.transitions import (
    SECRET,
    fresh_database,
    headers,
    machine,
    peak_rss_mib,
    server_settings,
    start_server,
    wait_ready,
)
from workflows.vocabulary import Role

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/fangfanpin_bench_export"
VILLAGES = ("220281102200", "220281105200")
AREAS = {
    "220281102200": ("蛟河市", "白石山镇", "平岗村"),
    "220281105200": ("蛟河市", "天北镇", "劳动村"),
}
CHUNK = 20_000
FORMATS = {
    "jsonl": ("JSON Lines", "cases (rows)", "50,000"),
    "csv": ("CSV", "rows (members)", "none set"),
    "xlsx": ("XLSX", "rows (members)", "10,000"),
}
CLIENTS = {
    "httpx": "httpx streaming and counting lines",
    "curl": "curl, the body dropped, the rows counted by the batch's record",
}


def facts_of(rng: random.Random, confirmed: datetime) -> dict[str, Any]:
    """The facts a confirmation leaves, varied a little per case."""
    verification = {
        "verified_on": "2026-03-02",
        "household_size": rng.randint(1, 6),
        "wage_income": str(rng.randint(0, 30000)),
        "business_income": str(rng.randint(0, 9000)),
        "property_income": "0",
        "transfer_income": str(rng.randint(0, 5000)),
        "business_expense": str(rng.randint(0, 2000)),
        "compliant_out_of_pocket": str(rng.randint(0, 20000)),
    }
    return {
        "household_type": rng.choice(("lifted_out", "ordinary")),
        "confirmed_at": confirmed.isoformat(),
        "classification": {
            "monitoring_type": rng.choice(("unstable_lifted", "marginal", "sudden_hardship")),
            "risk_types": rng.sample(
                ["illness", "disability", "schooling", "accident", "unstable_employment"],
                rng.randint(1, 3),
            ),
            "responsible_person": {
                "name": f"帮扶人{rng.randint(1, 500)}",
                "unit": "蛟河市农业农村局",
            },
        },
        "assessments": [verification],
        "measures": {
            f"m{n}": {
                "category": rng.choice(("industry", "employment", "health")),
                "content": "安排公益性岗位 (护林员)",
            }
            for n in range(rng.randint(1, 3))
        },
        "elimination": None,
    }


async def fill(url: str, cases: int, settings: Settings) -> int:
    """COPY the data in; answers the number of members written."""
    engine = make_engine(url)
    async with make_sessionmaker(engine)() as session, session.begin():
        await load_areas(session)
    await engine.dispose()
    cipher = cipher_for(settings.field_keys)
    rng = random.Random(11)
    connection = await asyncpg.connect(
        make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    )
    now = datetime(2026, 6, 1, tzinfo=UTC)
    members_written, serial = 0, 0
    try:
        for start in range(0, cases, CHUNK):
            households, members, rows, documents, events, log_rows = [], [], [], [], [], []
            plain: list[str] = []
            for n in range(start, min(cases, start + CHUNK)):
                household_id, case_id = str(uuid.uuid4()), str(uuid.uuid4())
                village = VILLAGES[n % 2]
                size = rng.randint(1, 4)
                head_number = ""
                for m in range(size):
                    serial += 1
                    born = date(1950, 1, 1) + timedelta(days=rng.randint(0, 25000))
                    number = idnumber.make(f"220281{born:%Y%m%d}{serial % 1000:03d}")
                    number = number[:14] + f"{serial % 10000:04d}"  # unique, not check-summed
                    member_id = str(uuid.uuid4())
                    members.append(
                        (
                            member_id,
                            household_id,
                            f"成员{serial}",
                            cipher.encrypt(number, context("member", member_id, "id_number")),
                            idnumber.mask(number),
                            blind_of(settings).digest(number + str(serial)),
                            "head" if m == 0 else rng.choice(("spouse", "son", "daughter")),
                            rng.choice(("male", "female")),
                            born,
                            rng.choice(("ordinary", "weak", "none")),
                            "healthy",
                            "汉族",
                            now,
                            now,
                        )
                    )
                    head_number = head_number or number
                    plain.append(number)
                households.append(
                    (
                        household_id,
                        village,
                        "户主" + str(n),
                        cipher.encrypt(
                            head_number, context("household", household_id, "head_id_number")
                        ),
                        idnumber.mask(head_number),
                        blind_of(settings).digest(f"h{n}"),
                        size,
                        now,
                    )
                )
                facts = facts_of(rng, now - timedelta(days=rng.randint(1, 300)))
                record = project(facts)
                assert record is not None
                household = SimpleNamespace(
                    household_number=None,
                    village_code=village,
                    head_name="户主" + str(n),
                    size=size,
                )
                people = [
                    SimpleNamespace(
                        id=row[0],
                        member_number=None,
                        name=row[2],
                        relation=row[6],
                        sex=row[7],
                        ethnicity=row[11],
                        birth_date=row[8],
                        education=None,
                        school_status=None,
                        health=row[10],
                        labour_skill=row[9],
                        medical_insurance=None,
                        social_assistance=None,
                    )
                    for row in members[len(members) - size :]
                ]
                national = compose(case_id, record, household, AREAS[village], people)
                event_hash = f"{n:064x}"
                rows.append(
                    (
                        case_id,
                        household_id,
                        village,
                        "self_declared",
                        "assisted",
                        1,
                        "case-v1",
                        "jiaohe-2022",
                        True,
                        facts["classification"]["monitoring_type"],
                        json.dumps(facts),
                        event_hash,
                        now,
                        now,
                        now,
                    )
                )
                sealed = cipher.encrypt(
                    place_values(None, [(p, None) for p in plain[len(plain) - size :]]),
                    numbers_context(case_id),
                )
                documents.append((case_id, 1, village, national, sealed, SHEET_VERSION))
                events.append(
                    (
                        n + 1,
                        case_id,
                        1,
                        "confirm",
                        "city_confirmation",
                        "assisted",
                        "bureau.jiaohe",
                        "city_bureau",
                        "220281",
                        now,
                        "case-v1",
                        "jiaohe-2022",
                        "{}",
                        "0" * 64,
                        event_hash,
                    )
                )
                log_rows.append((n, n + 1, now))
                members_written += size
            await connection.copy_records_to_table(
                "household",
                records=households,
                columns=[
                    "id",
                    "village_code",
                    "head_name",
                    "head_id_number_encrypted",
                    "head_id_number_masked",
                    "head_id_digest",
                    "size",
                    "created_at",
                ],
            )
            await connection.copy_records_to_table(
                "member",
                records=members,
                columns=[
                    "id",
                    "household_id",
                    "name",
                    "id_number_encrypted",
                    "id_number_masked",
                    "id_digest",
                    "relation",
                    "sex",
                    "birth_date",
                    "labour_skill",
                    "health",
                    "ethnicity",
                    "created_at",
                    "updated_at",
                ],
            )
            await connection.copy_records_to_table(
                "monitoring_case",
                records=rows,
                columns=[
                    "id",
                    "household_id",
                    "area_code",
                    "channel",
                    "state",
                    "version",
                    "workflow_version",
                    "policy_version",
                    "is_open",
                    "monitoring_type",
                    "facts",
                    "last_hash",
                    "opened_at",
                    "identification_due_at",
                    "updated_at",
                ],
            )
            await connection.copy_records_to_table(
                "national_document",
                records=documents,
                columns=["case_id", "version", "area_code", "document", "numbers", "sheet_version"],
            )
            await connection.copy_records_to_table(
                "case_event",
                records=events,
                columns=[
                    "id",
                    "case_id",
                    "seq",
                    "name",
                    "from_state",
                    "to_state",
                    "actor_sub",
                    "actor_role",
                    "actor_area",
                    "occurred_at",
                    "workflow_version",
                    "policy_version",
                    "payload",
                    "prev_hash",
                    "hash",
                ],
            )
            await connection.copy_records_to_table(
                "audit_log", records=log_rows, columns=["log_index", "event_id", "sequenced_at"]
            )
            print(f"  {start + len(rows):,} cases", flush=True)
        await connection.execute("SELECT setval('case_event_id_seq', $1)", cases)
        await connection.execute("ANALYZE")
    finally:
        await connection.close()
    return members_written


async def existing(url: str, cases: int) -> int | None:
    """The member count of an earlier run's data with ``cases`` cases, else None."""
    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        connection = await asyncpg.connect(plain)
    except (OSError, asyncpg.PostgresError):
        return None
    try:
        found = await connection.fetchval("SELECT count(*) FROM monitoring_case")
        members = await connection.fetchval("SELECT count(*) FROM member")
    except asyncpg.PostgresError:
        return None
    finally:
        await connection.close()
    return int(members) if found == cases else None


async def forget_exports(url: str) -> None:
    """Earlier exports of the data are forgotten, so the run exports every case."""
    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(plain)
    try:
        await connection.execute(
            "TRUNCATE national_sync, national_export_item, national_export_batch"
        )
    finally:
        await connection.close()


def measure_curl(port: int, format: str = "jsonl") -> tuple[int, int, float]:
    """curl reads the body and drops it, so the client takes almost nothing from the two
    cores the server shares; the rows are those the batch itself records (JSON Lines: one
    per case; CSV and XLSX: one per member)."""
    token = headers("exporter.national", Role.national_exporter, "220281")
    began = time.perf_counter()
    done = subprocess.run(
        [
            "curl",
            "-sS",
            "--fail",
            "-o",
            "/dev/null",
            "-D",
            "-",
            "-w",
            "%{size_download}",
            "-H",
            f"Authorization: {token['Authorization']}",
            f"http://127.0.0.1:{port}/api/v1/exports/national?format={format}",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - began
    head, _, size = done.stdout.rpartition("\n")
    batch_id = next(
        line.split(":", 1)[1].strip()
        for line in head.splitlines()
        if line.lower().startswith("x-export-batch:")
    )
    batch = httpx.get(
        f"http://127.0.0.1:{port}/api/v1/exports/national/batches/{batch_id}", headers=token
    ).json()
    return int(batch["rows"]), int(size), seconds


def measure_ledger(port: int) -> tuple[int, int, float]:
    """The township's monitored-household ledger as Excel (白石山镇: half the cases), fetched
    by curl as the township official would; rows are the sheet's, counted afterwards."""
    from openpyxl import load_workbook

    token = headers("township.baishishan", Role.township_official, "220281102")
    began = time.perf_counter()
    done = subprocess.run(
        [
            "curl",
            "-sS",
            "--fail",
            "-o",
            "-",
            "-H",
            f"Authorization: {token['Authorization']}",
            f"http://127.0.0.1:{port}/api/v1/ledgers/monitored-households?format=xlsx",
        ],
        check=True,
        capture_output=True,
    )
    seconds = time.perf_counter() - began
    sheet = load_workbook(io.BytesIO(done.stdout), read_only=True).active
    rows = sum(1 for _ in sheet.iter_rows()) - 1 if sheet is not None else 0
    return rows, len(done.stdout), seconds


async def measure(port: int) -> tuple[int, int, float]:
    """httpx streams the body and counts its lines, on the same two cores as the server."""
    token = headers("exporter.national", Role.national_exporter, "220281")
    lines = size = 0
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=600) as client:
        began = time.perf_counter()
        async with client.stream("GET", "/api/v1/exports/national", headers=token) as response:
            response.raise_for_status()
            async for chunk in response.aiter_bytes():
                lines += chunk.count(b"\n")
                size += len(chunk)
        seconds = time.perf_counter() - began
    return lines, size, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument(
        "--database-url", default=os.environ.get("BENCH_EXPORT_DATABASE_URL", DEFAULT_URL)
    )
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--record", action="store_true")
    parser.add_argument("--client", choices=("httpx", "curl"), default="httpx")
    parser.add_argument("--runs", type=int, default=1, help="Exports in a row; the median counts.")
    parser.add_argument("--format", choices=tuple(FORMATS), default="jsonl")
    parser.add_argument(
        "--reuse", action="store_true", help="Keep an earlier run's data of as many cases."
    )
    parser.add_argument(
        "--ledger",
        action="store_true",
        help="Also fetch 白石山镇's monitored-household ledger as XLSX, timed.",
    )
    args = parser.parse_args()
    if args.format != "jsonl" and args.client != "curl":
        parser.error("--format csv or xlsx is measured with --client curl")
    settings = Settings(jwt_secret=SECRET)
    members = asyncio.run(existing(args.database_url, args.cases)) if args.reuse else None
    if members is None:
        asyncio.run(fresh_database(args.database_url))
        migrations.upgrade(args.database_url)
        began = time.perf_counter()
        members = asyncio.run(fill(args.database_url, args.cases, settings))
        print(
            f"filled {args.cases:,} cases, {members:,} members in "
            f"{time.perf_counter() - began:.0f} s"
        )
    else:  # the data kept, brought to this release's schema
        migrations.upgrade(args.database_url)
    server = start_server(args.database_url, args.port, 1)
    runs: list[tuple[int, int, float]] = []
    try:
        wait_ready(args.port)
        idle = peak_rss_mib(server.pid)
        for _ in range(args.runs):  # each run exports every case again
            asyncio.run(forget_exports(args.database_url))
            if args.client == "curl":
                runs.append(measure_curl(args.port, args.format))
            else:
                runs.append(asyncio.run(measure(args.port)))
            lines, size, seconds = runs[-1]
            status = Path(f"/proc/{server.pid}/status").read_text()
            resident = int(status.split("VmRSS:")[1].split()[0]) / 1024
            print(
                f"exported {lines:,} rows ({size / 2**20:,.0f} MiB) in {seconds:.1f} s = "
                f"{lines / seconds:,.0f} rows/s; resident after it {resident:,.0f} MiB",
                flush=True,
            )
        if args.ledger:
            households, size, seconds = measure_ledger(args.port)
            print(
                f"ledger: {households:,} households ({size / 2**20:,.1f} MiB) as XLSX in "
                f"{seconds:.2f} s",
                flush=True,
            )
        peak = peak_rss_mib(server.pid)
    finally:
        server.terminate()
        server.wait()
    lines, size, seconds = sorted(runs, key=lambda run: run[2])[(len(runs) - 1) // 2]
    rate = lines / seconds
    print(
        f"median of {len(runs)}: {seconds:.1f} s = {rate:,.0f} rows/s; "
        f"server peak RSS {peak:,.0f} MiB (idle {idle:,.0f})"
    )
    if args.record:
        pg = asyncio.run(server_settings(args.database_url))
        title, counted, goal = FORMATS[args.format]
        rows = "\n".join(
            f"| {n} | {r[0]:,} | {r[1] / 2**20:,.0f} | {r[2]:.1f} | {r[0] / r[2]:,.0f} |"
            for n, r in enumerate(runs, start=1)
        )
        section = f"""
### National export, {title} — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC

Machine: {machine()}. PostgreSQL {pg["server_version"]} on the same machine. API: uvicorn, one
worker; client: {CLIENTS[args.client]} on the same machine. Data: {args.cases:,} confirmed cases,
{members:,} members (ID numbers encrypted), generated by `python -m bench.national_export`.
{len(runs)} runs on one server, one after another; the median run against the goals:

| run | {counted} | MiB | seconds | rows/s |
|---:|---:|---:|---:|---:|
{rows}

| median rows/s | goal | server peak RSS MiB (all runs) | goal |
|---:|---:|---:|---:|
| {rate:,.0f} | {goal} | {peak:,.0f} | 300 |
"""
        path = Path(__file__).with_name("RESULTS.md")
        path.write_text(path.read_text() + section)


if __name__ == "__main__":
    main()
