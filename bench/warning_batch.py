"""A department warning batch of 100,000 rows, validated and stored: seconds and server memory.

    python -m bench.warning_batch [--rows 100000] [--record]

Data: a fresh PostgreSQL database (``BENCH_WARNINGS_DATABASE_URL``) migrated by Alembic, with
the demo areas and 20,000 registered households (their heads blind-indexed as the service
does), so that matching finds some. A batch file is generated like a department's: 8% of its
rows name registered people, and a few are bad on purpose (a wrong check character every
97th row, an unknown village every 89th, a repeated row every 101st). Each upload runs
against its own fresh uvicorn process (one worker) and is timed from the first byte sent to
the answer (transfer, spooling, checking, matching, sealing ID numbers, inserting, commit);
the server's peak resident memory (VmHWM) is read from /proc after it. Sizes run from a
tenth of ``--rows`` to twice it, in CSV (UTF-8 and GB18030), XLSX and JSON: memory that does
not grow with the file stays flat across the sizes. ``--record`` appends to
``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import os
import random
import subprocess
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
from openpyxl import Workbook
from sqlalchemy.engine import make_url

from app import migrations
from app.areas.demo import load as load_areas
from app.auth.tokens import mint
from app.core.blind import blind_of
from app.core.config import Settings
from app.core.db import make_engine, make_sessionmaker
from app.households import idnumber
from bench.transitions import (
    SECRET,
    fresh_database,
    machine,
    peak_rss_mib,
    server_settings,
    wait_ready,
)
from bench.transitions import start_server as start_uvicorn
from workflows.vocabulary import Role

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/fangfanpin_bench_warnings"
VILLAGES = ("220281102200", "220281102201", "220281105200", "220281105201")
RISKS = ("因病", "因残", "因学", "因意外事故", "住房安全", "饮水安全", "illness", "other")
REGISTERED = 20_000
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def person(n: int) -> str:
    born = date(1940, 1, 1) + timedelta(days=n // 900)
    return idnumber.make(f"220281{born:%Y%m%d}{n % 900 + 100:03d}")


async def fill(url: str, settings: Settings) -> None:
    engine = make_engine(url)
    async with make_sessionmaker(engine)() as session, session.begin():
        await load_areas(session)
    await engine.dispose()
    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(plain)
    now = datetime(2026, 3, 1, tzinfo=UTC)
    households, members = [], []
    for n in range(REGISTERED):
        number, household_id = person(n), str(uuid.uuid4())
        digest = blind_of(settings).digest(number)
        village = VILLAGES[n % len(VILLAGES)]
        households.append(
            (household_id, village, f"户主{n}", "sealed", idnumber.mask(number), digest, 1, now)
        )
        members.append(
            (
                str(uuid.uuid4()),
                household_id,
                f"户主{n}",
                "sealed",
                idnumber.mask(number),
                digest,
                "head",
                idnumber.sex(number),
                idnumber.birth_date(number),
                now,
                now,
            )
        )
    try:
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
                "created_at",
                "updated_at",
            ],
        )
        await connection.execute("ANALYZE")
    finally:
        await connection.close()


def rows(count: int, seed: int) -> list[list[str]]:
    rng = random.Random(seed)
    out: list[list[str]] = []
    for n in range(count):
        if n % 101 == 100:
            out.append(list(out[-1]))  # the same row again
            continue
        who = rng.randrange(REGISTERED) if n % 12 == 0 else REGISTERED + seed * 1_000_000 + n
        number = person(who)
        if n % 97 == 5:
            number = number[:17] + ("0" if number[17] != "0" else "1")
        village = "220281199999" if n % 89 == 7 else VILLAGES[n % len(VILLAGES)]
        out.append(
            [
                f"姓名{n}",
                number,
                village,
                RISKS[n % len(RISKS)],
                "医疗自付费用较高, 需核实家庭收入与支出情况",
                "2026-02-20",
            ]
        )
    return out


HEAD = (
    "| rows | format | MiB | seconds | rows/s | accepted / rejected / matched "
    "| idle RSS MiB | peak RSS MiB |\n|---:|---|---:|---:|---:|---|---:|---:|"
)
HEADER = ["姓名", "证件号码", "村代码", "风险类型", "预警信息", "预警日期"]


def encode(table: list[list[str]], fmt: str) -> tuple[bytes, str]:
    if fmt in ("csv", "csv-gb18030"):
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows([HEADER, *table])
        text = out.getvalue()
        if fmt == "csv":
            return text.encode(), "text/csv; charset=utf-8"
        return text.encode("gb18030"), "text/csv; charset=gb18030"
    if fmt == "json":
        items = [dict(zip(HEADER, r, strict=True)) for r in table]
        return json.dumps(items, ensure_ascii=False).encode(), "application/json"
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(HEADER)
    for r in table:
        sheet.append(r)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue(), XLSX


def start_server(url: str, port: int) -> subprocess.Popen[bytes]:
    server = start_uvicorn(url, port, 1)
    wait_ready(port)
    return server


def upload(port: int, body: bytes, content_type: str) -> tuple[float, dict[str, int]]:
    token = mint(
        Settings(jwt_secret=SECRET),
        sub="dept.bench",
        role=Role.department,
        area="220281",
        department="civil_affairs",
        now=datetime.now(UTC),
        ttl=timedelta(hours=1),
    )
    began = time.perf_counter()
    response = httpx.post(
        f"http://127.0.0.1:{port}/api/v1/warning-batches",
        content=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
        timeout=600,
    )
    seconds = time.perf_counter() - began
    response.raise_for_status()
    answer = response.json()
    return seconds, {k: answer[k] for k in ("rows", "accepted", "rejected", "matched_households")}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument(
        "--database-url", default=os.environ.get("BENCH_WARNINGS_DATABASE_URL", DEFAULT_URL)
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--port", type=int, default=8767)
    parser.add_argument("--record", action="store_true")
    parser.add_argument("--runs", help="e.g. 100000:csv,100000:json (default: the full set)")
    args = parser.parse_args()
    settings = Settings(jwt_secret=SECRET)
    asyncio.run(fresh_database(args.database_url))
    migrations.upgrade(args.database_url)
    asyncio.run(fill(args.database_url, settings))
    runs = [
        (args.rows // 10, "csv"),
        (args.rows, "csv"),
        (args.rows, "csv-gb18030"),
        (args.rows, "xlsx"),
        (args.rows, "json"),
        (args.rows * 2, "csv"),
    ]
    if args.runs:
        runs = [(int(n), fmt) for n, fmt in (r.split(":") for r in args.runs.split(","))]
    results = []
    for seed, (count, fmt) in enumerate(runs, start=1):
        body, content_type = encode(rows(count, seed), fmt)
        server = start_server(args.database_url, args.port)
        try:
            idle = peak_rss_mib(server.pid)
            seconds, counts = upload(args.port, body, content_type)
            peak = peak_rss_mib(server.pid)
        finally:
            server.terminate()
            server.wait()
        results.append((count, fmt, len(body), seconds, counts, idle, peak))
        print(
            f"{count:>8,} rows {fmt:<12} {len(body) / 2**20:6.1f} MiB {seconds:6.2f} s "
            f"{count / seconds:8,.0f} rows/s  accepted {counts['accepted']:,} rejected "
            f"{counts['rejected']:,} matched {counts['matched_households']:,}  "
            f"peak RSS {peak:,.0f} MiB (idle {idle:,.0f})",
            flush=True,
        )
    if args.record:
        pg = asyncio.run(server_settings(args.database_url))
        table = "\n".join(
            f"| {count:,} | {fmt} | {size / 2**20:.1f} | {seconds:.2f} | {count / seconds:,.0f} "
            f"| {c['accepted']:,} / {c['rejected']:,} / {c['matched_households']:,} "
            f"| {idle:,.0f} | {peak:,.0f} |"
            for count, fmt, size, seconds, c, idle, peak in results
        )
        section = f"""
### Department warning batch upload — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC

Machine: {machine()}. PostgreSQL {pg["server_version"]} on the same machine. API: uvicorn, one
worker, a fresh process per upload; client: httpx on the same machine. Data:
{REGISTERED:,} registered households; batches generated by `python -m bench.warning_batch`.

{HEAD}
{table}
"""
        path = Path(__file__).with_name("RESULTS.md")
        path.write_text(path.read_text() + section)


if __name__ == "__main__":
    main()
