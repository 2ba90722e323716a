"""The console's budget: the first page's compressed JavaScript (goal < 300 KB) and the inbox
of a village's cases rendered in the browser (goal: 500 cases in under 1 s).

Serves a fresh demo (SQLite unless ``--database-url``), opens ``--cases`` cases in one village
through the API, then measures in headless Chromium (bench/console.mjs): the JavaScript the
first page loads, gzipped at level 9, and the time from reloading the console to the inbox
table holding every case, five times (median). ``make bench-console``; results in RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from app.households import idnumber
from bench.transitions import wait_ready

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=500)
    parser.add_argument("--port", type=int, default=8790)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--record", action="store_true", help="Append the run to RESULTS.md.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        env = {**os.environ, "FANGFANPIN_DEMO": "1"}
        env["DATABASE_URL"] = args.database_url or f"sqlite+aiosqlite:///{scratch}/bench.sqlite3"
        for name in ("DATABASE_MIGRATION_URL", "DATABASE_APP_ROLE"):
            env.pop(name, None)
        cli = [sys.executable, "-m", "app.cli"]
        subprocess.run([*cli, "migrate"], env=env, cwd=ROOT, check=True, capture_output=True)
        subprocess.run([*cli, "demo"], env=env, cwd=ROOT, check=True, capture_output=True)
        server = subprocess.Popen(
            [*cli, "serve", "--port", str(args.port)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_ready(args.port)
            base = f"http://127.0.0.1:{args.port}"
            opened = open_cases(base, args.cases)
            command = ["node", "bench/console.mjs", base, str(opened)]
            done = subprocess.run(
                command, cwd=ROOT, capture_output=True, text=True, timeout=600, check=True
            )
            lines = report(json.loads(done.stdout.strip().splitlines()[-1]), opened)
            if args.record:
                record(lines, args.database_url or "SQLite (embedded)")
        finally:
            server.terminate()
            server.wait(timeout=30)


def open_cases(base: str, count: int) -> int:
    token = httpx.post(f"{base}/api/v1/demo/tokens", json={"user": "cadre.pinggang"}).json()
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    started = time.perf_counter()
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        for serial in range(count):
            born = date(1950, 1, 1) + timedelta(days=serial * 37)
            number = idnumber.make(f"220281{born:%Y%m%d}{serial % 1000:03d}")
            answer = client.post(
                "/api/v1/cases",
                json={
                    "channel": "cadre_found",
                    "description": "bench",
                    "risk_type": "illness",
                    "household": {
                        "head_name": f"户主{serial}",
                        "head_id_number": number,
                        "village_code": "220281102200",
                        "size": 2,
                    },
                },
            )
            answer.raise_for_status()
    print(f"opened {count} cases in {time.perf_counter() - started:.1f} s")
    return count


def report(measured: dict[str, Any], cases: int) -> list[str]:
    kb = measured["firstLoadGzip"] / 1024
    median = measured["inboxMedianMs"]
    lines = [
        f"first page: {len(measured['firstLoadScripts'])} script(s), {kb:.1f} KB gzipped "
        f"(goal < 300 KB): {'met' if kb < 300 else 'MISSED'}",
        f"inbox of {cases} cases rendered in {median} ms median of {measured['inboxMs']} "
        f"(goal < 1000 ms): {'met' if median < 1000 else 'MISSED'}",
    ]
    for line in lines:
        print(line)
    return lines


def record(lines: list[str], database: str) -> None:
    chromium = subprocess.run(
        ["/usr/bin/chromium", "--version"], capture_output=True, text=True
    ).stdout.strip()
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    section = [
        f"### Console — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"Machine: {os.cpu_count()} cores, {memory:.0f} GiB, {platform.platform()}. "
        f"{chromium}, headless, on the same machine as the server (uvicorn, 1 worker, "
        f"{database}).",
        "",
        *(f"- {line}" for line in lines),
        "",
    ]
    results = ROOT / "bench" / "RESULTS.md"
    results.write_text(results.read_text().rstrip("\n") + "\n\n" + "\n".join(section))


if __name__ == "__main__":
    main()
