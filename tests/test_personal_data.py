"""Personal data at rest: encrypted, bound to its row, never plain in any table; keys rotate."""

from __future__ import annotations

import base64
import os
from datetime import date
from decimal import Decimal

import orjson
import pytest
from sqlalchemy import inspect, text

import app.models  # noqa: F401  every table, so that the registry below is whole
from app.core.crypto import CipherError, FieldCipher, cipher_for, context
from app.core.db import Base, make_engine, make_sessionmaker, sealed_models
from app.core.rotation import rotate
from tests.conftest import run_cli
from tests.helpers import CHILD_MEMBER, COMMITMENT_FORM, VILLAGE, Api, new_id_number

KEY_A, KEY_B = b"a" * 32, b"b" * 32


def test_a_ciphertext_only_opens_in_its_own_place() -> None:
    cipher = FieldCipher({"k1": KEY_A}, "k1")
    sealed = cipher.encrypt("220281196503120029", context("member", "m1", "id_number"))
    assert sealed.startswith("k1:")
    assert "220281196503120029" not in sealed
    assert cipher.decrypt(sealed, context("member", "m1", "id_number")) == "220281196503120029"
    for elsewhere in (context("member", "m2", "id_number"), context("household", "m1", "phone")):
        with pytest.raises(CipherError):
            cipher.decrypt(sealed, elsewhere)
    tampered = sealed[:-4] + ("AAAA" if not sealed.endswith("AAAA") else "BBBB")
    with pytest.raises(CipherError):
        cipher.decrypt(tampered, context("member", "m1", "id_number"))
    with pytest.raises(CipherError):
        FieldCipher({"k2": KEY_B}, "k2").decrypt(sealed, context("member", "m1", "id_number"))
    with pytest.raises(ValueError, match="must be 32 bytes"):
        FieldCipher({"short": b"x" * 16}, "short")


async def test_no_table_holds_a_plain_id_number_or_phone(api: Api) -> None:
    head, child, phone = new_id_number(), new_id_number("20150607", "male"), "13955556666"
    child_phone = "13722223333"
    response = await api.post(
        "platform.12317",
        "/api/v1/intake/self-declarations",
        {
            "name": "刘",
            "phone": phone,
            "id_number": head,
            "village_code": "220281102200",
            "hardship": "受伤",
            "risk_type": "accident",
            "household_size": 2,
        },
    )
    assert response.status_code == 201, response.text
    (case,) = (await api.get("cadre.pinggang", "/api/v1/cases")).json()["items"]
    path = f"/api/v1/households/{case['household']['id']}/members"
    added = await api.post(
        "cadre.pinggang", path, {**CHILD_MEMBER, "id_number": child, "phone": child_phone}
    )
    assert added.status_code == 201, added.text
    # a confirmed case, exported: its national document and the export's records too
    confirmed = new_id_number()
    await api.to_assisted(id_number=confirmed)
    exported = await api.get("exporter.national", "/api/v1/exports/national")
    assert confirmed in exported.text  # in full on the way out, and only there
    engine = make_engine(api.settings.database_url)
    async with engine.connect() as connection:
        tables = await connection.run_sync(lambda c: inspect(c).get_table_names())
        dump = []
        for table in tables:
            rows = (await connection.execute(text(f'SELECT * FROM "{table}"'))).all()
            dump.append(repr(rows))
    await engine.dispose()
    everything = "\n".join(dump)
    assert "household" in tables
    assert "member" in tables
    assert "case_event" in tables
    for secret in (head, child, phone, child_phone, confirmed):
        assert secret not in everything, f"{secret} is stored in plain"
    assert "*" * 14 + head[-4:] in everything  # the masked copy for display


