"""An answer's head and body sent as one write (``app.core.serving``) against uvicorn's own
protocol, which sends them as two: the server's CPU a request and requests a second.

    python -m bench.serving [--pairs 4] [--duration 6] [--record]

A minimal app (a 2 KB JSON answer with an ETag, as a case's answer is sent: no database, no
middleware) is served by uvicorn on uvloop, one worker, without and with
:class:`app.core.serving.HttpProtocol`, in turns (the hosts here change pace within
minutes, so the two are measured in pairs, each pair within a few seconds); wrk drives it
with 8 connections on the same cores. What the connection costs is most of such a
request, so the difference shows here; in a write of about a millisecond it is within the
host's noise. Server CPU is read from /proc (user and system: the ``send`` calls and TCP
segments the change saves are the kernel's work).
"""

from __future__ import annotations

import argparse
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app.core.serving import HTTP
from bench.transitions import HERE, cpu_seconds, machine, publish, reference_loop

BODY = b'{"id":"c1","facts":' + b'{"k":"' + b"v" * 2000 + b'"}}'
HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", b"%d" % len(BODY)),
    (b"etag", b'"7"'),
]
PROTOCOLS = {"uvicorn's httptools (two writes)": "httptools", "app.core.serving (one)": HTTP}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The answer every request gets."""
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})


@dataclass
class Run:
    protocol: str
    requests: int
    seconds: float
    cpu: float

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_us(self) -> float:
        return self.cpu / self.requests * 1e6


def wrk(port: int, seconds: int) -> tuple[int, float]:
    """Requests wrk completed at 8 connections in ``seconds``, and the seconds it ran."""
    done = subprocess.run(
        ["wrk", "-t1", "-c8", f"-d{seconds}s", f"http://127.0.0.1:{port}/"],
        capture_output=True,
        text=True,
        check=True,
    )
    found = re.search(r"(\d+) requests in ([\d.]+)(m?s)", done.stdout)
    if found is None or "Non-2xx" in done.stdout or "Socket errors" in done.stdout:
        raise SystemExit(f"wrk did not run cleanly:\n{done.stdout}")
    took = float(found.group(2)) / (1000 if found.group(3) == "ms" else 1)
    return int(found.group(1)), took


def measure(protocol: str, port: int, seconds: int) -> Run:
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.serving:app",
            "--port",
            str(port),
            "--loop",
            "uvloop",
            "--http",
            protocol,
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        cwd=HERE.parent,
        stdout=subprocess.DEVNULL,
    )
    try:
        until_listening(port)
        wrk(port, 1)  # warm
        before = cpu_seconds(server.pid)
        requests, took = wrk(port, seconds)
        return Run(protocol, requests, took, cpu_seconds(server.pid) - before)
    finally:
        server.terminate()
        server.wait()


def until_listening(port: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"the server on port {port} did not come up")


def report(runs: list[Run], args: Any) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    rows = []
    for name, protocol in PROTOCOLS.items():
        mine = [r for r in runs if r.protocol == protocol]
        cpu = ", ".join(f"{r.cpu_us:.1f}" for r in mine)
        rate = ", ".join(f"{r.per_second:,.0f}" for r in mine)
        median = statistics.median(r.cpu_us for r in mine)
        rows.append(f"| {name} | {cpu} | {median:.1f} | {rate} |")
    return (
        f"### An answer's head and body in one write — {when}\n\n"
        f"Machine: {machine()}. Python {sys.version.split()[0]}; uvicorn on uvloop, one "
        f"worker, a {len(BODY):,}-byte JSON answer; wrk at 8 connections on the same cores, "
        f"{args.duration} s a run, {args.pairs} pairs in turns (the reference loop read "
        f"{args.loops} s between them).\n\n"
        "| protocol | server CPU µs/request, each run | median | requests/s, each run |\n"
        "|---|---|---:|---|\n" + "\n".join(rows) + "\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=4)
    parser.add_argument("--duration", type=int, default=6, help="seconds a run")
    parser.add_argument("--port", type=int, default=8124)
    parser.add_argument("--record", action="store_true", help="append to bench/RESULTS.md")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed (apt-get install wrk)")
    runs, loops = [], []
    for _ in range(args.pairs):
        loops.append(reference_loop())
        for protocol in PROTOCOLS.values():
            run = measure(protocol, args.port, args.duration)
            print(f"{protocol}: {run.per_second:,.0f} requests/s, {run.cpu_us:.1f} µs each")
            runs.append(run)
    args.loops = f"{min(loops):.2f}–{max(loops):.2f}"
    publish(report(runs, args), record=args.record)


if __name__ == "__main__":
    main()
