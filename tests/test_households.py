"""The household registry: members checked against their ID numbers, changes in the trail."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from app.core.db import make_engine
from app.households.idnumber import mask
from tests.helpers import Api, new_id_number

CHILD = {
    "name": "王小明",
    "relation": "son",
    "labour_skill": "none",
    "health": "healthy",
    "education": "primary",
    "school_status": "primary_4",
    "medical_insurance": True,
    "social_assistance": "none",
}


async def household_of(api: Api, case: dict[str, Any], user: str = "cadre.pinggang") -> Any:
    return await api.get(user, f"/api/v1/households/{case['household']['id']}")


async def test_members_are_checked_against_their_id_numbers(api: Api) -> None:
    case = await api.open_case()
    household = (await household_of(api, case)).json()
    (head,) = household["members"]
    assert head["relation"] == "head"
    assert head["name"] == "王德福"
    # sex and birth date come from the ID number (its 17th character shows in the masked form)
    assert head["sex"] == ("male" if int(head["id_number_masked"][-2]) % 2 else "female")
    assert head["birth_date"] == "1970-01-01"
    path = f"/api/v1/households/{case['household']['id']}/members"
    child_id = new_id_number("20150607", "male")  # a son: the 17th character is odd
    added = await api.post("cadre.pinggang", path, {**CHILD, "id_number": child_id})
    assert added.status_code == 201, added.text
    member = added.json()
    assert member["id_number_masked"] == mask(child_id)
    assert member["birth_date"] == "2015-06-07"
    assert member["sex"] == ("male" if int(child_id[16]) % 2 else "female")
    other_id = new_id_number("20150607", "male")
    wrong_sex = "female" if int(other_id[16]) % 2 else "male"
    for body, expected in (
        ({**CHILD, "id_number": other_id, "birth_date": "2015-06-08"}, "birth_date contradicts"),
        ({**CHILD, "id_number": other_id, "sex": wrong_sex}, "sex contradicts"),
        ({**CHILD, "id_number": "220281201506070010"}, "check character"),
        ({**CHILD, "id_number": new_id_number(), "labour_skill": "strong"}, "labour_skill"),
        ({**CHILD, "id_number": new_id_number(), "relation": "neighbour"}, "relation"),
    ):
        response = await api.post("cadre.pinggang", path, body)
        assert response.status_code == 422, body
        said = " ".join(e["field"] + " " + e["message"] for e in response.json()["errors"])
        assert expected in said, (expected, said)
    # the same ID number with the sex and birth date it carries is accepted
    agreeing = {
        **CHILD,
        "id_number": other_id,
        "birth_date": "2015-06-07",
        "sex": "male" if int(other_id[16]) % 2 else "female",
    }
    assert (await api.post("cadre.pinggang", path, agreeing)).status_code == 201
    twice = await api.post("cadre.pinggang", path, {**CHILD, "id_number": child_id})
    assert twice.status_code == 409
    assert twice.json()["code"] == "member_already_registered"
    assert len((await household_of(api, case)).json()["members"]) == 3


async def test_changes_are_events_of_the_open_case(api: Api) -> None:
    case = await api.open_case()
    path = f"/api/v1/households/{case['household']['id']}/members"
    child_id = new_id_number("20150607", "male")
    member = (await api.post("cadre.pinggang", path, {**CHILD, "id_number": child_id})).json()
    changed = await api.client.patch(
        f"{path}/{member['id']}",
        json={"health": "serious_illness"},
        headers=api.headers("cadre.pinggang"),
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["health"] == "serious_illness"
    assert changed.json()["education"] == "primary"  # untouched
    events = (await api.get("auditor.jiaohe", f"/api/v1/cases/{case['id']}/events")).json()
    changes = [e for e in events if e["name"] == "household_change"]
    assert [c["payload"]["change"] for c in changes] == ["added", "changed"]
    assert changes[1]["payload"]["fields"] == {"health": "serious_illness"}
    assert child_id not in str(events)  # the trail keeps the masked number only
    assert (await api.case(case["id"]))["version"] == 3
    replay = (await api.get("auditor.jiaohe", f"/api/v1/cases/{case['id']}/replay")).json()
    assert replay["matches"]
    assert replay["all_steps_legal"]
    assert replay["chain_valid"]
    unknown = await api.client.patch(
        f"{path}/{member['id']}",
        json={"id_number": child_id},
        headers=api.headers("cadre.pinggang"),
    )
    assert unknown.status_code == 422  # an ID number is never changed, only a member added


async def test_only_village_cadres_in_area_record_members(api: Api) -> None:
    case = await api.open_case()
    path = f"/api/v1/households/{case['household']['id']}/members"
    body = {**CHILD, "id_number": new_id_number()}
    for user in ("committee.pinggang", "township.baishishan", "bureau.jiaohe", "auditor.jiaohe"):
        assert (await api.post(user, path, body)).status_code == 403, user
    elsewhere = await api.post("cadre.laodong", path, body)
    assert elsewhere.status_code == 404  # the household is not in their area
    assert (await household_of(api, case, "cadre.laodong")).status_code == 404
    assert (await household_of(api, case, "auditor.jiaohe")).status_code == 200


async def test_history_of_cases_and_changes_without_an_open_case(api: Api) -> None:
    id_number = new_id_number()
    first = await api.open_case("cadre_found", id_number=id_number)
    await api.must("cadre.pinggang", first["id"], "withdraw", {"reason": "农户申请撤回"})
    path = f"/api/v1/households/{first['household']['id']}/members"
    added = await api.post(
        "cadre.pinggang", path, {**CHILD, "id_number": new_id_number("20150607", "male")}
    )
    assert added.status_code == 201  # no open case: the registry changes, no case is touched
    assert (await api.case(first["id"]))["version"] == 2
    second = await api.open_case("self_declared", id_number=id_number)
    history = (await household_of(api, second)).json()["cases"]
    assert [(c["id"], c["is_open"]) for c in history] == [
        (first["id"], False),
        (second["id"], True),
    ]


async def test_members_are_in_the_database_by_digest_and_masked_in_answers(api: Api) -> None:
    case = await api.open_case()
    engine = make_engine(api.settings.database_url)
    async with engine.connect() as connection:
        digests = (await connection.execute(text("SELECT id_digest FROM member"))).scalars().all()
    await engine.dispose()
    assert len(digests) == 1
    assert len(digests[0]) == 64
    body = (await household_of(api, case)).text
    assert case["household"]["head_id_number_masked"] in body


async def test_household_number_is_set_by_the_village(api: Api) -> None:
    case = await api.open_case()
    path = f"/api/v1/households/{case['household']['id']}"
    township = await api.client.patch(
        path,
        json={"household_number": "2202811022000017"},
        headers=api.headers("township.baishishan"),
    )
    assert township.status_code == 403
    bad = await api.client.patch(
        path, json={"household_number": "户 17"}, headers=api.headers("cadre.pinggang")
    )
    assert bad.status_code == 422
    done = await api.client.patch(
        path, json={"household_number": "2202811022000017"}, headers=api.headers("cadre.pinggang")
    )
    assert done.status_code == 200
    assert done.json()["household_number"] == "2202811022000017"
    events = (await api.get("auditor.jiaohe", f"/api/v1/cases/{case['id']}/events")).json()
    assert events[-1]["name"] == "household_change"
    assert events[-1]["payload"]["fields"] == {"household_number": "2202811022000017"}


async def test_the_register_names_no_other_area_and_logs_the_probe(api: Api) -> None:
    """A cadre who runs into a person registered in another village learns that the person
    is registered, never where; auditors see the probe."""
    from tests.helpers import OTHER_VILLAGE, new_id_number

    elsewhere = new_id_number()
    await api.open_case(
        "cadre_found", user="cadre.laodong", id_number=elsewhere, village=OTHER_VILLAGE
    )
    opened = await api.post(
        "cadre.pinggang",
        "/api/v1/cases",
        {
            "channel": "cadre_found",
            "risk_type": "illness",
            "household": {
                "head_name": "王",
                "head_id_number": elsewhere,
                "village_code": "220281102200",
                "size": 1,
            },
        },
    )
    assert opened.status_code == 422
    assert opened.json()["code"] == "household_village_mismatch"
    assert OTHER_VILLAGE not in opened.text
    assert "household_id" not in opened.json()
    registered = await api.post(
        "cadre.pinggang",
        "/api/v1/households",
        {"head_name": "王", "head_id_number": elsewhere, "village_code": "220281102200", "size": 1},
    )
    assert registered.status_code == 409
    assert registered.json()["code"] == "household_exists"
    assert OTHER_VILLAGE not in registered.text
    assert "household_id" not in registered.json()
    mine = await api.open_case("cadre_found")
    household = mine["household"]["id"]
    added = await api.post(
        "cadre.pinggang",
        f"/api/v1/households/{household}/members",
        {"name": "王", "id_number": elsewhere, "relation": "other"},
    )
    assert added.status_code == 409
    assert OTHER_VILLAGE not in added.text
    # the city, whose area holds both villages, is told where
    city = await api.post(
        "bureau.jiaohe",
        "/api/v1/cases",
        {
            "channel": "department_flagged",
            "risk_type": "illness",
            "household": {
                "head_name": "王",
                "head_id_number": elsewhere,
                "village_code": "220281102200",
                "size": 1,
            },
        },
    )
    assert city.status_code == 422
    assert OTHER_VILLAGE in city.json()["detail"]
    logged = (await api.get("auditor.jiaohe", "/api/v1/access-log")).json()
    probes = [e for e in logged if e["record_type"] == "registry_probe"]
    assert sorted((e["actor_sub"], e["purpose"]) for e in probes) == sorted(
        [
            ("cadre.pinggang", "opening a case: household_village_mismatch"),
            ("cadre.pinggang", "registering a household"),
            ("cadre.pinggang", "adding a member"),
            ("bureau.jiaohe", "opening a case: household_village_mismatch"),
        ]
    )


async def test_a_member_no_national_check_would_pass_is_refused_with_every_reason(
    api: Api,
) -> None:
    from app.households import idnumber
    from tests.helpers import new_id_number

    case = await api.open_case()  # the head was born in 1970; today is 2026-03-02
    head_sex = idnumber.sex(api.heads[case["id"]])
    other_sex = "female" if head_sex == "male" else "male"
    path = f"/api/v1/households/{case['household']['id']}/members"
    before = len((await household_of(api, case)).json()["members"])
    refusals = [
        (
            {
                "name": "甲",
                "id_number": new_id_number("20160101", "male"),
                "relation": "son",
                "labour_skill": "ordinary",
            },
            {"labour_under_working_age"},
        ),
        (
            {
                "name": "乙",
                "id_number": new_id_number("19860101", "female"),
                "relation": "daughter",
                "school_status": "grade_7",
            },
            {"age_against_schooling"},
        ),
        (
            {"name": "丙", "id_number": new_id_number("20000101", "male"), "relation": "daughter"},
            {"relation_against_sex"},
        ),
        (
            {"name": "丁", "id_number": new_id_number("19710101", head_sex), "relation": "spouse"},
            {"spouse_of_same_sex"},
        ),
        (
            {"name": "戊", "id_number": new_id_number("19600101", "male"), "relation": "head"},
            {"second_head"},
        ),
        (
            {"name": "己", "id_number": new_id_number("19650101", "male"), "relation": "son"},
            {"relation_against_generation"},
        ),
        (
            {
                "name": "庚",
                "id_number": new_id_number("20080101", "male"),
                "relation": "son",
                "school_status": "senior_high_3",
                "labour_skill": "ordinary",
            },
            {"student_with_labour"},
        ),
        # a parent is of the parent's sex and a generation older
        (
            {"name": "寅", "id_number": new_id_number("19400101", "male"), "relation": "mother"},
            {"relation_against_sex"},
        ),
        (
            {"name": "卯", "id_number": new_id_number("19750101", "male"), "relation": "father"},
            {"relation_against_generation"},
        ),
        (
            {
                "name": "辰",
                "id_number": new_id_number("19300101", "female"),
                "relation": "father_in_law",
            },
            {"relation_against_sex"},
        ),
        (
            {
                "name": "巳",
                "id_number": new_id_number("19500101", "female"),
                "relation": "grandmother",
            },
            {"relation_against_generation"},
        ),
        # every reason at once
        (
            {
                "name": "辛",
                "id_number": new_id_number("19800101", "male"),
                "relation": "daughter",
                "school_status": "grade_8",
                "labour_skill": "ordinary",
            },
            {
                "relation_against_sex",
                "age_against_schooling",
                "student_with_labour",
                "relation_against_generation",
            },
        ),
    ]
    for body, expected in refusals:
        response = await api.post("cadre.pinggang", path, body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["code"] == "member_inconsistent"
        assert {e["type"] for e in response.json()["errors"]} == expected, body
    assert len((await household_of(api, case)).json()["members"]) == before
    allowed = [
        {
            "name": "壬",
            "id_number": new_id_number("20150607", "male"),
            "relation": "son",
            "labour_skill": "none",
            "school_status": "primary_4",
        },
        {"name": "癸", "id_number": new_id_number("19720304", other_sex), "relation": "spouse"},
        {"name": "子", "id_number": new_id_number("19450101", "female"), "relation": "mother"},
        {
            "name": "丑",
            "id_number": new_id_number("19990101", "female"),
            "relation": "daughter",
            "labour_skill": "ordinary",
        },
    ]
    for body in allowed:
        response = await api.post("cadre.pinggang", path, body)
        assert response.status_code == 201, (body, response.text)
    son = next(m for m in (await household_of(api, case)).json()["members"] if m["name"] == "壬")
    working = await api.client.patch(
        f"{path}/{son['id']}",
        json={"labour_skill": "skilled"},
        headers=api.headers("cadre.pinggang"),
    )
    assert working.status_code == 422
    assert {e["type"] for e in working.json()["errors"]} == {
        "labour_under_working_age",
        "student_with_labour",
    }
