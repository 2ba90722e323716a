"""Audit bundles checked offline: a clean trail passes, and every kind of tampering — by an
attacker with superuser rights on the database, or with the bundle file in hand — is caught
and located at the event where it happened."""

from __future__ import annotations

import base64
import json
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, text
from typer.testing import CliRunner

from app.audit.bundle import export
from app.audit.signing import Signer, checkpoint_message, note_body
from app.audit.verify import Report, verify_bundle
from app.cases.models import CaseEvent
from app.cli import cli
from app.core.canonical import event_document, event_hash
from app.core.db import make_engine, make_sessionmaker
from tests.helpers import Api, owner_url

OTHER_KEY = base64.b64encode(b"an attacker's own ed25519 seed!!").decode()


async def make_bundle(api: Api, out: Path, **selection: Any) -> Path:
    engine = make_engine(api.settings.database_url)
    try:
        await export(make_sessionmaker(engine), api.settings, api.clock.now(), out, **selection)
    finally:
        await engine.dispose()
    return out


def check(bundle: Path, api: Api, **kwargs: Any) -> Report:
    return verify_bundle(
        bundle, public_key=Signer(api.settings.audit_signing_key).public_key_b64, **kwargs
    )


async def checkpoint(api: Api) -> dict[str, Any]:
    response = await api.post("bureau.jiaohe", "/api/v1/audit/checkpoints")
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


async def trail(api: Api) -> list[str]:
    """Two assisted cases and one fresh one, checkpointed along the way."""
    first = await api.to_assisted()
    await checkpoint(api)
    second = await api.to_assisted()
    await checkpoint(api)
    third = await api.open_case("cadre_found", user="cadre.laodong", village="220281105200")
    return [first, second, str(third["id"])]


def lines(bundle: Path) -> list[bytes]:
    return (bundle / "events.tsv").read_bytes().splitlines(keepends=True)


def rewrite(bundle: Path, new: list[bytes]) -> None:
    (bundle / "events.tsv").write_bytes(b"".join(new))


def parse(line: bytes) -> tuple[int, str, dict[str, Any]]:
    index, digest, document = line.rstrip(b"\n").split(b"\t", 2)
    return int(index), digest.decode(), json.loads(document)


def locate(lines_: list[bytes], case_id: str, seq: int) -> int:
    """The position of a case's event in the bundle."""
    events = [parse(line)[2] for line in lines_]
    return next(i for i, e in enumerate(events) if (e["case_id"], e["seq"]) == (case_id, seq))


# --- the untouched trail -----------------------------------------------------------------------


async def test_a_clean_trail_verifies_offline_with_every_check(api: Api, tmp_path: Path) -> None:
    cases = await trail(api)
    bundle = await make_bundle(api, tmp_path / "all")
    seen: list[int] = []
    report = check(bundle, api, progress=seen.append, progress_every=5)
    assert report.ok, [str(p) for p in report.problems]
    assert report.cases == 3
    assert report.checkpoints == 3
    assert report.events == len(lines(bundle)) == report.tree_size
    assert seen
    assert seen[0] == 5
    assert {parse(line)[2]["case_id"] for line in lines(bundle)} == set(cases)


async def test_an_area_or_a_period_exports_whole_cases_with_proofs(
    api: Api, tmp_path: Path
) -> None:
    *_, third = await trail(api)
    area = await make_bundle(api, tmp_path / "area", area="220281105")
    report = check(area, api)
    assert report.ok, [str(p) for p in report.problems]
    assert {parse(line)[2]["case_id"] for line in lines(area)} == {third}
    assert (area / "proofs.jsonl").exists()
    assert (area / "consistency.jsonl").exists()
    api.clock.advance(timedelta(days=3))
    await api.must("cadre.laodong", third, "start_village_review")
    period = await make_bundle(api, tmp_path / "period", since=api.clock.now() - timedelta(hours=1))
    report = check(period, api)
    assert report.ok, [str(p) for p in report.problems]
    events = [parse(line)[2] for line in lines(period)]
    assert {e["case_id"] for e in events} == {third}
    assert [e["seq"] for e in events] == [1, 2]  # the whole chain, not only the period's event


