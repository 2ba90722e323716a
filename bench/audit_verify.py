"""`audit verify` speed on a generated bundle of one million events.

    python -m bench.audit_verify [--events 1000000] [--record]

The generator writes a bundle exactly as the exporter does (``app.audit.bundle``): each line
is ``log index ⇥ hash ⇥ canonical JSON`` (RFC 8785 via ``app.core.canonical``), chained per
case, with Ed25519-signed checkpoints every 100,000 events and at the end. Cases are random
walks on the compiled transition table of case-v1 — every event legal for its state and
role, so the verifier replays all of them — interleaved in the log as a city's cases are.
Payloads are sized like the service's (a few hundred bytes of canonical JSON). The verifier is
then timed as ``fangfanpin audit verify`` runs it (replay included); peak memory is the
process's high-water mark. ``--record`` appends the result to ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import platform
import random
import resource
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from app.audit import merkle
from app.audit.signing import Signer, checkpoint_message
from app.audit.verify import FORMAT, verify_bundle
from app.core.canonical import event_document, utc_iso
from workflows.case import CASE_V1

SEED = base64.b64encode(b"fangfanpin-benchmark-signing-key").decode()
ORIGIN = "bench.fangfanpin"
ACTIVE = 2000  # cases written to at the same time
MAX_EVENTS_PER_CASE = 40


def payload(rng: random.Random, name: str) -> dict[str, object]:
    return {
        "procedure": "identification",
        "present": rng.randint(20, 60),
        "note": f"{name}: 入户核实, 家庭成员 {rng.randint(1, 8)} 人, 收入与支出已核对",
        "observed": {
            "members_with_labour": rng.randint(0, 4),
            "income_lines": [
                {"kind": "wage", "yuan": rng.randint(1000, 20000)},
                {"kind": "transfer", "yuan": rng.randint(0, 3000)},
            ],
        },
    }


def generate(out: Path, events: int, seed: int = 7) -> dict[str, object]:
    rng = random.Random(seed)
    table = CASE_V1.transitions
    by_state: dict[str, list[tuple[str, str, list[str]]]] = {}
    for (name, source), (target, roles) in table.items():
        by_state.setdefault(source, []).append((name, target, sorted(roles)))
    signer = Signer(SEED)
    start = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)
    out.mkdir(parents=True)
    frontier = merkle.Frontier()
    checkpoints: list[dict[str, object]] = []
    cases: dict[str, list[object]] = {}  # id -> [seq, hash, state]
    active: list[str] = []
    heads: dict[str, tuple[int, str, str]] = {}
    serial = 0
    with (out / "events.tsv").open("wb") as file:
        for index in range(events):
            if len(active) < ACTIVE:
                serial += 1
                case_id = f"{serial:08d}-0000-4000-8000-000000000000"
                cases[case_id] = [0, "0" * 64, "new"]
                active.append(case_id)
            slot = rng.randrange(len(active))
            case_id = active[slot]
            seq, prev, state = cases[case_id]
            assert isinstance(seq, int)
            assert isinstance(prev, str)
            assert isinstance(state, str)
            name, target, allowed = rng.choice(by_state[state])
            when = start + timedelta(seconds=index * 3)
            fields = {
                "case_id": case_id,
                "seq": seq + 1,
                "name": name,
                "from_state": state,
                "to_state": target,
                "actor": {
                    "sub": f"user.{rng.randint(1, 300)}",
                    "role": rng.choice(allowed),
                    "area": "220281102200",
                },
                "occurred_at": utc_iso(when),
                "workflow_version": CASE_V1.version,
                "policy_version": "jiaohe-2022",
                "payload": payload(rng, name),
            }
            document = event_document(fields, prev)
            digest = hashlib.sha256(document).hexdigest()
            file.write(b"%d\t%s\t%s\n" % (index, digest.encode(), document))
            frontier.append(merkle.leaf_hash(bytes.fromhex(digest)))
            cases[case_id] = [seq + 1, digest, target]
            heads[case_id] = (seq + 1, target, digest)
            if seq + 1 >= MAX_EVENTS_PER_CASE or target not in {s for s, _ in by_state.items()}:
                active[slot] = active[-1]
                active.pop()
            if frontier.size % 100_000 == 0 or frontier.size == events:
                root, at = frontier.root().hex(), utc_iso(when)
                checkpoints.append(
                    {
                        "tree_size": frontier.size,
                        "root_hash": root,
                        "origin": ORIGIN,
                        "created_at": at,
                        "key_id": signer.key_id,
                        "signature": signer.sign(
                            checkpoint_message(ORIGIN, frontier.size, root, at)
                        ),
                    }
                )
    with (out / "checkpoints.jsonl").open("w") as file:
        file.writelines(json.dumps(p) + "\n" for p in checkpoints)
    with (out / "heads.jsonl").open("w") as file:
        file.writelines(
            json.dumps({"case_id": c, "version": v, "state": s, "last_hash": h}) + "\n"
            for c, (v, s, h) in heads.items()
        )
    manifest = {
        "format": FORMAT,
        "origin": ORIGIN,
        "public_key": signer.public_key_b64,
        "key_id": signer.key_id,
        "selection": {},
        "tree_size": events,
        "events": events,
        "created_at": utc_iso(start),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--record", action="store_true")
    parser.add_argument("--keep", type=Path, help="Write the bundle here and keep it.")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ffp-bundle-"))
    bundle = args.keep or work / "bundle"
    try:
        began = time.perf_counter()
        generate(bundle, args.events)
        generated = time.perf_counter() - began
        size_mb = (bundle / "events.tsv").stat().st_size / 2**20
        print(f"generated {args.events:,} events ({size_mb:,.0f} MiB) in {generated:.1f} s")
        report = verify_bundle(
            bundle,
            public_key=Signer(SEED).public_key_b64,
            progress=lambda n: print(f"  {n:,}", file=sys.stderr),
        )
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        rate = report.events / report.seconds
        print(
            f"verified {report.events:,} events, {report.cases:,} cases, {report.checkpoints} "
            f"checkpoints in {report.seconds:.2f} s = {rate:,.0f} events/s; ok={report.ok}; "
            f"peak RSS {peak:,.0f} MiB (generator included)"
        )
        if not report.ok:
            print("\n".join(str(p) for p in report.problems[:10]))
            sys.exit(1)
        if args.record:
            record(
                args.events, size_mb, report.cases, report.checkpoints, report.seconds, rate, peak
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def record(
    events: int,
    size_mb: float,
    cases: int,
    checkpoints: int,
    seconds: float,
    rate: float,
    peak: float,
) -> None:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    section = f"""
### `audit verify` on a generated bundle — {now}

Machine: {os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, one process.
Bundle: {events:,} events ({size_mb:,.0f} MiB of events.tsv), {cases:,} cases, {checkpoints}
signed checkpoints; generated by `python -m bench.audit_verify --events {events}`.

| events | seconds | events/s | goal | peak RSS MiB |
|---:|---:|---:|---:|---:|
| {events:,} | {seconds:.2f} | {rate:,.0f} | 50,000 | {peak:,.0f} |
"""
    path = Path(__file__).with_name("RESULTS.md")
    path.write_text(path.read_text() + section)


if __name__ == "__main__":
    main()
