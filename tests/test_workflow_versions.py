"""Workflow versions are kept: a changed definition is a new version, and a case opened under
an earlier one goes on running and replaying under the rules it started with."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import pytest

from app.audit.signing import Signer
from app.audit.verify import verify_bundle
from app.cases import repository as repo
from app.cases import service
from app.core.db import make_engine, make_sessionmaker
from tests.helpers import Api
from tests.test_audit_bundle import make_bundle
from workflows.case import CASE_V1, WORKFLOWS, Workflow

# The compiled transition table of the released case-v1, fingerprinted. Trails recorded under
# case-v1 replay on this table forever: a change to the workflow is a new version beside it.
RELEASED = {"case-v1": "4a3d40a3ea2d3fce0e9f18f948ac57468449f0cc4f3996d2eeb2724cb464f2d4"}


def fingerprint(flow: Workflow) -> str:
    table = sorted((name, source, target, sorted(roles))
                   for (name, source), (target, roles) in flow.transitions.items())  # fmt: skip
    return hashlib.sha256(json.dumps(table).encode()).hexdigest()


def version_two() -> Workflow:
    """A changed definition: the village review is started by a differently named action."""
    steps = tuple(
        replace(step, action="begin_village_review") if step.action == "start_village_review"
        else step
        for step in CASE_V1.steps
    )  # fmt: skip
    return Workflow("case-v2", steps, CASE_V1.facts)


async def test_an_old_case_runs_and_replays_under_its_own_version(
    api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = await api.open_case()
    v2 = version_two()
    monkeypatch.setitem(WORKFLOWS, v2.version, v2)
    monkeypatch.setattr(service, "CURRENT_WORKFLOW", v2)
    new = await api.open_case(user="cadre.laodong", village="220281105200")
    assert (old["workflow_version"], new["workflow_version"]) == ("case-v1", "case-v2")

    # each case fires the actions of its own definition, and only those
    await api.must("cadre.pinggang", old["id"], "start_village_review")
    refused = await api.act("cadre.laodong", new["id"], "start_village_review")
    assert refused.status_code in (404, 409), refused.text
    await api.must("cadre.laodong", new["id"], "begin_village_review")
    actions = (await api.get("cadre.pinggang", f"/api/v1/cases/{old['id']}/actions")).json()
    assert "begin_village_review" not in json.dumps(actions)

    # the server's replay runs each case under its pinned version
    for case in (old, new):
        replayed = (await api.get("auditor.jiaohe", f"/api/v1/cases/{case['id']}/replay")).json()
        assert replayed["matches"] and replayed["chain_valid"], replayed
        assert all(step["legal"] for step in replayed["steps"])
    # …and the old trail is illegal under the new definition: the version matters
    engine = make_engine(api.settings.database_url)
    async with make_sessionmaker(engine)() as session:
        events = list(await repo.events_of(session, old["id"]))
    await engine.dispose()
    stored = await api.case(old["id"])
    assert service.replay_events(stored["state"], stored["facts"], events, "case-v1").matches
    under_v2 = service.replay_events(stored["state"], stored["facts"], events, "case-v2")
    assert not under_v2.matches and not under_v2.steps[1].legal

    # so does the offline verifier
    bundle = await make_bundle(api, tmp_path / "versions")
    report = verify_bundle(bundle, public_key=Signer(api.settings.audit_signing_key).public_key_b64)
    assert report.ok, [str(p) for p in report.problems]
    monkeypatch.delitem(WORKFLOWS, v2.version)
    without = verify_bundle(bundle)
    assert [(p.code, p.case_id) for p in without.problems] == [("workflow_unknown", new["id"])]


def test_old_trail_is_illegal_under_the_new_table() -> None:
    v2 = version_two()
    assert ("start_village_review", "self_declared") in CASE_V1.transitions
    assert ("start_village_review", "self_declared") not in v2.transitions
    assert v2.transitions[("begin_village_review", "self_declared")][0] == "village_nomination"


def test_released_versions_are_frozen() -> None:
    assert list(WORKFLOWS) == ["case-v1"]
    assert fingerprint(CASE_V1) == RELEASED["case-v1"], (
        "case-v1 changed: released workflows are frozen; add the change as a new version"
    )