async def test_the_command_line_verifies_and_fails_with_the_location(
    api: Api, tmp_path: Path
) -> None:
    await trail(api)
    bundle = await make_bundle(api, tmp_path / "cli")
    key = Signer(api.settings.audit_signing_key).public_key_b64
    runner = CliRunner()
    passed = runner.invoke(cli, ["audit", "verify", str(bundle), "--public-key", key])
    assert passed.exit_code == 0
    assert "OK: every check passed" in passed.output
    content = lines(bundle)
    content[5] = content[5].replace(b'"seq":', b'"seq": ', 1)
    rewrite(bundle, content)
    failed = runner.invoke(cli, ["audit", "verify", str(bundle), "--public-key", key])
    assert failed.exit_code == 1
    assert "[event_altered] log index 5" in failed.output


# --- an attacker with the database -------------------------------------------------------------


async def superuser(api: Api, statements: list[tuple[str, dict[str, Any]]]) -> None:
    """Statements run with the append-only triggers out of the way, as a superuser can."""
    tables = ("case_event", "audit_log", "audit_node", "audit_checkpoint")
    engine = make_engine(owner_url(api.settings))
    async with engine.begin() as connection:
        postgres = api.settings.database_url.startswith("postgresql")
        for table in tables:
            if postgres:
                await connection.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
            else:
                for operation in ("update", "delete"):
                    await connection.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_{operation}"))
        for statement, params in statements:
            await connection.execute(text(statement), params)
        if postgres:
            for table in tables:
                await connection.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
    await engine.dispose()


async def log_index_of(api: Api, case_id: str, seq: int) -> int:
    engine = make_engine(api.settings.database_url)
    async with engine.connect() as connection:
        index = await connection.scalar(
            text(
                "SELECT l.log_index FROM audit_log l JOIN case_event e ON e.id = l.event_id"
                " WHERE e.case_id = :c AND e.seq = :s"
            ),
            {"c": case_id, "s": seq},
        )
    await engine.dispose()
    assert index is not None
    return int(index)


async def test_a_field_changed_in_the_database_is_located(api: Api, tmp_path: Path) -> None:
    first, _, _ = await trail(api)
    index = await log_index_of(api, first, 4)
    await superuser(
        api,
        [
            (
                "UPDATE case_event SET actor_sub = 'someone.else' WHERE case_id = :c AND seq = 4",
                {"c": first},
            )
        ],
    )
    report = check(await make_bundle(api, tmp_path / "b"), api)
    assert report.first is not None
    assert (report.first.code, report.first.log_index, report.first.case_id, report.first.seq) == (
        "event_altered",
        index,
        first,
        4,
    )


async def test_an_event_deleted_from_the_database_is_located(api: Api, tmp_path: Path) -> None:
    first, _, _ = await trail(api)
    index = await log_index_of(api, first, 3)
    await superuser(
        api,
        [
            ("DELETE FROM audit_log WHERE log_index = :i", {"i": index}),
            ("DELETE FROM case_event WHERE case_id = :c AND seq = 3", {"c": first}),
        ],
    )
    report = check(await make_bundle(api, tmp_path / "b"), api)
    codes = {(p.code, p.log_index) for p in report.problems}
    assert ("log_gap", index + 1) in codes  # the entry after the hole
    assert any(p.code == "chain_seq" and p.case_id == first and p.seq == 4 for p in report.problems)


async def test_a_rewritten_and_rehashed_case_is_caught_by_the_signed_root(
    api: Api, tmp_path: Path
) -> None:
    """The attacker edits an event and recomputes every hash after it, case row included:
    each chain is consistent again, but the checkpoint signed before does not match."""
    first, _, _ = await trail(api)
    signed = await checkpoint(api)
    engine = make_engine(api.settings.database_url)
    async with make_sessionmaker(engine)() as session:
        events = (
            (
                await session.execute(
                    select(CaseEvent).where(CaseEvent.case_id == first).order_by(CaseEvent.seq)
                )
            )
            .scalars()
            .all()
        )
    await engine.dispose()
    statements: list[tuple[str, dict[str, Any]]] = []
    prev = events[0].prev_hash
    for event in events:
        fields = event.hashed_fields()
        if event.seq == 2:
            fields["actor"]["sub"] = "someone.else"
        digest = event_hash(fields, prev)
        statements.append(
            (
                "UPDATE case_event SET actor_sub = :a, prev_hash = :p, hash = :h WHERE id = :i",
                {"a": fields["actor"]["sub"], "p": prev, "h": digest, "i": event.id},
            )
        )
        prev = digest
    statements.append(
        ("UPDATE monitoring_case SET last_hash = :h WHERE id = :c", {"h": prev, "c": first})
    )
    await superuser(api, statements)
    bundle = await make_bundle(api, tmp_path / "b")
    report = check(bundle, api)
    assert [p.code for p in report.problems] == ["root_mismatch"]
    changed = await log_index_of(api, first, 2)
    first_signed = json.loads((bundle / "checkpoints.jsonl").read_text().splitlines()[0])
    assert report.problems[0].log_index == 0
    assert changed < first_signed["tree_size"]
    assert signed["tree_size"] == report.tree_size