async def test_keys_rotate_online(api: Api) -> None:
    head = new_id_number()
    await api.open_case(id_number=head)
    old = api.settings.field_keys
    rotated = api.settings.model_copy(
        update={"field_keys": f"{old},k2:{base64.b64encode(KEY_B).decode()}"}
    )
    engine = make_engine(api.settings.database_url)
    sessions = make_sessionmaker(engine)
    assert (await rotate(sessions, rotated)).rewritten == 2  # the household and its head
    assert (await rotate(sessions, rotated)).rewritten == 0  # nothing left on the old key
    async with engine.connect() as connection:
        row_id, sealed = (
            await connection.execute(text("SELECT id, head_id_number_encrypted FROM household"))
        ).one()
    await engine.dispose()
    assert sealed.startswith("k2:")
    new_cipher = cipher_for(rotated.field_keys)
    assert new_cipher.decrypt(sealed, context("household", row_id, "head_id_number")) == head
    # answers do not change: they show the masked copy
    (case,) = (await api.get("bureau.jiaohe", "/api/v1/cases")).json()["items"]
    assert case["household"]["head_id_number_masked"] == "*" * 14 + head[-4:]


def test_every_sealed_column_is_declared_so_and_rotates() -> None:
    """The rotation's registry is the models': a new ``*_encrypted`` column not marked
    ``sealed`` would stay under a retired key, so it fails here."""
    declared = {
        (model.__tablename__, attribute)
        for model, marked in sealed_models()
        for attribute, _ in marked.columns
    }
    encrypted = {
        (table.name, column.name)
        for table in Base.metadata.tables.values()
        for column in table.columns
        if column.name.endswith("_encrypted")
    }
    assert encrypted <= declared
    assert ("national_document", "numbers") in declared
    for model, marked in sealed_models():
        for attribute, _ in marked.columns:
            assert attribute in model.__table__.columns, (model.__tablename__, attribute)
        written_once = bool(model.__table__.info.get("append_only"))
        assert marked.key is not None or written_once, model.__tablename__
        assert marked.key is None or marked.key in model.__table__.columns


async def test_rows_written_once_are_counted_not_rewritten(api: Api) -> None:
    """A department's accepted warning keeps its sealed number until the city distributes it;
    the table is written once, so ``rotate-keys`` says how many wait under the older key."""
    await api.open_case()
    header = "姓名,证件号码,村代码,风险类型,预警信息,预警日期\n"
    text = f"{header}郑一,{new_id_number()},220281102200,因病,住院,\n"
    uploaded = await api.client.post(
        "/api/v1/warning-batches",
        content=text.encode(),
        headers={**api.headers("dept.civil-affairs"), "Content-Type": "text/csv; charset=utf-8"},
    )
    assert uploaded.status_code == 201, uploaded.text
    keys = f"{api.settings.field_keys},k2:{base64.b64encode(KEY_B).decode()}"
    env = {**os.environ, "DATABASE_URL": api.settings.database_url, "FIELD_KEYS": keys}
    env.pop("DATABASE_MIGRATION_URL", None)
    said = run_cli("rotate-keys", env=env).splitlines()
    assert said == [
        "re-encrypted 2 row(s)",  # the household and its head; the warning is not rewritten
        "department_warning: 1 row(s) written once stay sealed with an older key;"
        " keep that key in FIELD_KEYS while they are needed",
    ]
    again = run_cli("rotate-keys", env=env).splitlines()
    assert again == ["re-encrypted 0 row(s)", said[1]]


async def test_full_values_only_on_request_with_a_purpose_and_logged(api: Api) -> None:
    head = new_id_number()
    case = await api.open_case(id_number=head)
    household_id = case["household"]["id"]
    path = f"/api/v1/households/{household_id}/personal-data"
    for user in ("auditor.jiaohe", "committee.pinggang", "dept.civil-affairs"):
        response = await api.get(user, path, purpose="核查", fields="id_number")
        assert response.status_code == 403, user
    assert (await api.get("cadre.pinggang", path)).status_code == 422  # no purpose
    assert (await api.get("cadre.laodong", path, purpose="核查")).status_code == 404
    read = await api.client.get(
        path,
        headers=api.headers("cadre.pinggang"),
        params=[("purpose", "入户核实身份"), ("fields", "id_number"), ("fields", "phone")],
    )
    assert read.status_code == 200, read.text
    body = read.json()
    assert body["head_id_number"] == head
    assert body["phone"] == "13800000000"
    assert [m["id_number"] for m in body["members"]] == [head]
    log = (await api.get("auditor.jiaohe", "/api/v1/access-log", record_id=household_id)).json()
    assert len(log) == 1
    entry = log[0]
    assert (entry["actor_sub"], entry["actor_role"], entry["fields"], entry["purpose"]) == (
        "cadre.pinggang",
        "village_cadre",
        ["id_number", "phone"],
        "入户核实身份",
    )
    assert (await api.get("cadre.pinggang", "/api/v1/access-log")).status_code == 403
    # refused reads leave no entry; a masked read is not a full read and is not logged
    await api.case(case["id"])
    assert len((await api.get("auditor.jiaohe", "/api/v1/access-log")).json()) == 1


