"""The global log: gap-free indices in commit order, signed checkpoints, served proofs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select, text

from app.audit import log, merkle
from app.audit.models import LogEntry
from app.audit.signing import checkpoint_message, verify
from app.cases.models import CaseEvent
from app.core.db import make_engine, make_sessionmaker
from tests.helpers import Api

AUDITOR, BUREAU = "auditor.jiaohe", "bureau.jiaohe"


async def checkpoint(api: Api, user: str = BUREAU, expect: int = 201) -> dict[str, Any]:
    response = await api.post(user, "/api/v1/audit/checkpoints")
    assert response.status_code == expect, response.text
    body: dict[str, Any] = response.json()
    return body


async def whole_log(api: Api) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    after = -1
    while True:
        page = (await api.get(AUDITOR, "/api/v1/audit/log", after=after, limit=7)).json()
        entries += page["items"]
        if page["next_after"] is None:
            return entries
        after = page["next_after"]


async def all_event_hashes(api: Api) -> set[str]:
    engine = make_engine(api.settings.database_url)
    async with make_sessionmaker(engine)() as session:
        hashes = set((await session.execute(select(CaseEvent.hash))).scalars())
    await engine.dispose()
    return hashes


async def test_checkpoint_signs_the_root_of_every_event_in_log_order(api: Api) -> None:
    await api.to_assisted()
    await api.open_case("cadre_found")
    point = await checkpoint(api)
    entries = await whole_log(api)
    assert [e["log_index"] for e in entries] == list(range(len(entries)))
    assert {e["hash"] for e in entries} == await all_event_hashes(api)
    assert point["tree_size"] == len(entries)
    # the root, recomputed here from the events' hashes in log order
    frontier = merkle.Frontier()
    for entry in entries:
        frontier.append(merkle.leaf_hash(bytes.fromhex(entry["hash"])))
    assert point["root_hash"] == frontier.root().hex()
    key = (await api.get(AUDITOR, "/api/v1/audit/public-key")).json()
    text_signed = checkpoint_message(
        point["origin"], point["tree_size"], point["root_hash"], point["signed_text"].split("\n")[4]
    )
    assert text_signed.decode() == point["signed_text"]
    assert verify(key["public_key"], text_signed, point["signature"])
    assert not verify(key["public_key"], text_signed.replace(b"\n1", b"\n2"), point["signature"])
    # events of a case stay in seq order within the log
    by_case: dict[str, list[int]] = {}
    for entry in entries:
        by_case.setdefault(entry["case_id"], []).append(entry["seq"])
    assert all(seqs == sorted(seqs) for seqs in by_case.values())


async def test_unchanged_log_answers_the_newest_checkpoint(api: Api) -> None:
    await api.open_case()
    first = await checkpoint(api)
    again = await checkpoint(api, expect=200)
    assert again == first
    listed = (await api.get(AUDITOR, "/api/v1/audit/checkpoints")).json()
    assert [p["tree_size"] for p in listed] == [first["tree_size"]]


async def test_only_the_bureau_and_administrators_sign(api: Api) -> None:
    await api.open_case()
    for user in ("auditor.jiaohe", "cadre.pinggang", "township.baishishan", "exporter.national"):
        response = await api.post(user, "/api/v1/audit/checkpoints")
        assert response.status_code == 403, (user, response.text)
    assert (await api.get(AUDITOR, "/api/v1/audit/checkpoints")).json() == []
    await checkpoint(api, "admin.jiaohe")


async def test_inclusion_and_consistency_proofs_verify_against_signed_roots(api: Api) -> None:
    await api.to_assisted()
    one = await checkpoint(api)
    await api.open_case("cadre_found")
    await api.open_case()
    two = await checkpoint(api)
    assert two["tree_size"] > one["tree_size"]
    for index in range(two["tree_size"]):
        proof = (
            await api.get(
                AUDITOR, f"/api/v1/audit/log/{index}/inclusion", tree_size=two["tree_size"]
            )
        ).json()
        leaf = merkle.leaf_hash(bytes.fromhex(proof["event_hash"]))
        assert proof["leaf_hash"] == leaf.hex()
        path = [bytes.fromhex(p) for p in proof["path"]]
        assert merkle.verify_inclusion(
            leaf, index, two["tree_size"], path, bytes.fromhex(two["root_hash"])
        )
    body = (
        await api.get(
            AUDITOR, "/api/v1/audit/consistency", first=one["tree_size"], second=two["tree_size"]
        )
    ).json()
    assert merkle.verify_consistency(
        one["tree_size"],
        two["tree_size"],
        bytes.fromhex(one["root_hash"]),
        bytes.fromhex(two["root_hash"]),
        [bytes.fromhex(p) for p in body["proof"]],
    )


async def test_proofs_refuse_sizes_nobody_signed(api: Api) -> None:
    await api.to_assisted()
    point = await checkpoint(api)
    size = point["tree_size"]
    missing = await api.get(AUDITOR, "/api/v1/audit/log/0/inclusion", tree_size=size - 1)
    assert missing.status_code == 404
    assert missing.json()["code"] == "checkpoint_not_found"
    beyond = await api.get(AUDITOR, f"/api/v1/audit/log/{size}/inclusion", tree_size=size)
    assert beyond.status_code == 422
    assert beyond.json()["code"] == "index_beyond_tree"
    reversed_sizes = await api.get(AUDITOR, "/api/v1/audit/consistency", first=size, second=1)
    assert reversed_sizes.status_code == 422


async def test_the_log_cursor_is_for_auditors_the_bureau_and_the_exporter(api: Api) -> None:
    await api.open_case()
    await checkpoint(api)
    for user in ("auditor.jiaohe", "bureau.jiaohe", "admin.jiaohe", "exporter.national"):
        assert (await api.get(user, "/api/v1/audit/log")).status_code == 200
    for user in ("cadre.pinggang", "township.baishishan", "dept.civil-affairs"):
        assert (await api.get(user, "/api/v1/audit/log")).status_code == 403


async def test_worker_pass_sequences_and_signs_on_its_interval(api: Api) -> None:
    engine = make_engine(api.settings.database_url)
    sessions = make_sessionmaker(engine)
    settings = api.settings.model_copy(update={"audit_checkpoint_interval_seconds": 3600})
    try:
        assert await log.maintain(sessions, settings, api.clock.now()) is None  # empty log
        await api.open_case()
        first = await log.maintain(sessions, settings, api.clock.now())
        assert first is not None
        assert first.tree_size == 1
        await api.open_case()
        api.clock.advance(timedelta(minutes=59))
        assert await log.maintain(sessions, settings, api.clock.now()) is None  # not yet due
        async with sessions() as session:
            assert await log.size(session) == 2  # sequenced all the same
        api.clock.advance(timedelta(minutes=1))
        second = await log.maintain(sessions, settings, api.clock.now())
        assert second is not None
        assert second.tree_size == 2
    finally:
        await engine.dispose()


async def test_an_event_committed_late_is_indexed_after_not_skipped(postgres_api: Api) -> None:
    """PostgreSQL: a transaction that wrote first but commits last must not lose its place
    to a later one that the sequencer saw first, nor be skipped. (SQLite serialises writers:
    a running writer excludes the sequencer itself.)"""
    api = postgres_api
    early = await api.open_case()
    engine = make_engine(api.settings.database_url)
    sessions = make_sessionmaker(engine)
    try:
        async with engine.connect() as slow:
            transaction = await slow.begin()
            await slow.execute(
                text(
                    "INSERT INTO case_event (case_id, seq, name, from_state, to_state, actor_sub,"
                    " actor_role, actor_area, occurred_at, workflow_version, policy_version,"
                    " payload, prev_hash, hash) SELECT case_id, 99, 'report', to_state, to_state,"
                    " 'x', 'village_cadre', '', occurred_at, workflow_version, policy_version,"
                    " '{}', hash, repeat('a', 64) FROM case_event WHERE case_id = :c AND seq = 1"
                ),
                {"c": early["id"]},
            )
            await api.open_case("cadre_found")  # commits while the slow one still runs
            async with sessions() as session, session.begin():
                await log.sequence_all(session, api.clock.now())
            async with sessions() as session:
                indexed = set((await session.execute(select(LogEntry.event_id))).scalars())
                events = set((await session.execute(select(CaseEvent.id))).scalars())
            # the committed case's event waits behind the running transaction's
            assert len(indexed) == 1
            assert len(events) == 2
            await transaction.commit()
        async with sessions() as session, session.begin():
            await log.sequence_all(session, api.clock.now())
        async with sessions() as session:
            rows = (
                await session.execute(
                    select(LogEntry.log_index, CaseEvent.seq, CaseEvent.case_id)
                    .join(CaseEvent, CaseEvent.id == LogEntry.event_id)
                    .order_by(LogEntry.log_index)
                )
            ).all()
        assert [r[0] for r in rows] == [0, 1, 2]
        assert [r[1] for r in rows[:2]] == [1, 99]  # the late writer before the later one
    finally:
        await engine.dispose()


async def test_case_as_of_a_past_moment_comes_from_the_trail(api: Api) -> None:
    opened_at = api.clock.now()
    case_id = await api.to_village_nomination()
    nominated_at = api.clock.now()
    api.clock.advance(timedelta(hours=1))
    await api.nominate(case_id)
    before = await api.get(
        AUDITOR, f"/api/v1/cases/{case_id}/as-of", at=(opened_at - timedelta(seconds=1)).isoformat()
    )
    assert before.json()["state"] is None
    assert before.json()["version"] == 0
    then = (
        await api.get(AUDITOR, f"/api/v1/cases/{case_id}/as-of", at=nominated_at.isoformat())
    ).json()
    now = (
        await api.get(AUDITOR, f"/api/v1/cases/{case_id}/as-of", at=api.clock.now().isoformat())
    ).json()
    current = await api.case(case_id)
    assert then["state"] == "village_nomination"
    assert now["state"] == current["state"] == "public_notice"
    assert now["version"] == current["version"]
    assert then["version"] < now["version"]
    assert then["facts"] != now["facts"]
    other_area = await api.get(
        "cadre.laodong", f"/api/v1/cases/{case_id}/as-of", at=nominated_at.isoformat()
    )
    assert other_area.status_code == 404
    naive = await api.get(AUDITOR, f"/api/v1/cases/{case_id}/as-of", at="2026-03-02T10:00:00")
    assert naive.status_code == 422


async def test_case_list_as_of_a_date_and_activity_per_actor_and_area(api: Api) -> None:
    early = await api.open_case()
    middle = api.clock.now()
    api.clock.advance(timedelta(days=1))
    late = await api.open_case(user="cadre.laodong", village="220281105200")
    await api.must("cadre.pinggang", early["id"], "start_village_review")
    listed = (await api.get(AUDITOR, "/api/v1/audit/cases", as_of=middle.isoformat())).json()
    assert [(c["case_id"], c["state"]) for c in listed["items"]] == [(early["id"], "self_declared")]
    today = (
        await api.get(AUDITOR, "/api/v1/audit/cases", as_of=api.clock.now().isoformat())
    ).json()
    assert {c["case_id"]: c["state"] for c in today["items"]} == {
        early["id"]: "village_nomination",
        late["id"]: "self_declared",
    }
    area = (
        await api.get(
            AUDITOR, "/api/v1/audit/cases", as_of=api.clock.now().isoformat(), area="220281105"
        )
    ).json()
    assert [c["case_id"] for c in area["items"]] == [late["id"]]
    activity = (await api.get(AUDITOR, "/api/v1/audit/activity", actor="cadre.pinggang")).json()
    assert [(e["case_id"], e["name"]) for e in activity["items"]] == [
        (early["id"], "open_self_declared"),
        (early["id"], "start_village_review"),
    ]
    period = (
        await api.get(
            AUDITOR,
            "/api/v1/audit/activity",
            area="220281102",
            since=(middle + timedelta(hours=1)).isoformat(),
        )
    ).json()
    assert [e["name"] for e in period["items"]] == ["start_village_review"]
    summary = (await api.get(AUDITOR, "/api/v1/audit/activity/summary")).json()
    assert {(s["actor_sub"], s["name"]): s["count"] for s in summary} == {
        ("cadre.pinggang", "open_self_declared"): 1,
        ("cadre.pinggang", "start_village_review"): 1,
        ("cadre.laodong", "open_self_declared"): 1,
    }
    for user in ("cadre.pinggang", "township.baishishan", "dept.civil-affairs"):
        response = await api.get(user, "/api/v1/audit/activity")
        assert response.status_code == 403


async def test_a_case_keeps_its_seq_order_in_the_log_whatever_its_writers_ids(
    postgres_api: Api, tmp_path: Any
) -> None:
    """PostgreSQL: a writer that took its transaction id early (here: before anything else),
    then waited while a younger writer appended the case's next event, appends after it; the
    log lists the case in seq order and the offline verifier finds nothing wrong."""
    from app.audit.signing import Signer
    from app.audit.verify import verify_bundle
    from app.auth.tokens import Principal
    from app.cases import service
    from tests.test_audit_bundle import make_bundle
    from workflows.vocabulary import Role

    api = postgres_api
    case = await api.open_case("cadre_found")
    engine = make_engine(api.settings.database_url)
    sessions = make_sessionmaker(engine)
    cadre = Principal(sub="cadre.pinggang", role=Role.village_cadre, area="220281102200")
    try:
        async with sessions() as early:
            await early.begin()
            await early.execute(text("SELECT pg_current_xact_id()"))  # its id, taken now
            # a younger transaction moves the case and commits first
            await api.must("cadre.pinggang", case["id"], "start_village_review")
            snap, _ = await service.lock_case(early, cadre, case["id"])
            await service.append_event(
                early,
                snap,
                name="household_change",
                payload={"member_id": "m", "change": "changed", "fields": {"health": "healthy"}},
                to_state=snap.state,
                actor=cadre,
                now=api.clock.now(),
            )
            await early.commit()
        async with sessions() as session, session.begin():
            await log.sequence_all(session, api.clock.now())
        async with sessions() as session:
            seqs = list(
                (
                    await session.execute(
                        select(CaseEvent.seq)
                        .join(LogEntry, LogEntry.event_id == CaseEvent.id)
                        .where(CaseEvent.case_id == case["id"])
                        .order_by(LogEntry.log_index)
                    )
                ).scalars()
            )
    finally:
        await engine.dispose()
    assert seqs == [1, 2, 3]
    bundle = await make_bundle(api, tmp_path / "ordered")
    report = verify_bundle(bundle, public_key=Signer(api.settings.audit_signing_key).public_key_b64)
    assert report.ok, [str(p) for p in report.problems]


async def test_a_long_transaction_in_another_database_does_not_stall_the_log(
    postgres_api: Api,
) -> None:
    """PostgreSQL: a writing transaction of another database on the same server leaves this
    log's sequencing alone (the service's role reads every session's id: pg_read_all_stats,
    which .ci/run grants)."""
    from sqlalchemy import make_url

    from tests.conftest import OWNERS

    api = postgres_api
    owner = make_url(OWNERS[api.settings.database_url])
    elsewhere = make_engine(owner.set(database="postgres").render_as_string(False))
    engine = make_engine(api.settings.database_url)
    try:
        async with elsewhere.connect() as other:
            running = await other.begin()
            await other.execute(text("SELECT pg_current_xact_id()"))  # holds an id
            case = await api.open_case()
            async with make_sessionmaker(engine)() as session, session.begin():
                await log.sequence_all(session, api.clock.now())
            async with make_sessionmaker(engine)() as session:
                indexed = set((await session.execute(select(LogEntry.event_id))).scalars())
                of_case = select(CaseEvent.id).where(CaseEvent.case_id == case["id"])
                ids = set((await session.execute(of_case)).scalars())
            await running.rollback()
        assert ids
        assert ids <= indexed
    finally:
        await engine.dispose()
        await elsewhere.dispose()