# --- an attacker with the bundle file ----------------------------------------------------------


async def test_file_tampering_of_each_kind_is_detected_and_located(
    api: Api, tmp_path: Path
) -> None:
    first, second, _ = await trail(api)
    pristine = await make_bundle(api, tmp_path / "pristine")
    original = lines(pristine)

    def attacked(name: str, new_lines: list[bytes]) -> Report:
        bundle = tmp_path / name
        bundle.mkdir()
        for part in pristine.iterdir():
            (bundle / part.name).write_bytes(part.read_bytes())
        rewrite(bundle, new_lines)
        return check(bundle, api)

    # change one field, keeping the recorded hash
    at = locate(original, first, 5)
    changed = [*original]
    changed[at] = changed[at].replace(b'"role":"', b'"role":"x', 1)
    report = attacked("changed", changed)
    assert report.first is not None
    assert (report.first.code, report.first.log_index) == (
        "event_altered",
        parse(original[at])[0],
    )

    # delete one event
    at = locate(original, second, 2)
    report = attacked("deleted", original[:at] + original[at + 1 :])
    assert report.first is not None
    assert report.first.code == "log_gap"
    assert report.first.log_index == parse(original[at + 1])[0]

    # insert one: a forged event, correctly hashed and chained onto the case's last event
    last = locate(
        original,
        first,
        max(parse(x)[2]["seq"] for x in original if parse(x)[2]["case_id"] == first),
    )
    index, digest, document = parse(original[last])
    forged = {
        **document,
        "seq": document["seq"] + 1,
        "prev_hash": digest,
        "name": "reject",
        "from_state": "assisted",
        "to_state": "rejected",
    }
    fields = {k: v for k, v in forged.items() if k != "prev_hash"}
    forged_line = b"%d\t%s\t%s\n" % (
        index + 1,
        event_hash(fields, digest).encode(),
        event_document(fields, digest),
    )
    report = attacked("inserted", [*original[: last + 1], forged_line, *original[last + 1 :]])
    problems = {(p.code, p.log_index) for p in report.problems}
    assert ("replay_illegal", index + 1) in problems or ("event_altered", index + 1) in problems
    assert ("log_gap", index + 1) in problems  # the entry after it repeats an index

    # swap two events of different cases (each chain alone stays in order)
    a, b = last, locate(original, second, 1)  # first's last event, second's first: adjacent
    assert b == a + 1
    swapped = [*original]
    ia, ib = parse(original[a])[0], parse(original[b])[0]
    swapped[a] = original[b].replace(b"%d\t" % ib, b"%d\t" % ia, 1)
    swapped[b] = original[a].replace(b"%d\t" % ia, b"%d\t" % ib, 1)
    report = attacked("swapped", swapped)
    assert [p.code for p in report.problems] == ["root_mismatch"]
    assert report.problems[0].log_index is not None
    assert report.problems[0].log_index <= ia

    # truncate the log
    report = attacked("truncated", original[:-3])
    assert [p.code for p in report.problems][:1] == ["log_truncated"]
    assert report.problems[0].log_index == len(original) - 3


def resign(signer: Signer, point: dict[str, Any]) -> str:
    message = checkpoint_message(
        point["origin"], point["tree_size"], point["root_hash"], point["created_at"]
    )
    return signer.sign(message)


async def test_a_checkpoint_forged_with_another_key_is_refused(api: Api, tmp_path: Path) -> None:
    await trail(api)
    bundle = await make_bundle(api, tmp_path / "forged")
    points = [json.loads(x) for x in (bundle / "checkpoints.jsonl").read_text().splitlines()]
    forger = Signer(OTHER_KEY)
    fake = {**points[0], "root_hash": "ab" * 32, "key_id": forger.key_id}
    fake["signature"] = resign(forger, fake)
    (bundle / "checkpoints.jsonl").write_text(
        "\n".join(json.dumps(p) for p in [fake, *points[1:]]) + "\n"
    )
    report = check(bundle, api)
    assert [(p.code, str(points[0]["tree_size"]) in p.detail) for p in report.problems] == [
        ("checkpoint_signature", True)
    ]
    # the attacker re-signs everything with their key and puts it in the manifest
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["public_key"] = forger.public_key_b64
    manifest["key_id"] = forger.key_id
    manifest["public_keys"] = {forger.key_id: forger.public_key_b64}
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    resigned = [
        {
            **p,
            "signature": resign(forger, p),
            "key_id": forger.key_id,
            "note_signature": forger.sign(
                note_body(p["origin"], int(p["tree_size"]), p["root_hash"])
            ),
        }
        for p in points
    ]
    (bundle / "checkpoints.jsonl").write_text("\n".join(json.dumps(p) for p in resigned) + "\n")
    pinned = check(bundle, api)
    assert {p.code for p in pinned.problems} >= {"key_mismatch", "checkpoint_signature"}
    unpinned = verify_bundle(bundle)  # passes on its own key, and says the key was not pinned
    assert unpinned.ok
    assert not unpinned.key_pinned
    assert any("pin it" in note for note in unpinned.notes)