async def test_the_bank_account_is_sealed_masked_and_read_in_full_only_when_logged(
    api: Api,
) -> None:
    case = await api.open_case()
    household = case["household"]["id"]
    account = "6228480012345678901"
    response = await api.client.patch(
        f"/api/v1/households/{household}",
        headers=api.headers("cadre.pinggang"),
        json={"bank_account": account},
    )
    assert response.status_code == 200, response.text
    assert response.json()["bank_account_masked"] == "*" * 15 + "8901"
    refused = await api.client.patch(
        f"/api/v1/households/{household}",
        headers=api.headers("township.baishishan"),
        json={"bank_account": account},
    )
    assert refused.status_code == 403
    events = (await api.get("auditor.jiaohe", f"/api/v1/cases/{case['id']}/events")).json()
    assert account not in str(events)
    assert "8901" in str(events[-1]["payload"])
    full = await api.get(
        "bureau.jiaohe",
        f"/api/v1/households/{household}/personal-data",
        purpose="发放帮扶资金",
        fields="bank_account",
    )
    assert full.status_code == 200
    assert full.json()["bank_account"] == account
    assert full.json()["head_id_number"] is None  # only what was asked for
    logged = (await api.get("auditor.jiaohe", "/api/v1/access-log", record_id=household)).json()
    assert [(e["fields"], e["purpose"]) for e in logged] == [(["bank_account"], "发放帮扶资金")]
    engine = make_engine(api.settings.database_url)
    async with engine.connect() as connection:
        tables = await connection.run_sync(lambda c: inspect(c).get_table_names())
        dump = [
            repr((await connection.execute(text(f'SELECT * FROM "{t}"'))).all()) for t in tables
        ]
    await engine.dispose()
    assert account not in "\n".join(dump)


async def test_no_combination_of_fields_a_role_reads_rebuilds_a_number(api: Api) -> None:
    """Masks show the last 4 characters only; the full birth date goes only to roles that may
    read the number itself. Every answer a case reader gets about a household, its members,
    the case, its trail and its facts at a moment is searched for what would complete a
    number: its first 10 characters (where it was issued and the birth year …) or its birth
    date, in any form."""
    from tests.helpers import COMMITMENT_FORM

    case_id = await api.to_village_nomination("cadre_found")
    head = api.heads[case_id]
    spouse = new_id_number("19720304", "female" if int(head[16]) % 2 else "male")
    await api.add_member(case_id, spouse, "李秀兰", "spouse")
    form = {**COMMITMENT_FORM, "covered_member_id_numbers": [head, spouse]}
    await api.must_fact("cadre.pinggang", case_id, "commitment-forms", form)
    household = (await api.case(case_id))["household"]["id"]
    paths = [
        f"/api/v1/households/{household}",
        f"/api/v1/cases/{case_id}",
        f"/api/v1/cases/{case_id}/events",
        f"/api/v1/cases/{case_id}/as-of",
        "/api/v1/ledgers/screening",
        "/api/v1/households",
        "/api/v1/cases",
    ]
    for user in ("committee.pinggang", "auditor.jiaohe", "admin.jiaohe"):
        seen = []
        for path in paths:
            params = {"at": "2026-12-01T00:00:00+08:00"} if path.endswith("as-of") else {}
            response = await api.get(user, path, **params)
            if response.status_code == 200:
                seen.append(response.text)
        everything = "\n".join(seen)
        assert len(seen) >= 4, user
        for number in (head, spouse):
            born = number[6:14]
            for hint in (number[:10], born, f"{born[:4]}-{born[4:6]}-{born[6:]}"):
                assert hint not in everything, (user, hint)
            assert number[-4:] in everything  # the last 4 do show
    # a role that may read the number itself sees the birth date (and is logged when it
    # asks for the number)
    members = (await api.get("cadre.pinggang", f"/api/v1/households/{household}")).json()
    assert {m["birth_date"] for m in members["members"]} == {"1970-01-01", "1972-03-04"}


