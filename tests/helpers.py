"""A thin client for API tests: tokens for the demo users and the common steps."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from app.areas.demo import demo_user
from app.auth.tokens import mint
from app.core.clock import FrozenClock
from app.core.config import Settings
from app.households.idnumber import make as make_id_number
from app.main import create_app
from workflows.calendar import local_date

VILLAGE = "220281102200"  # 平岗村, 白石山镇
OTHER_VILLAGE = "220281105200"  # 劳动村, 天北镇
_serial = itertools.count(1)


def new_id_number(born: str = "19700101", sex: str | None = None) -> str:
    """A valid, unique ID number of a person in Jiaohe; of either sex unless ``sex`` says
    (the 17th character is odd for men, even for women)."""
    serial = next(_serial) % 1000
    if sex is not None:  # 500 numbers of each sex per birth date
        serial = serial % 500 * 2 + (1 if sex == "male" else 0)
    return make_id_number(f"220281{born}{serial:03d}")


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


CHILD_MEMBER = {"name": "王小明", "relation": "son", "labour_skill": "none", "health": "healthy"}
APPLICATION = sha("书面申请 (扫描件)")
"""The scanned written application a cadre enters a self-declaration from."""
COMMITMENT_FORM = {
    "signatory_name": "王德福",
    "document_sha256": sha("承诺授权书"),
}
PASSING_REVIEW = {
    "eligible_members": 30,
    "present": 21,
    "votes_for": 15,
    "votes_against": 4,
    "abstentions": 2,
    "minutes_sha256": sha("会议记录"),
}
VERIFICATION = {
    "verified_by": ["张书记", "刘网格员"],
    "household_size": 4,
    "wage_income": "12000.00",
    "business_income": "8000.50",
    "property_income": "0",
    "transfer_income": "3000",
    "business_expense": "2000.50",
    "compliant_out_of_pocket": "15000",
    "large_rigid_spending": True,
    "guarantees": {
        "food_and_clothing": True,
        "compulsory_education": True,
        "basic_medical_care": True,
        "housing_safety": True,
        "drinking_water": True,
    },
}
HOME_VISIT = {
    "visited_by": ["李乡长", "张干事"],
    "findings": "因病支出大, 收入骤减",
    "opinion": "建议纳入监测",
}
CLASSIFICATION = {
    "monitoring_type": "sudden_hardship",
    "risk_types": ["illness"],
    "responsible_person": {"name": "赵帮扶", "unit": "蛟河市农业农村局"},
}
COMMITTEE_STUDY = {
    "participants": ["张书记", "王主任"],
    "conclusion": "预警属实, 提交民主评议",
}
"""村"两委"研究 of a cadre-found or department-flagged case, before its review (case-v2).

