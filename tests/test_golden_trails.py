"""Recorded trails of each released workflow version replay identically, forever.

``tests/golden/<version>.json`` holds whole cases as the service wrote them: every event as
stored (payload and hashes), the facts and state the case held, the policy versions its events
pinned, and the replay's verdict on every step. A change to a rule, the reducer, a fact rule
or a state table that alters how an old trail replays fails here, even where the compiled
tables' fingerprints (``test_workflow_versions.py``) do not move.

The corpus is recorded once per version (``RECORD_GOLDEN=1 pytest tests/test_golden_trails.py
-k record``) and then only read.
"""

from __future__ import annotations

import json
import os
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.cases import opening
from app.cases import replay as case_replay
from app.cases.models import Case, CaseEvent
from app.core.db import make_engine, make_sessionmaker
from app.policies.models import PolicyVersion
from tests.helpers import COMMITMENT_FORM, Api
from tests.test_elimination import (
    STABLE,
    assess,
    monitored_and_helped,
    publish_lines,
    set_head_labour,
)
from workflows.policy import POLICIES, PolicyParameters, register

GOLDEN = Path(__file__).parent / "golden"
EVENT_FIELDS = (
    "seq",
    "name",
    "from_state",
    "to_state",
    "actor_sub",
    "actor_role",
    "actor_area",
    "workflow_version",
    "policy_version",
    "payload",
    "prev_hash",
    "hash",
)


def corpus(version: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((GOLDEN / f"{version}.json").read_text())
    return document


def events_of(case: dict[str, Any]) -> list[CaseEvent]:
    return [
        CaseEvent(
            case_id=case["id"],
            occurred_at=datetime.fromisoformat(e["occurred_at"]),
            **{k: e[k] for k in EVENT_FIELDS},
        )
        for e in case["events"]
    ]


def verdicts(replayed: Any) -> list[list[Any]]:
    return [
        [s.seq, s.event, s.from_state, s.to_state, s.legal, s.unmet, s.hash_valid]
        for s in replayed.steps
    ]


@pytest.mark.parametrize("version", ["case-v1", "case-v2"])
def test_recorded_trails_replay_identically(version: str) -> None:
    recorded = corpus(version)
    for parameters in recorded["policies"]:
        if parameters["version"] not in POLICIES:
            register(
                PolicyParameters.from_document(
                    parameters["version"],
                    date.fromisoformat(parameters["effective_from"]),
                    parameters["document"],
                )
            )
    assert recorded["cases"], "an empty corpus proves nothing"
    for case in recorded["cases"]:
        replayed = case_replay.replay_events(case["state"], case["facts"], events_of(case), version)
        assert replayed.matches, case["name"]
        assert replayed.facts_match, case["name"]
        assert replayed.chain_valid, case["name"]
        assert verdicts(replayed) == case["verdicts"], case["name"]


# --- recording (once per released version) -----------------------------------------------------


RECORDING = pytest.mark.skipif(
    os.environ.get("RECORD_GOLDEN") != "1", reason="records the corpus only when asked"
)


async def stored(api: Api, name: str, case_id: str) -> dict[str, Any]:
    engine = make_engine(api.settings.database_url)
    async with make_sessionmaker(engine)() as session:
        case = await session.get(Case, case_id)
        assert case is not None
        rows = list(
            (
                await session.execute(
                    select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.seq)
                )
            ).scalars()
        )
    await engine.dispose()
    replayed = case_replay.replay_events(case.state, case.facts, rows, case.workflow_version)
    assert replayed.matches, name
    assert replayed.facts_match, name
    return {
        "name": name,
        "id": case_id,
        "state": case.state,
        "facts": case.facts,
        "events": [
            {**{k: getattr(e, k) for k in EVENT_FIELDS}, "occurred_at": e.occurred_at.isoformat()}
            for e in rows
        ],
        "verdicts": verdicts(replayed),
    }


async def policies(api: Api) -> list[dict[str, Any]]:
    engine = make_engine(api.settings.database_url)
    async with make_sessionmaker(engine)() as session:
        rows = list((await session.execute(select(PolicyVersion))).scalars())
    await engine.dispose()
    return [
        {
            "version": r.version,
            "effective_from": r.effective_from.isoformat(),
            "document": r.parameters,
        }
        for r in rows
    ]


async def scenarios(api: Api) -> list[dict[str, Any]]:
    """Cases through the paths a version offers: identification with a return and an upheld
    objection, the plan and measures, the elimination to its end, a rejection."""
    cases = []
    returned = await api.to_village_nomination()
    await api.nominate(returned)
    objection = await api.lodge_objection(returned, "该户有车辆")
    await api.must_fact(
        "township.baishishan",
        returned,
        f"objections/{objection}/resolution",
        {"outcome": "upheld", "reason": "核实有营运车辆"},
    )
    await api.must_fact("cadre.pinggang", returned, "return-responses", {"response": "已核实"})
    await api.must("committee.pinggang", returned, "reject", {"reason": "不符合条件"})
    cases.append(await stored(api, "upheld objection, then rejected", returned))
    await publish_lines(api)
    eliminated = await monitored_and_helped(api)
    await set_head_labour(api, eliminated, "ordinary")
    await assess(api, eliminated, api.today())
    api.clock.advance(timedelta(days=200))
    await assess(api, eliminated, api.today())
    await api.must("cadre.pinggang", eliminated, "propose_elimination")
    await api.must_fact("cadre.pinggang", eliminated, "household-verifications", STABLE)
    await api.must_fact(
        "committee.pinggang",
        eliminated,
        "reviews",
        {
            "eligible_members": 30,
            "present": 21,
            "votes_for": 15,
            "votes_against": 4,
            "abstentions": 2,
            "minutes_sha256": "e" * 64,
        },
    )
    await api.must("committee.pinggang", eliminated, "publish_elimination_notice")
    api.clock.advance(timedelta(days=6))
    await api.must("committee.pinggang", eliminated, "submit_elimination_to_township")
    await api.must_fact(
        "township.baishishan",
        eliminated,
        "home-visits",
        {"visited_by": ["李"], "findings": "稳定", "opinion": "同意"},
    )
    await api.must("township.baishishan", eliminated, "submit_elimination_to_city")
    await api.must("bureau.jiaohe", eliminated, "mark_risk_eliminated", {"method": "assisted_out"})
    cases.append(await stored(api, "through assistance to risk eliminated", eliminated))
    flagged = await api.open_case("department_flagged")
    await api.must("bureau.jiaohe", flagged["id"], "distribute")
    form = {**COMMITMENT_FORM, "covered_member_id_numbers": [api.heads[flagged["id"]]]}
    await api.must_fact("cadre.pinggang", flagged["id"], "commitment-forms", form)
    await api.must("cadre.pinggang", flagged["id"], "withdraw", {"reason": "农户申请撤回"})
    cases.append(await stored(api, "department-flagged, withdrawn", flagged["id"]))
    return cases


@RECORDING
@pytest.mark.parametrize("version", ["case-v1", "case-v2"])
async def test_record(api: Api, version: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if not api.settings.database_url.startswith("sqlite"):
        pytest.skip("recorded once, on SQLite")
    from workflows.case import WORKFLOWS

    monkeypatch.setattr(opening, "CURRENT_WORKFLOW", WORKFLOWS[version])
    cases = await scenarios(api)
    GOLDEN.mkdir(exist_ok=True)
    document = {
        "version": version,
        "recorded_on": date.today().isoformat(),
        "policies": await policies(api),
        "cases": cases,
    }
    (GOLDEN / f"{version}.json").write_text(
        json.dumps(document, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
    )