def test_documents_stored_before_the_last_4_form_are_redacted_as_answered() -> None:
    """Chained payloads are never rewritten: what older events kept is cut at every answer."""
    from app.households.idnumber import redact

    old = {
        "covered_members": [
            {"id_number_masked": "220281********0029", "id_number_digest": "d" * 64}
        ],
        "fields": {"birth_date": "1970-01-01", "name": "王"},
        "findings": {"f1": {"member": "220281********0027", "summary": "车辆"}},
    }
    assert redact(old) == {
        "covered_members": [
            {"id_number_masked": "**************0029", "id_number_digest": "d" * 64}
        ],
        "fields": {"birth_date": "1970", "name": "王"},
        "findings": {"f1": {"member": "**************0027", "summary": "车辆"}},
    }


def test_the_fast_path_of_redaction_sees_every_key_it_must_rewrite() -> None:
    """A document whose JSON text names none of the rewritten keys is answered as it is (no
    walk, no copy); every key the walk rewrites is seen in the text, alone or deep in lists."""
    from app.households import idnumber

    for key in (*idnumber.MASKED_KEYS, "birth_date"):
        legacy = "220281********0029" if key != "birth_date" else "1970-01-01"
        document = {"a": [{"b": {key: legacy}}]}
        redacted = idnumber.redact(document)
        assert redacted != document, key
        assert redacted == idnumber._redact(document), key
    plain = {"reports": [{"channel": "self_declared"}], "net_income": "15000.00", "n": 3}
    assert idnumber.redact(plain) is plain
    # numbers masked as they are now, text with no *, years and nulls need no walk either
    shown = {
        "covered_members": [{"id_number_masked": "**************0029"}, {"member": "王小红"}],
        "findings": {"f1": {"member": "**************002X", "id_masked": None}},
        "fields": {"birth_date": "1970", "head_id_number_masked": "**0029"},
        "x": {"birth_date": None},
    }
    assert idnumber.redact(shown) is shown
    # one value in an older form (or in a form the text test does not read) among them:
    # the walk, which rewrites it alone
    for key, value in (
        ("member", "220281********0027"),
        ("id_masked", "2*0027"),
        ("id_number_masked", "********00027"),
        ("member", '*"*0027'),
        ("birth_date", "1970-01-01"),
        ("birth_date", 1970),
        ("member", {"id": "220281********0027"}),
        ("plan_masked", "220281********0027"),  # not a masked number's key: walked, left
    ):
        mixed = {**shown, "extra": [{key: value}]}
        assert idnumber.redact(mixed) == idnumber._redact(mixed), (key, value)
        assert idnumber.redact(mixed) is not mixed, (key, value)
        # as answers write it: the walked document's text
        written = idnumber.redacted_json(mixed, orjson.dumps)
        assert written == orjson.dumps(idnumber.redact(mixed)), (key, value)
    # and the document's own text when there is nothing to rewrite
    assert idnumber.redacted_json(shown, orjson.dumps) == orjson.dumps(shown)
    # values that are not JSON's own still go through (the text is only a test)
    odd = {"at": date(2026, 1, 1), "member": "220281********0027", "x": Decimal("1.5")}
    assert idnumber.redact(odd) == {**odd, "member": "**************0027"}
    assert idnumber.redact({1: {"member": "220281********0027"}}) == {
        1: {"member": "**************0027"}
    }


