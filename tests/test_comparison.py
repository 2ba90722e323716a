"""Data comparison (数据比对): department snapshots, findings, and their resolution."""

from __future__ import annotations

from datetime import timedelta
from hashlib import md5
from typing import Any

import pytest
from sqlalchemy import event, text

from app.core.blind import BlindIndexAlias, equivalents
from app.core.db import is_sqlite, make_engine
from app.department_data.models import DepartmentRecord, DepartmentSnapshot
from app.department_data.repository import _LATEST, latest_records
from tests.helpers import (
    APPLICATION,
    CLASSIFICATION,
    COMMITMENT_FORM,
    HOME_VISIT,
    PASSING_REVIEW,
    VERIFICATION,
    Api,
    new_id_number,
    rule_refusal,
    statements_sent,
)
from tests.test_rules_api import refused


async def upload(api: Api, user: str, dataset: str, records: list[dict[str, Any]]) -> Any:
    return await api.post(
        user, f"/api/v1/department-data/{dataset}/snapshots", {"records": records}
    )


async def case_at_city(api: Api, head_id: str, member_id: str) -> str:
    case_id = await case_before_city(api, head_id, member_id)
    await api.must("township.baishishan", case_id, "submit_to_city")
    await api.must_fact("bureau.jiaohe", case_id, "classification", CLASSIFICATION)
    return case_id


async def case_before_city(api: Api, head_id: str, member_id: str) -> str:
    """A case the township has visited, ready for its submission to the city."""
    response = await api.post(
        "cadre.pinggang",
        "/api/v1/cases",
        {
            "channel": "self_declared",
            "application_sha256": APPLICATION,
            "risk_type": "illness",
            "household": {
                "head_name": "王德福",
                "head_id_number": head_id,
                "village_code": "220281102200",
                "size": 4,
            },
        },
    )
    case_id: str = response.json()["id"]
    await api.add_member(case_id, member_id, "王小红", "daughter")
    await api.must("cadre.pinggang", case_id, "start_village_review")
    await api.must_fact(
        "cadre.pinggang",
        case_id,
        "commitment-forms",
        {**COMMITMENT_FORM, "covered_member_id_numbers": [head_id, member_id]},
    )
    await api.must_fact("cadre.pinggang", case_id, "household-verifications", VERIFICATION)
    await api.must_fact("committee.pinggang", case_id, "reviews", PASSING_REVIEW)
    await api.must("committee.pinggang", case_id, "publish_notice")
    api.clock.advance(timedelta(days=6))
    await api.must("committee.pinggang", case_id, "submit_to_township")
    await api.must_fact("township.baishishan", case_id, "home-visits", HOME_VISIT)
    return case_id


async def test_findings_must_be_resolved_before_confirm(api: Api) -> None:
    head_id, member_id = new_id_number(), new_id_number("20010203", "female")
    assert (
        await upload(
            api, "bureau.jiaohe", "vehicles", [{"id_number": member_id, "attributes": {"count": 1}}]
        )
    ).status_code == 201
    medical = await upload(
        api,
        "dept.civil-affairs",
        "social_assistance",
        [
            {"id_number": head_id, "attributes": {"status": "dibao"}},
            {"id_number": new_id_number(), "attributes": {"status": "tekun"}},
        ],
    )
    assert medical.status_code == 201, medical.text
    case_id = await case_at_city(api, head_id, member_id)
    case = await api.case(case_id)
    findings = case["facts"]["comparison"]["findings"]
    by_dataset = {f["dataset"]: f for f in findings.values()}
    assert set(by_dataset) == {"vehicles", "social_assistance"}  # only this household's people
    assert by_dataset["vehicles"]["contradicts"] is True
    assert by_dataset["vehicles"]["member"] == "*" * 14 + member_id[-4:]
    # 低保 is a transfer income, and the household declared some: no contradiction
    assert by_dataset["social_assistance"]["contradicts"] is False
    events = (await api.get("auditor.jiaohe", f"/api/v1/cases/{case_id}/events")).json()
    assert events[-2]["name"] == "data_comparison"
    assert events[-2]["actor"]["sub"] == "system:comparison"

    assert await refused(api, "bureau.jiaohe", case_id, "confirm") == {"comparison_unresolved"}
    vehicle = by_dataset["vehicles"]["id"]
    unknown = await api.fact(
        "bureau.jiaohe", case_id, "comparison-resolutions", {"finding_id": "f99", "reason": "x"}
    )
    assert unknown.status_code == 409
    assert rule_refusal(unknown) == "finding_not_found"
    township = await api.fact(
        "township.baishishan",
        case_id,
        "comparison-resolutions",
        {"finding_id": vehicle, "reason": "x"},
    )
    assert township.status_code == 403
    await api.must_fact(
        "bureau.jiaohe",
        case_id,
        "comparison-resolutions",
        {"finding_id": vehicle, "reason": "农用三轮车, 价值低于2万元"},
    )
    again = await api.fact(
        "bureau.jiaohe", case_id, "comparison-resolutions", {"finding_id": vehicle, "reason": "y"}
    )
    assert again.status_code == 409
    assert rule_refusal(again) == "finding_already_resolved"
    assert (await api.must("bureau.jiaohe", case_id, "confirm"))["state"] == "assisted"
    replay = (await api.get("auditor.jiaohe", f"/api/v1/cases/{case_id}/replay")).json()
    assert replay["matches"]
    assert replay["facts_match"]
    assert replay["all_steps_legal"]


