"""Rotating the blind-index key (app.core.blind): digests name their key, every listed key
finds, the re-key moves the registry and keeps old digests as aliases, so the digests inside
chained events still meet the department records after the old key is gone."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from app.core.blind import LEGACY, blind_of, key_of, parse
from app.core.config import Settings
from app.core.db import make_engine, make_sessionmaker
from app.department_data.repository import follow_aliases
from app.households.rotation import rekey_blind_index
from app.startup import unsafe_settings
from tests.conftest import run_cli
from tests.helpers import (
    COMMITMENT_FORM,
    HOME_VISIT,
    PASSING_REVIEW,
    VERIFICATION,
    Api,
    new_id_number,
)
from tests.test_comparison import upload
from tests.test_department_warnings import HEADER, PINGGANG
from tests.test_department_warnings import upload as upload_warnings

NEW_KEY = "b2:" + "n" * 40


def test_digests_name_their_key_and_keep_their_width() -> None:
    index = parse("legacy-secret-0123456789", NEW_KEY)
    old, new = index.digest_with(LEGACY, "x"), index.digest("x")
    assert len(old) == len(new) == 64
    assert ":" not in old
    assert new.startswith("b2:")
    assert (key_of(old), key_of(new)) == (LEGACY, "b2")
    assert index.candidates("x") == [new, old]
    assert index.rotating
    assert index.is_current(new)
    assert not index.is_current(old)
    # the same key, on its own, gives the same digests: nothing depends on the order listed
    assert parse("", NEW_KEY).digest("x") == new
    assert not parse("", NEW_KEY).rotating
    assert parse("legacy-secret-0123456789", "").digest("x") == old


@pytest.mark.parametrize(
    ("legacy", "listed", "reason"),
    [
        ("k", "B2:" + "n" * 20, "is not kid:secret"),
        ("k", "b2", "is not kid:secret"),
        ("k", "toolongkid:" + "n" * 20, "is not kid:secret"),
        ("k", f"{NEW_KEY},{NEW_KEY}", "is repeated or empty"),
        ("k", "b2:", "is repeated or empty"),
        ("", "", "no blind-index key"),
    ],
)
def test_a_malformed_key_list_is_one_line(legacy: str, listed: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse(legacy, listed)
    lines = unsafe_settings(Settings(blind_index_key=legacy, blind_index_keys=listed))
    assert [line for line in lines if reason in line], lines


def test_the_startup_guard_takes_a_retired_first_key() -> None:
    def blind_lines(**values: str) -> list[str]:
        return [
            line
            for line in unsafe_settings(Settings(**values))  # type: ignore[arg-type]
            if "BLIND_INDEX" in line
        ]

    real = "r" * 24
    assert blind_lines(blind_index_key=real) == []
    assert blind_lines(blind_index_key=real, blind_index_keys=NEW_KEY) == []
    assert blind_lines(blind_index_key="", blind_index_keys=NEW_KEY) == []  # retired
    assert blind_lines(blind_index_key=real, blind_index_keys="b2:short") == [
        "BLIND_INDEX_KEYS key b2 is a placeholder or shorter than 16 characters"
    ]
    assert blind_lines(blind_index_key=real, blind_index_keys="b2:CHANGE-ME-please-now")
    assert blind_lines()  # the development value is refused as before


@contextmanager
def keys(api: Api, **changes: str) -> Iterator[Settings]:
    """The service with other blind-index settings for a while (a rolled-out deployment)."""
    state = api.app.state
    held = state.settings
    state.settings = held.model_copy(update=changes)
    try:
        yield state.settings
    finally:
        state.settings = held


async def digests(api: Api, table: str, column: str) -> list[str]:
    engine = make_engine(api.settings.database_url)
    async with engine.connect() as connection:
        found = (await connection.execute(text(f"SELECT {column} FROM {table}"))).scalars()
        values = sorted(found)
    await engine.dispose()
    return values


async def rekey(api: Api, settings: Settings, batch: int = 500) -> dict[str, int]:
    """What ``fangfanpin rekey-blind-index`` runs: the registry, then the department records."""
    engine = make_engine(api.settings.database_url)
    try:
        sessions = make_sessionmaker(engine)
        done = await rekey_blind_index(sessions, settings, batch=batch)
        async with sessions() as session, session.begin():
            followed = await follow_aliases(session, blind_of(settings))
        done["department_record"], done["department_record_left"] = followed
        return done
    finally:
        await engine.dispose()


async def findings(api: Api, case_id: str) -> dict[str, Any]:
    case = await api.case(case_id)
    return {f["dataset"]: f for f in case["facts"]["comparison"]["findings"].values()}


async def test_the_rotation_procedure_keeps_every_match(api: Api) -> None:
    head, daughter = new_id_number(), new_id_number("20010203", "female")
    case = await api.open_case(id_number=head)
    case_id = case["id"]
    await api.add_member(case_id, daughter, "王小红", "daughter")
    await api.must("cadre.pinggang", case_id, "start_village_review")
    # the trail keeps the covered members' digests under the first key, for good
    form = {**COMMITMENT_FORM, "covered_member_id_numbers": [head, daughter]}
    await api.must_fact("cadre.pinggang", case_id, "commitment-forms", form)
    assert all(":" not in d for d in await digests(api, "member", "id_digest"))

    with keys(api, blind_index_keys=NEW_KEY) as rotating:
        # 1. the new key writes; every look-up from a number still finds the old rows
        listed = await api.get("bureau.jiaohe", "/api/v1/cases", id_number=daughter)
        assert [c["id"] for c in listed.json()["items"]] == [case_id]
        again = await api.post(
            "cadre.pinggang",
            "/api/v1/households",
            {
                "head_name": "王小红",
                "head_id_number": daughter,
                "village_code": PINGGANG,
                "size": 1,
            },
        )
        assert (again.status_code, again.json()["code"]) == (409, "household_exists")
        son = new_id_number("20050101", "male")
        await api.add_member(case_id, son, "王小明", "son")
        assert sum(d.startswith("b2:") for d in await digests(api, "member", "id_digest")) == 1
        # department data digested with the new key meets members still under the old one
        assert (
            await upload(
                api,
                "bureau.jiaohe",
                "vehicles",
                [{"id_number": daughter, "attributes": {"count": 1}}],
            )
        ).status_code == 201
        assert (
            await upload(
                api,
                "dept.civil-affairs",
                "social_assistance",
                [{"id_number": head, "attributes": {"status": "dibao"}}],
            )
        ).status_code == 201
        await api.must_fact("cadre.pinggang", case_id, "household-verifications", VERIFICATION)
        await api.must_fact("committee.pinggang", case_id, "reviews", PASSING_REVIEW)
        await api.must("committee.pinggang", case_id, "publish_notice")
        api.clock.advance(timedelta(days=6))
        await api.must("committee.pinggang", case_id, "submit_to_township")
        await api.must_fact("township.baishishan", case_id, "home-visits", HOME_VISIT)
        await api.must("township.baishishan", case_id, "submit_to_city")
        found = await findings(api, case_id)
        assert set(found) == {"vehicles", "social_assistance"}
        assert found["vehicles"]["member"] == "*" * 14 + daughter[-4:]

        # 2. the re-key moves the registry; the old digests stay as aliases
        done = await rekey(api, rotating, batch=1)
        assert await rekey(api, rotating) == {
            "household": 0,
            "member": 0,
            "duplicates": 0,
            "department_record": 0,
            "household_left": 0,
            "member_left": 0,
            "department_record_left": 0,
        }
        assert (done["household"], done["member"], done["duplicates"]) == (1, 2, 0)
        assert (done["household_left"], done["member_left"]) == (0, 0)
        assert all(d.startswith("b2:") for d in await digests(api, "member", "id_digest"))
        assert all(d.startswith("b2:") for d in await digests(api, "household", "head_id_digest"))

    # 3. the first key retired: the trail's old digests still meet the records
    with keys(api, blind_index_key="", blind_index_keys=NEW_KEY):
        rerun = await api.post("bureau.jiaohe", f"/api/v1/cases/{case_id}/comparisons")
        assert rerun.status_code == 201, rerun.text
        assert set(await findings(api, case_id)) == {"vehicles", "social_assistance"}
        listed = await api.get("bureau.jiaohe", "/api/v1/cases", id_number=head)
        assert [c["id"] for c in listed.json()["items"]] == [case_id]
        replay = (await api.get("auditor.jiaohe", f"/api/v1/cases/{case_id}/replay")).json()
        assert replay["matches"]
        assert replay["facts_match"]


async def test_department_records_follow_the_registry_and_report_the_rest(api: Api) -> None:
    head, stranger = new_id_number(), new_id_number()
    case = await api.open_case(id_number=head)
    uploaded = await upload(
        api,
        "dept.civil-affairs",
        "social_assistance",
        [
            {"id_number": head, "attributes": {"status": "dibao"}},
            {"id_number": stranger, "attributes": {"status": "tekun"}},
        ],
    )
    assert uploaded.status_code == 201
    with keys(api, blind_index_keys=NEW_KEY) as rotating:
        done = await rekey(api, rotating)
        # the head's record followed its alias; the stranger's has no number to re-digest
        assert (done["department_record"], done["department_record_left"]) == (1, 1)
        records = await digests(api, "department_record", "id_digest")
        assert sum(d.startswith("b2:") for d in records) == 1
        # the stranger, registered now, meets the old record through the alias it leaves
        registered = await api.post(
            "cadre.pinggang",
            "/api/v1/households",
            {"head_name": "李四", "head_id_number": stranger, "village_code": PINGGANG, "size": 1},
        )
        assert registered.status_code == 201, registered.text
        proposals = await digests(api, "blind_index_alias", "digest")
        assert len(proposals) == 2  # the head's old digest, and the stranger's
    assert case["id"]


async def test_a_warning_finds_a_household_registered_under_the_old_key(api: Api) -> None:
    registered = new_id_number()
    made = await api.post(
        "cadre.pinggang",
        "/api/v1/households",
        {"head_name": "郑二", "head_id_number": registered, "village_code": PINGGANG, "size": 2},
    )
    assert made.status_code == 201
    with keys(api, blind_index_keys=NEW_KEY):
        batch = await upload_warnings(
            api, (HEADER + f"郑二,{registered},{PINGGANG},因病,大病住院,\n").encode()
        )
        assert batch.status_code == 201, batch.text
        path = f"/api/v1/warning-batches/{batch.json()['id']}"
        (row,) = (await api.get("dept.civil-affairs", f"{path}/rows")).json()["items"]
        assert (row["status"], row["matched"]) == ("accepted", "household")
        decided = await api.post(
            "bureau.jiaohe",
            f"{path}/dispositions",
            {"items": [{"line": 2, "decision": "distribute"}]},
        )
        assert decided.status_code == 201, decided.text
        opened = await api.case(decided.json()[0]["case_id"])
        assert opened["household"]["id"] == made.json()["id"]  # not a second household


async def test_the_command_says_what_it_moved_and_what_is_left(api: Api) -> None:
    await api.open_case()
    env = {**os.environ, "DATABASE_URL": api.settings.database_url, "BLIND_INDEX_KEYS": NEW_KEY}
    env.pop("DATABASE_MIGRATION_URL", None)
    said = run_cli("rekey-blind-index", env=env)
    assert said.startswith("re-keyed 1 household(s), 1 member(s);"), said
    assert "under an older key: 0 household(s), 0 member(s)" in said
    again = run_cli("rekey-blind-index", env=env)
    assert again.startswith("re-keyed 0 household(s), 0 member(s);"), again