async def test_a_members_phone_is_sealed_shown_to_none_and_read_as_personal_data(
    api: Api,
) -> None:
    case = await api.open_case()
    household = case["household"]["id"]
    path = f"/api/v1/households/{household}/members"
    son = {**CHILD_MEMBER, "id_number": new_id_number("20150607", "male")}
    added = await api.post("cadre.pinggang", path, {**son, "phone": "13722223333"})
    assert added.status_code == 201, added.text
    assert "phone" not in added.json()
    assert "13722223333" not in added.text
    other = {**CHILD_MEMBER, "id_number": new_id_number("20150608", "male")}
    bad = await api.post("cadre.pinggang", path, {**other, "phone": "call me"})
    assert bad.status_code == 422
    assert "phone" in bad.text
    member_id = added.json()["id"]
    events = (await api.get("auditor.jiaohe", f"/api/v1/cases/{case['id']}/events")).json()
    assert events[-1]["payload"]["fields"]["phone_masked"] == "*******3333"  # the trail
    changed = await api.client.patch(
        f"{path}/{member_id}", json={"phone": "13700001111"}, headers=api.headers("cadre.pinggang")
    )
    assert changed.status_code == 200, changed.text

    async def phones() -> dict[str, str | None]:
        read = await api.client.get(
            f"/api/v1/households/{household}/personal-data",
            headers=api.headers("cadre.pinggang"),
            params=[("purpose", "入户联系"), ("fields", "phone")],
        )
        assert read.status_code == 200, read.text
        return {m["member_id"]: m["phone"] for m in read.json()["members"]}

    assert (await phones())[member_id] == "13700001111"
    cleared = await api.client.patch(
        f"{path}/{member_id}", json={"phone": None}, headers=api.headers("cadre.pinggang")
    )
    assert cleared.status_code == 200, cleared.text
    assert (await phones())[member_id] is None
    events = (await api.get("auditor.jiaohe", f"/api/v1/cases/{case['id']}/events")).json()
    assert [e["payload"]["fields"].get("phone_masked", "-") for e in events[-2:]] == [
        "*******1111",
        None,
    ]