async def test_rerun_uses_the_newest_snapshot(api: Api) -> None:
    head_id, member_id = new_id_number(), new_id_number("20010203", "female")
    await upload(
        api,
        "bureau.jiaohe",
        "housing_safety",
        [{"id_number": head_id, "attributes": {"safe": False}}],
    )
    case_id = await case_at_city(api, head_id, member_id)
    assert await refused(api, "bureau.jiaohe", case_id, "confirm") == {"comparison_unresolved"}
    # housing corrected its data: the newest snapshot agrees with the declared facts
    await upload(
        api,
        "bureau.jiaohe",
        "housing_safety",
        [{"id_number": head_id, "attributes": {"safe": True}}],
    )
    rerun = await api.post("bureau.jiaohe", f"/api/v1/cases/{case_id}/comparisons")
    assert rerun.status_code == 201, rerun.text
    findings = rerun.json()["facts"]["comparison"]["findings"]
    assert [f["contradicts"] for f in findings.values()] == [False]
    assert (await api.must("bureau.jiaohe", case_id, "confirm"))["state"] == "assisted"


async def test_uploads_check_department_dataset_and_records(api: Api) -> None:
    records: list[dict[str, Any]] = [
        {"id_number": new_id_number(), "attributes": {"status": "dibao"}}
    ]
    other = await upload(
        api,
        "dept.civil-affairs",
        "vehicles",
        [{"id_number": new_id_number(), "attributes": {"count": 1}}],
    )
    assert other.status_code == 403
    cadre = await upload(api, "cadre.pinggang", "social_assistance", records)
    assert cadre.status_code == 403
    assert (await upload(api, "bureau.jiaohe", "horoscopes", records)).status_code == 404
    # the record shape is checked first, then each dataset's attributes
    bad_id = await upload(
        api,
        "dept.civil-affairs",
        "social_assistance",
        [records[0], {"id_number": "220281197001010010", "attributes": {"status": "dibao"}}],
    )
    assert bad_id.status_code == 422
    assert {e["field"] for e in bad_id.json()["errors"]} == {"records.1.id_number"}
    bad_attributes = await upload(
        api,
        "dept.civil-affairs",
        "social_assistance",
        [records[0], {"id_number": new_id_number(), "attributes": {"status": "rich"}}],
    )
    assert bad_attributes.status_code == 422
    fields = {e["field"] for e in bad_attributes.json()["errors"]}
    assert fields == {"records.1.attributes.status"}
    first = await upload(api, "dept.civil-affairs", "social_assistance", records)
    again = await upload(api, "dept.civil-affairs", "social_assistance", records)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    engine = make_engine(api.settings.database_url)
    async with engine.connect() as connection:
        stored = " ".join(
            str(row) for row in await connection.execute(text("SELECT * FROM department_record"))
        )
    await engine.dispose()
    assert records[0]["id_number"] not in stored
    assert "dibao" in stored


async def test_comparison_runs_even_without_department_data(api: Api) -> None:
    case_id = await api.to_village_nomination()
    await api.to_city(case_id)
    comparison = (await api.case(case_id))["facts"]["comparison"]
    assert comparison["findings"] == {}
    assert comparison["snapshots"] == []