async def test_a_checkpoints_note_signature_is_checked_too(api: Api, tmp_path: Path) -> None:
    await trail(api)
    bundle = await make_bundle(api, tmp_path / "note")
    points = [json.loads(x) for x in (bundle / "checkpoints.jsonl").read_text().splitlines()]
    assert all(p["note_signature"] for p in points)
    points[0]["note_signature"] = Signer(OTHER_KEY).sign(b"anything")
    (bundle / "checkpoints.jsonl").write_text("\n".join(json.dumps(p) for p in points) + "\n")
    problems = check(bundle, api).problems
    assert [p.code for p in problems][:1] == ["checkpoint_signature"]
    assert "signed note" in problems[0].detail


async def test_an_empty_log_exports_and_verifies(api: Api, tmp_path: Path) -> None:
    bundle = await make_bundle(api, tmp_path / "empty")
    report = check(bundle, api)
    assert report.ok
    assert report.events == 0
    assert report.checkpoints == 1
    points = (bundle / "checkpoints.jsonl").read_text()
    (bundle / "checkpoints.jsonl").write_text(
        points.replace('"root_hash": "e3b0', '"root_hash": "f3b0')
    )
    assert [p.code for p in check(bundle, api).problems] == [
        "checkpoint_signature",
        "checkpoint_missing",
    ]


async def test_a_bundle_is_in_the_access_log(api: Api, tmp_path: Path) -> None:
    """It carries the trail's exact bytes, older masks and all: a privileged, logged export."""
    await api.open_case()
    await make_bundle(api, tmp_path / "logged", area="220281102")
    logged = (await api.get("auditor.jiaohe", "/api/v1/access-log")).json()
    (entry,) = [e for e in logged if e["record_type"] == "audit_bundle"]
    assert entry["actor_sub"].startswith("cli:")
    assert '"area": "220281102"' in entry["purpose"]


async def test_an_auditor_downloads_the_bundle_and_it_verifies_offline(
    api: Api, tmp_path: Path
) -> None:
    cases = await trail(api)
    answer = await api.get("auditor.jiaohe", "/api/v1/audit/bundle")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/zip"
    assert answer.headers["content-disposition"].startswith("attachment; filename=")
    archive = tmp_path / "bundle.zip"
    archive.write_bytes(answer.content)
    shutil.unpack_archive(archive, tmp_path / "bundle")
    report = check(tmp_path / "bundle", api)
    assert report.ok, [str(p) for p in report.problems]
    assert {parse(line)[2]["case_id"] for line in lines(tmp_path / "bundle")} == set(cases)
    logged = (await api.get("auditor.jiaohe", "/api/v1/access-log")).json()
    bundles = [
        (e["actor_sub"], e["actor_role"]) for e in logged if e["record_type"] == "audit_bundle"
    ]
    assert bundles == [("auditor.jiaohe", "auditor")]
    assert (await api.get("cadre.pinggang", "/api/v1/audit/bundle")).status_code == 403
    one_area = await api.get("auditor.jiaohe", "/api/v1/audit/bundle", area="220281105200")
    shutil.unpack_archive(_saved(tmp_path / "area.zip", one_area.content), tmp_path / "area")
    assert {parse(line)[2]["case_id"] for line in lines(tmp_path / "area")} == {cases[2]}


def _saved(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


async def test_a_download_is_whole_when_the_request_declares_a_json_body(api: Api) -> None:
    """The text-safety check reads a JSON body ahead of the route; the file streamed after
    must still hear the client itself, not a disconnect invented once the body was read."""
    await trail(api)
    headers = {**api.headers("auditor.jiaohe"), "Content-Type": "application/json"}
    answer = await api.client.get("/api/v1/audit/bundle", headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.content.startswith(b"PK")
    assert len(answer.content) > 1000