async def test_a_case_is_answered_as_its_response_model_writes_it(api: Api) -> None:
    """Answers about cases write their facts apart from the other fields
    (``views.case_json``): what the opening, a read, a fact, the case list, the inbox and a
    step answer is the document the response model writes with the case's redacted facts in
    it, and a number stored in an older mask is re-masked in it as everywhere else."""
    from pydantic import BaseModel, TypeAdapter
    from sqlalchemy import update

    from app.cases import repository as repo
    from app.cases import views
    from app.cases.models import Case
    from app.cases.schemas import CaseOpened, CaseOut, CasePage, InboxPage

    head = new_id_number()
    opened = await api.client.post(
        "/api/v1/cases",
        headers=api.headers("cadre.pinggang"),
        json={
            "channel": "cadre_found",
            "household": {
                "head_name": "王德福",
                "head_id_number": head,
                "village_code": VILLAGE,
                "size": 4,
            },
            "risk_type": "illness",
        },
    )
    assert opened.status_code == 201, opened.text
    case_id = opened.json()["id"]
    assert opened.headers["location"] == f"/api/v1/cases/{case_id}"
    assert opened.headers["etag"] == f'"{opened.json()["version"]}"'
    assert opened.json()["attached"] is False

    async def expected() -> dict[str, object]:
        async with api.app.state.sessionmaker() as session:
            found = await repo.case_in_area(session, case_id, "220281")
        assert found is not None
        snap, household = found
        model = CaseOut(
            id=snap.id,
            state=snap.state,
            version=snap.version,
            channel=snap.channel,
            area_code=snap.area_code,
            is_open=snap.is_open,
            monitoring_type=snap.monitoring_type,
            workflow_version=snap.workflow_version,
            policy_version=snap.policy_version,
            opened_at=snap.opened_at,
            updated_at=snap.updated_at,
            household=views.household_summary(household),
            deadlines=views.deadlines(snap, api.clock.now()),
            suggested_classification=views.suggestion(snap),
            facts=views.redacted(snap.facts),
        )
        shown: dict[str, object] = TypeAdapter(CaseOut).dump_python(model, mode="json")
        return shown

    def written(case: CaseOut) -> bytes:
        """A case as its model writes it, its facts placed last (as every case answer)."""
        head = case.__pydantic_serializer__.to_json(case, exclude={"facts"})
        return head[:-1] + b',"facts":' + TypeAdapter(dict).dump_json(case.facts) + b"}"

    def as_its_model_writes_it(answer: bytes, shape: type[BaseModel] = CaseOut) -> None:
        """The answer's own text is what its response model writes of it: the same fields
        in the same order, each written as pydantic writes it (datetimes with a ``Z``),
        but the facts of each case last; a page's cases as its items."""
        model = shape.model_validate_json(answer)
        if isinstance(model, CaseOut):
            assert answer == written(model)
            return
        assert isinstance(model, CasePage | InboxPage)
        items: list[CaseOut] = list(model.items)
        rest = model.__pydantic_serializer__.to_json(model, exclude={"items"})
        tail = b"}" if rest == b"{}" else b"," + rest[1:]
        assert answer == b'{"items":[' + b",".join(map(written, items)) + b"]" + tail

    assert {k: v for k, v in opened.json().items() if k != "attached"} == await expected()
    as_its_model_writes_it(opened.content, CaseOpened)

    # facts as a case written before the last-4 mask holds them
    async with api.app.state.sessionmaker() as session:
        found = await repo.case_in_area(session, case_id, "220281")
        assert found is not None
        older = {**found[0].facts, "findings": {"f1": {"member": "220281********0027"}}}
        await session.execute(update(Case).where(Case.id == case_id).values(facts=older))
        await session.commit()
    read = await api.get("bureau.jiaohe", f"/api/v1/cases/{case_id}")
    assert read.status_code == 200
    assert read.headers["etag"] == f'"{read.json()["version"]}"'
    assert read.headers["content-type"] == "application/json"
    assert read.json() == await expected()
    as_its_model_writes_it(read.content)
    assert read.json()["facts"]["findings"] == {"f1": {"member": "**************0027"}}
    assert b"220281*" not in read.content

    form = {**COMMITMENT_FORM, "signatory_name": "王德福", "covered_member_id_numbers": [head]}
    fact = await api.fact("cadre.pinggang", case_id, "commitment-forms", form)
    assert fact.status_code == 201, fact.text
    assert fact.headers["etag"] == f'"{fact.json()["version"]}"'
    assert fact.json() == await expected()
    as_its_model_writes_it(fact.content)
    assert fact.json()["facts"]["commitment_form"]["covered_members"]

    listed = await api.get("cadre.pinggang", "/api/v1/cases", total="true")
    assert listed.status_code == 200, listed.text
    page = listed.json()
    assert [item for item in page["items"] if item["id"] == case_id] == [await expected()]
    assert (page["next_cursor"], page["total"]) == (None, len(page["items"]))
    assert list(page) == ["items", "next_cursor", "total"]
    as_its_model_writes_it(listed.content, CasePage)
    empty = await api.get("cadre.pinggang", "/api/v1/cases", state="withdrawn")
    assert empty.json() == {"items": [], "next_cursor": None, "total": None}
    inbox = await api.get("cadre.pinggang", "/api/v1/inbox")
    assert inbox.status_code == 200, inbox.text
    (item,) = [item for item in inbox.json()["items"] if item["id"] == case_id]
    mine = {"due_at", "due_kind", "overdue", "my_actions"}
    assert {k: v for k, v in item.items() if k not in mine} == await expected()
    assert "withdraw" in item["my_actions"]
    assert item["overdue"] is False
    assert inbox.json()["total"] == len(inbox.json()["items"])
    as_its_model_writes_it(inbox.content, InboxPage)

    moved = await api.act("cadre.pinggang", case_id, "withdraw", {"reason": "误报"})
    assert moved.status_code == 200, moved.text
    assert moved.headers["etag"] == f'"{moved.json()["version"]}"'
    assert moved.json()["state"] == "withdrawn"
    assert moved.json() == await expected()
    as_its_model_writes_it(moved.content)