async def test_a_submission_to_the_city_is_its_read_the_comparison_and_one_write(
    postgres_api: Api,
) -> None:
    """The data comparison reads the newest snapshots and the household's records (through
    the aliases of a rotated key, had one been) in one statement outside any transaction,
    with department data or without, so the submission's move and the comparison's event
    are still one statement written alone: three round trips, no BEGIN or COMMIT, nothing
    through SQLAlchemy's own cursor; and the records are found."""
    api = postgres_api
    through_sqlalchemy: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        through_sqlalchemy.append(statement)

    state = api.app.state
    engines = {engine.sync_engine for engine in (state.engine, state.read_engine)}
    for uploaded in (False, True):
        member = new_id_number("20010203", "female")
        if uploaded:
            vehicle = {"id_number": member, "attributes": {"count": 1}}
            assert (await upload(api, "bureau.jiaohe", "vehicles", [vehicle])).status_code == 201
        case_id = await case_before_city(api, new_id_number(), member)
        version = (await api.case(case_id))["version"]
        for engine in engines:
            event.listen(engine, "before_cursor_execute", seen)
        try:
            with statements_sent() as sent:
                response = await api.act(
                    "township.baishishan", case_id, "submit_to_city", version=version
                )
        finally:
            for engine in engines:
                event.remove(engine, "before_cursor_execute", seen)
        assert response.status_code == 200, response.text
        assert through_sqlalchemy == []
        assert len(sent) == 3, sent
        read, comparison, write = sent
        assert read.startswith("SELECT monitoring_case.id"), read
        assert all(
            table in comparison
            for table in ("department_snapshot", "department_record", "blind_index_alias")
        ), comparison
        assert write.startswith("WITH first AS (UPDATE monitoring_case"), write
        case = await api.case(case_id)
        assert case["version"] == version + 2  # the submission and the comparison
        assert bool(case["facts"]["comparison"]["snapshots"]) is uploaded
        assert bool(case["facts"]["comparison"]["findings"]) is uploaded


async def test_the_comparisons_read_meets_a_person_through_every_alias(api: Api) -> None:
    """Its one statement finds the records of the same people ``equivalents`` names, through
    each kind of alias a rotation leaves: an old digest asked (its current one, and the
    current one's other old digests), a current digest asked (its old ones), and a digest
    with no alias asked (any old digest aliased to it); never anyone else's, and only in the
    newest snapshot of the dataset."""
    aliases = {"o1": "c1", "o2": "c1", "o3": "c3"}
    people = ["o1", "o2", "c1", "o3", "c3", "x", "y"]
    sessions = api.app.state.sessionmaker
    async with sessions() as session, session.begin():
        session.add_all(BlindIndexAlias(digest=old, current=new) for old, new in aliases.items())
        for number, at in enumerate((api.clock.now() - timedelta(days=1), api.clock.now())):
            session.add(
                DepartmentSnapshot(
                    id=f"snapshot-{number}",
                    dataset="vehicles",
                    department="bureau",
                    imported_at=at,
                    imported_by="bureau.jiaohe",
                    row_count=len(people),
                    sha256=str(number) * 64,
                )
            )
            await session.flush()
            session.add_all(
                DepartmentRecord(
                    snapshot_id=f"snapshot-{number}",
                    dataset="vehicles",
                    id_digest=person,
                    id_masked=person,
                    attributes={"count": number},
                )
                for person in people
            )
    same = {
        ("o1",): {"o1", "c1", "o2"},
        ("c1",): {"c1", "o1", "o2"},
        ("c3", "x"): {"c3", "o3", "x"},
        ("o3", "o2"): {"o3", "c3", "o2", "c1", "o1"},
        ("y",): {"y"},
        ("nobody",): {"nobody"},
        (): set(),
    }
    for asked, expected in same.items():
        async with sessions() as session:
            assert set(await equivalents(session, asked)) == expected
            records, snapshots = await latest_records(session, asked)
        assert snapshots == ["snapshot-1"]
        assert sorted(masked for _, masked, _ in records) == sorted(expected & set(people))
        assert all(attributes == {"count": 1} for _, _, attributes in records)