The fixtures above leave out the day the thing happened: :meth:`Api.fact` dates it today
(the service's today) unless the test names a day itself."""
DATE_FIELDS = {
    "commitment-forms": "signed_on",
    "household-verifications": "verified_on",
    "income-assessments": "verified_on",
    "reviews": "held_on",
    "home-visits": "visited_on",
    "committee-studies": "studied_on",
    "announcement-postings": "posted_on",
}
OPENERS = {
    "self_declared": "cadre.pinggang",
    "cadre_found": "cadre.pinggang",
    "department_flagged": "bureau.jiaohe",
}


class Api:
    def __init__(
        self, client: httpx.AsyncClient, settings: Settings, clock: FrozenClock, app: Any = None
    ) -> None:
        self.client, self.settings, self.clock, self.app = client, settings, clock, app
        self.heads: dict[str, str] = {}
        """Each case's household head's ID number, as the test opened it."""

    @classmethod
    @asynccontextmanager
    async def start(cls, settings: Settings, clock: FrozenClock) -> AsyncIterator[Api]:
        app = create_app(settings, clock)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield cls(client, settings, clock, app)
        # as the lifespan would (httpx's transport does not run it): a read replica's engine
        # too, or its connections are left for the collector to find open
        await app.state.engine.dispose()
        await app.state.read_engine.dispose()

    def headers(self, user: str, **extra: str) -> dict[str, str]:
        found = demo_user(user)
        token = mint(
            self.settings,
            sub=found.sub,
            role=found.role,
            area=found.area,
            department=found.department,
            name=found.name,
            now=self.clock.now(),
            ttl=timedelta(days=3650),
        )
        return {"Authorization": f"Bearer {token}", **extra}

    async def get(self, user: str, path: str, **params: Any) -> httpx.Response:
        return await self.client.get(path, headers=self.headers(user), params=params)

    async def post(self, user: str, path: str, body: Any = None, **headers: str) -> httpx.Response:
        return await self.client.post(path, headers=self.headers(user, **headers), json=body)

    async def open_case(
        self,
        channel: str = "self_declared",
        *,
        user: str | None = None,
        id_number: str | None = None,
        village: str = VILLAGE,
    ) -> dict[str, Any]:
        id_number = id_number or new_id_number()
        response = await self.post(
            user or OPENERS[channel],
            "/api/v1/cases",
            {
                "channel": channel,
                "household": {
                    "head_name": "王德福",
                    "head_id_number": id_number,
                    "village_code": village,
                    "size": 4,
                    "phone": "13800000000",
                },
                "description": "户主突发重病, 医疗支出大",
                "risk_type": "illness",
                **({"application_sha256": APPLICATION} if channel == "self_declared" else {}),
            },
        )
        assert response.status_code in (200, 201), response.text
        body: dict[str, Any] = response.json()
        self.heads.setdefault(body["id"], id_number)
        return body

    async def add_member(
        self, case_id: str, id_number: str, name: str = "李秀兰", relation: str = "spouse"
    ) -> dict[str, Any]:
        """Register a member in the case's household (by the village cadre)."""
        household = (await self.case(case_id))["household"]["id"]
        response = await self.post(
            "cadre.pinggang",
            f"/api/v1/households/{household}/members",
            {"name": name, "id_number": id_number, "relation": relation},
        )
        assert response.status_code == 201, response.text
        member: dict[str, Any] = response.json()
        return member

    def today(self) -> str:
        """The service's today (Asia/Shanghai), as a fact's date."""
        return local_date(self.clock.now()).isoformat()

    async def case(self, case_id: str, user: str = "bureau.jiaohe") -> dict[str, Any]:
        response = await self.get(user, f"/api/v1/cases/{case_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def act(
        self, user: str, case_id: str, action: str, payload: Any = None, version: int | None = None
    ) -> httpx.Response:
        if version is None:
            version = (await self.case(case_id))["version"]
        return await self.post(
            user,
            f"/api/v1/cases/{case_id}/actions/{action}",
            payload,
            **{"If-Match": f'"{version}"'},
        )

    async def must(
        self, user: str, case_id: str, action: str, payload: Any = None
    ) -> dict[str, Any]:
        response = await self.act(user, case_id, action, payload)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def fact(self, user: str, case_id: str, path: str, body: Any) -> httpx.Response:
        """Record a fact; one whose body names no day happened today."""
        field = DATE_FIELDS.get(path)
        if field and isinstance(body, dict) and field not in body:
            body = {**body, field: self.today()}
        return await self.post(user, f"/api/v1/cases/{case_id}/{path}", body)

    async def must_fact(self, user: str, case_id: str, path: str, body: Any) -> dict[str, Any]:
        response = await self.fact(user, case_id, path, body)
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    async def event_count(self, case_id: str) -> int:
        response = await self.get("auditor.jiaohe", f"/api/v1/cases/{case_id}/events")
        assert response.status_code == 200, response.text
        return len(response.json())

    # --- the standard path --------------------------------------------------------------------

    async def to_village_nomination(
        self, channel: str = "self_declared", id_number: str | None = None
    ) -> str:
        case = await self.open_case(channel, id_number=id_number)
        if channel == "department_flagged":
            await self.must(
                "bureau.jiaohe", case["id"], "distribute", {"township_code": VILLAGE[:9]}
            )
        else:
            await self.must("cadre.pinggang", case["id"], "start_village_review")
        return str(case["id"])

    async def prepare_nomination(self, case_id: str, review: dict[str, Any] | None = None) -> None:
        """Record the commitment form, the verified facts and a review (passing by default);
        a cadre-found or department-flagged case is studied by the two committees first."""
        case = await self.case(case_id)
        form = {
            **COMMITMENT_FORM,
            "signatory_name": case["household"]["head_name"],
            "covered_member_id_numbers": [self.heads[case_id]],
        }
        await self.must_fact("cadre.pinggang", case_id, "commitment-forms", form)
        if case["channel"] != "self_declared":
            await self.must_fact(
                "committee.pinggang", case_id, "committee-studies", COMMITTEE_STUDY
            )
        await self.must_fact("cadre.pinggang", case_id, "household-verifications", VERIFICATION)
        await self.must_fact("committee.pinggang", case_id, "reviews", review or PASSING_REVIEW)

    async def nominate(self, case_id: str, location: str = "村务公开栏") -> None:
        """Prepare the nomination, then publish the notice."""
        await self.prepare_nomination(case_id)
        await self.must("committee.pinggang", case_id, "publish_notice", {"location": location})

    async def lodge_objection(self, case_id: str, statement: str) -> str:
        """An objection lodged through the village cadre; answers its id."""
        body = {"lodged_by_name": "李村民", "statement": statement}
        case = await self.must_fact("cadre.pinggang", case_id, "objections", body)
        objections = case["facts"]["procedures"]["identification"]["objections"]
        return str(list(objections)[-1])

    async def to_township(self, case_id: str) -> None:
        await self.nominate(case_id)
        self.clock.advance(timedelta(days=6))
        await self.must("committee.pinggang", case_id, "submit_to_township")

    async def to_city(self, case_id: str) -> None:
        await self.to_township(case_id)
        await self.must_fact("township.baishishan", case_id, "home-visits", HOME_VISIT)
        await self.must("township.baishishan", case_id, "submit_to_city")

    async def to_assisted(
        self, channel: str = "self_declared", id_number: str | None = None
    ) -> str:
        case_id = await self.to_village_nomination(channel, id_number)
        await self.to_city(case_id)
        await self.must_fact("bureau.jiaohe", case_id, "classification", CLASSIFICATION)
        await self.must("bureau.jiaohe", case_id, "confirm")
        return case_id


def owner_url(settings: Settings) -> str:
    """The schema owner's connection (the migrator): what an attacker with rights on the
    database would use. The service itself connects as a role that owns nothing."""
    return settings.database_migration_url or settings.database_url


def rule_refusal(response: Any) -> str:
    """The rule a 409 ``guard_failed`` names (a fact's rules refuse with one)."""
    body = response.json()
    assert body["code"] == "guard_failed", body
    assert len(body["unmet"]) == 1, body
    return str(body["unmet"][0]["code"])


@contextmanager
def statements_sent() -> Iterator[list[str]]:
    """Every statement asyncpg sends meanwhile, prepared or simple (``BEGIN``, ``COMMIT``),
    its whitespace folded."""
    sent: list[str] = []
    execute: Any = asyncpg.Connection.execute
    prepared: Any = asyncpg.Connection._execute

    async def simple(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
        if not args:
            sent.append(" ".join(query.split()))
        return await execute(self, query, *args, **kwargs)

    async def with_arguments(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
        sent.append(" ".join(query.split()))
        return await prepared(self, query, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(asyncpg.Connection, "execute", simple)
        patch.setattr(asyncpg.Connection, "_execute", with_arguments)
        yield sent
