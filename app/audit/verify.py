"""The offline verifier: checks an audit bundle with neither the server nor the database.

A bundle is a directory:

``manifest.json``
    format, origin, the signing public key, the selection, the tree size it is cut at.
``checkpoints.jsonl``
    every signed checkpoint up to that size.
``events.tsv``
    one line per event in log order: ``log index ⇥ event hash ⇥ canonical JSON``, where the
    JSON is exactly the bytes the hash covers (RFC 8785 over the event's fields and
    ``prev_hash``; canonical JSON has no tab or newline, so the line splits unambiguously).
``heads.jsonl``
    each case's head as the database holds it (version, state, last hash).
``proofs.jsonl``, ``consistency.jsonl``
    only in bundles of part of the log: each event's inclusion proof in the newest
    checkpoint, and consistency proofs between consecutive checkpoints.

Checks: each checkpoint's Ed25519 signature (against a pinned key when given); each event's
hash over its bytes; each case's chain (seq 1, 2, …; ``prev_hash`` is the previous hash);
replay of every event through its case's own workflow version, on the transition table
compiled from that definition (event legal from the replayed state, for the actor's role,
leading to the recorded state); the Merkle root at every checkpoint size recomputed from the
leaves (a full bundle: this is also consistency between every pair) or each inclusion and
consistency proof (a partial one); the log gap-free and not truncated; each head matches the
replayed end of its chain. Every problem names the log index, case and seq where it is.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.audit import merkle
from app.audit.signing import checkpoint_message, key_id, note_body, verify
from app.core.canonical import GENESIS_HASH

FORMAT = "fangfanpin-audit-bundle/v1"
MAX_PROBLEMS = 1000


@dataclass(frozen=True)
class Problem:
    code: str
    detail: str
    log_index: int | None = None
    case_id: str | None = None
    seq: int | None = None

    def __str__(self) -> str:
        where = []
        if self.log_index is not None:
            where.append(f"log index {self.log_index}")
        if self.case_id is not None:
            where.append(f"case {self.case_id}" + (f" seq {self.seq}" if self.seq else ""))
        return f"[{self.code}] {', '.join(where) + ': ' if where else ''}{self.detail}"


@dataclass
class Report:
    events: int = 0
    cases: int = 0
    checkpoints: int = 0
    tree_size: int = 0
    seconds: float = 0.0
    key_pinned: bool = False
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first(self) -> Problem | None:
        return self.problems[0] if self.problems else None


@dataclass
class _Chain:
    seq: int
    hash: str
    state: str
    workflow: str


Tables = dict[str, dict[tuple[str, str], tuple[str, frozenset[str]]]]


def _tables() -> Tables:
    from workflows.case import WORKFLOWS

    return {version: flow.transitions for version, flow in WORKFLOWS.items()}


def verify_bundle(
    bundle: Path,
    *,
    public_key: str | list[str] | None = None,
    progress: Callable[[int], None] | None = None,
    progress_every: int = 100_000,
) -> Report:
    """Check everything in ``bundle``; ``public_key`` (base64, or several after a rotation)
    pins the signing keys: each checkpoint must verify with the pinned key of its key id."""
    started = time.perf_counter()
    pinned = [public_key] if isinstance(public_key, str) else public_key
    report = Report(key_pinned=pinned is not None)
    problems = report.problems

    def problem(code: str, detail: str, **where: Any) -> None:
        if len(problems) < MAX_PROBLEMS:
            problems.append(Problem(code, detail, **where))

    manifest = json.loads((bundle / "manifest.json").read_text("utf-8"))
    if manifest.get("format") != FORMAT:
        problem("bundle_format", f"not a {FORMAT} bundle")
        return report
    full = manifest["selection"] == {}
    report.tree_size = tree_size = int(manifest["tree_size"])
    carried = manifest.get("public_keys") or {manifest["key_id"]: manifest["public_key"]}
    keys = carried if pinned is None else {key_id(base64.b64decode(k)): k for k in pinned}
    if pinned is not None and manifest["public_key"] not in pinned:
        problem("key_mismatch", "the bundle names a signing key other than the pinned one")
    if pinned is None:
        report.notes.append("signing key taken from the bundle itself; pin it with --public-key")

    # checkpoints: signatures first; only signed ones are trusted afterwards
    signed: list[dict[str, Any]] = []
    for line in _lines(bundle / "checkpoints.jsonl"):
        point = json.loads(line)
        report.checkpoints += 1
        message = checkpoint_message(
            point["origin"], int(point["tree_size"]), point["root_hash"], point["created_at"]
        )
        note = point.get("note_signature")
        body = note_body(point["origin"], int(point["tree_size"]), point["root_hash"])
        key = keys.get(point.get("key_id", manifest["key_id"]), "")
        if point["origin"] != manifest["origin"] or not verify(key, message, point["signature"]):
            problem(
                "checkpoint_signature",
                f"checkpoint of tree size {point['tree_size']} is "
                "not signed by the log's key (forged or altered)",
            )
        elif note is not None and not verify(key, body, note):
            problem(
                "checkpoint_signature",
                f"checkpoint of tree size {point['tree_size']}: "
                "its signed note does not verify (forged or altered)",
            )
        else:
            signed.append(point)
    signed.sort(key=lambda p: int(p["tree_size"]))
    head = next((p for p in signed if int(p["tree_size"]) == tree_size), None)
    if head is None:
        problem(
            "checkpoint_missing",
            f"no validly signed checkpoint of tree size {tree_size}, the size the bundle is cut at",
        )

    tables = _tables()
    chains: dict[str, _Chain] = {}
    frontier = merkle.Frontier()
    pending = [p for p in signed if int(p["tree_size"]) <= tree_size]
    proofs = _lines(bundle / "proofs.jsonl") if not full else None
    expected_index, last_index = 0, -1
    while full and pending and int(pending[0]["tree_size"]) == 0:  # the empty log's head
        if pending.pop(0)["root_hash"] != merkle.EMPTY_ROOT.hex():
            problem("root_mismatch", "the empty log's checkpoint has another root")
    verified_size, root_failed = 0, False

    for line in _lines(bundle / "events.tsv"):
        index_text, claimed, document = line.split(b"\t", 2)
        index, claimed_hash = int(index_text), claimed.decode()
        report.events += 1
        if progress is not None and report.events % progress_every == 0:
            progress(report.events)
        if full and index != expected_index:
            what = "missing" if index > expected_index else "repeated or out of order"
            problem(
                "log_gap",
                f"expected log index {expected_index}, found {index} (entries {what})",
                log_index=index,
            )
        elif not full and index <= last_index:
            problem("log_order", f"log index {index} follows {last_index}", log_index=index)
        expected_index, last_index = index + 1, index

        try:
            event = json.loads(document)
            case_id, seq = event["case_id"], int(event["seq"])
        except (ValueError, KeyError, TypeError):
            problem("event_malformed", "not an event document", log_index=index)
            continue
        where = {"log_index": index, "case_id": case_id, "seq": seq}
        if hashlib.sha256(document).hexdigest() != claimed_hash:
            problem(
                "event_altered", "the event's content does not hash to its recorded hash", **where
            )

        chain = chains.get(case_id)
        if chain is None:
            chain = chains[case_id] = _Chain(0, GENESIS_HASH, "new", event["workflow_version"])
        if seq != chain.seq + 1:
            problem("chain_seq", f"seq {seq} follows seq {chain.seq} of the case", **where)
        if event["prev_hash"] != chain.hash:
            problem(
                "chain_broken", "prev_hash is not the hash of the case's previous event", **where
            )
        if event["workflow_version"] != chain.workflow:
            problem(
                "workflow_changed",
                f"{event['workflow_version']} in a case pinned to {chain.workflow}",
                **where,
            )
        table = tables.get(chain.workflow)
        if table is None:
            if chain.seq == 0:  # once per case; its events are not replayed
                problem(
                    "workflow_unknown",
                    f"workflow {chain.workflow} is not known to this verifier",
                    **where,
                )
            chain.state = event["to_state"]
        else:
            step = table.get((event["name"], chain.state))
            if event["from_state"] != chain.state:
                problem(
                    "replay_state",
                    f"recorded from {event['from_state']}, replay stands in {chain.state}",
                    **where,
                )
            if step is None:
                problem(
                    "replay_illegal",
                    f"{event['name']} is not possible from {chain.state} in {chain.workflow}",
                    **where,
                )
            else:
                target, roles = step
                if event["actor"]["role"] not in roles:
                    problem(
                        "replay_role",
                        f"{event['actor']['role']} may not record {event['name']}",
                        **where,
                    )
                if event["to_state"] != target:
                    problem(
                        "replay_state",
                        f"recorded to {event['to_state']}, replay reaches {target}",
                        **where,
                    )
                chain.state = target
        chain.seq, chain.hash = seq, claimed_hash

        leaf = merkle.leaf_hash(bytes.fromhex(claimed_hash))
        if full:
            frontier.append(leaf)
            while pending and int(pending[0]["tree_size"]) == frontier.size:
                point = pending.pop(0)
                if frontier.root().hex() != point["root_hash"] and not root_failed:
                    root_failed = True
                    problem(
                        "root_mismatch",
                        f"the first {point['tree_size']} entries do not "
                        f"hash to the signed root: an entry in [{verified_size}, "
                        f"{point['tree_size']}) was altered, inserted, removed or "
                        "reordered",
                        log_index=verified_size,
                    )
                elif not root_failed:
                    verified_size = frontier.size
        elif proofs is not None and head is not None:
            proof = json.loads(next(proofs, b"null") or b"null")
            path = [bytes.fromhex(p) for p in (proof or {}).get("path", [])]
            if (
                proof is None
                or proof.get("log_index") != index
                or not merkle.verify_inclusion(
                    leaf, index, tree_size, path, bytes.fromhex(head["root_hash"])
                )
            ):
                problem("not_included", "the event is not included in the signed root", **where)

    if full and frontier.size < tree_size:
        problem(
            "log_truncated",
            f"the bundle holds {frontier.size} entries; the checkpoint signs {tree_size}",
            log_index=frontier.size,
        )
    for point in pending:
        if full:
            problem(
                "log_truncated",
                f"a checkpoint signs {point['tree_size']} entries; the "
                f"bundle ends at {frontier.size}",
            )
    if not full:
        _check_consistency(bundle, signed, problem)
    else:
        report.notes.append(
            f"{len(signed)} checkpoint roots recomputed from one leaf sequence: "
            "each is consistent with every earlier one"
        )

    beyond = 0
    for line in _lines(bundle / "heads.jsonl"):
        head_row = json.loads(line)
        chain = chains.get(head_row["case_id"])
        if chain is None:
            problem(
                "head_without_trail",
                "a case with no events in the bundle",
                case_id=head_row["case_id"],
            )
        elif head_row["version"] < chain.seq:
            problem(
                "head_behind",
                f"the case row says version {head_row['version']}, its trail reaches {chain.seq}",
                case_id=head_row["case_id"],
            )
        elif head_row["version"] > chain.seq:
            beyond += 1
        elif head_row["state"] != chain.state or head_row["last_hash"] != chain.hash:
            problem(
                "head_mismatch",
                f"the case row stands in {head_row['state']}; replay ends in {chain.state}",
                case_id=head_row["case_id"],
                seq=chain.seq,
            )
    if beyond:
        report.notes.append(f"{beyond} case(s) moved on after the bundle's checkpoint")
    report.cases = len(chains)
    report.seconds = time.perf_counter() - started
    # events named exactly first, then ranges (a root over many entries), then the rest
    report.problems.sort(
        key=lambda p: (p.code == "root_mismatch", p.log_index is None, p.log_index or 0)
    )
    return report


def _check_consistency(
    bundle: Path, signed: list[dict[str, Any]], problem: Callable[..., None]
) -> None:
    roots = {int(p["tree_size"]): bytes.fromhex(p["root_hash"]) for p in signed}
    for line in _lines(bundle / "consistency.jsonl"):
        proof = json.loads(line)
        first, second = int(proof["first"]), int(proof["second"])
        if first not in roots or second not in roots:
            continue
        if not merkle.verify_consistency(
            first, second, roots[first], roots[second], [bytes.fromhex(p) for p in proof["proof"]]
        ):
            problem(
                "inconsistent_checkpoints",
                f"the tree of {second} does not extend the signed tree of {first}",
            )


def _lines(path: Path) -> Iterator[bytes]:
    if not path.exists():
        return
    with path.open("rb") as lines:
        for line in lines:
            if line := line.rstrip(b"\n"):
                yield line


__all__ = ["FORMAT", "Problem", "Report", "verify_bundle"]