async def test_the_comparison_reads_through_the_aliases_only_where_there_are_any(
    api: Api,
) -> None:
    """Until a key is rotated the comparison is one read by the asked digests alone, which
    also says that no alias exists; once one exists the read is made again through the
    aliases and meets a person by an old digest. (The statements counted on PostgreSQL.)"""
    sessions = api.app.state.sessionmaker
    async with sessions() as session, session.begin():
        session.add(
            DepartmentSnapshot(
                id="snapshot-0",
                dataset="vehicles",
                department="bureau",
                imported_at=api.clock.now(),
                imported_by="bureau.jiaohe",
                row_count=2,
                sha256="0" * 64,
            )
        )
        await session.flush()
        session.add_all(
            DepartmentRecord(
                snapshot_id="snapshot-0",
                dataset="vehicles",
                id_digest=person,
                id_masked=person,
                attributes={"count": 1},
            )
            for person in ("c1", "x")
        )

    async def read(asked: list[str]) -> tuple[list[str], list[str]]:
        with statements_sent() as sent:
            async with sessions() as session:
                records, snapshots = await latest_records(session, asked)
        assert snapshots == ["snapshot-0"]
        return sorted(masked for _, masked, _ in records), sent

    postgres = not is_sqlite(api.settings.database_url)
    found, sent = await read(["o1", "x"])
    assert found == ["x"]  # o1 is nobody's old digest yet
    if postgres:
        assert len(sent) == 1, sent
        assert "UNION ALL" not in sent[0], sent[0]
        assert "EXISTS (SELECT blind_index_alias.digest" in sent[0], sent[0]
    async with sessions() as session, session.begin():
        session.add(BlindIndexAlias(digest="o1", current="c1"))
    found, sent = await read(["o1", "x"])
    assert found == ["c1", "x"]
    if postgres:
        assert len(sent) == 2, sent
        assert "UNION ALL" in sent[1], sent[1]


async def test_postgresql_keeps_one_plan_for_the_comparisons_read(postgres_api: Api) -> None:
    """Where no key was ever rotated, the comparison's read is planned once per connection:
    after PostgreSQL's five trial plans it keeps the generic one, where the read through the
    aliases was planned anew on every call (about 0.3 ms of PostgreSQL's CPU each)."""
    engine = postgres_api.app.state.engine
    compiled, _ = _LATEST.compiled(engine.dialect)
    async with engine.connect() as connection:
        driver = (await connection.get_raw_connection()).driver_connection
        assert driver is not None
        # a dataset of some size, as PostgreSQL's estimates see it (the plans' costs follow)
        await driver.execute(
            "INSERT INTO department_snapshot (id, dataset, department, imported_at,"
            " imported_by, row_count, sha256) VALUES ('s', 'vehicles', 'bureau', now(),"
            " 'bureau.jiaohe', 5000, repeat('0', 64))"
        )
        await driver.execute(
            "INSERT INTO department_record (snapshot_id, dataset, id_digest, id_masked,"
            " attributes) SELECT 's', 'vehicles', md5(n::text), n::text, '{}'"
            " FROM generate_series(1, 5000) AS n"
        )
        await driver.execute("ANALYZE department_snapshot, department_record")
        for _ in range(8):
            await driver.fetch(
                compiled.sql, *compiled.arguments({"digests": [md5(b"1").hexdigest()]})
            )
        plans = await driver.fetchrow(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement = $1",
            compiled.sql,
        )
    assert plans is not None
    assert plans["generic_plans"] >= 2, dict(plans)


async def test_on_the_embedded_sqlite_the_comparisons_read_goes_straight_to_it(api: Api) -> None:
    """SQLite takes the people as one JSON parameter (``json_each``), not an ``IN`` list that
    SQLAlchemy would render and cache anew for each call: the read is compiled once and sent
    to the driver, nothing of it through SQLAlchemy's cursor, and the records are found."""
    if not is_sqlite(api.settings.database_url):
        pytest.skip("the embedded SQLite only (PostgreSQL's is tested above)")
    member = new_id_number("20010203", "female")
    vehicle = {"id_number": member, "attributes": {"count": 1}}
    assert (await upload(api, "bureau.jiaohe", "vehicles", [vehicle])).status_code == 201
    case_id = await case_before_city(api, new_id_number(), member)
    through_sqlalchemy: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        through_sqlalchemy.append(statement)

    engine = api.app.state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        await api.must("township.baishishan", case_id, "submit_to_city")
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert not [s for s in through_sqlalchemy if "department_record" in s], through_sqlalchemy
    findings = (await api.case(case_id))["facts"]["comparison"]["findings"]
    assert [f["dataset"] for f in findings.values()] == ["vehicles"]
