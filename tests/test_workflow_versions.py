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
from app.cases import opening
from app.cases import replay as case_replay
from app.cases import repository as repo
from app.core.db import make_engine, make_sessionmaker
from tests.helpers import Api
from tests.test_audit_bundle import make_bundle
from workflows.case import CASE_V1, WORKFLOWS, Workflow

# The compiled transition table of each released version, fingerprinted. Trails recorded under
# a version replay on its table forever: a change to the workflow is a new version beside it.
RELEASED = {
    "case-v1": "4a3d40a3ea2d3fce0e9f18f948ac57468449f0cc4f3996d2eeb2724cb464f2d4",
    "case-v2": "b86a2289e63cad353d1672e6ab0ec930a4f2dc766a7c884af2067bf2da2936e3",
}
# What each step checks, and which fact rules a version records under: a rule added to a
# released step, or another fact rule function, is a change of meaning too.
RULES_RELEASED = {
    "case-v1": "f7cc3f57785b8cf0564c3bfa6744eb6fdb35ff3c609bc87ee022bde106bec514",
    "case-v2": "79b7a49a66095d2c11ae8da36e3758da8f35097d83c23dddc9e356e1b8cfbf4b",
}

# What replay reads besides the table and the rules: the version's states, the reducer that
# folds its events into facts (by name; what it does to recorded trails is held by the golden
# corpus, tests/test_golden_trails.py), and who records each fact in which state and procedure.
REPLAY_RELEASED = {
    "case-v1": "340d251856af876c5813c329e098a641fe6b8fda7ac5cee4f0af1cbc0f955cba",
    "case-v2": "e5f84376c2cfdaeb271406606189f8ad8c804a441dabdaf210bb86fbf6183a61",
}


def fingerprint(flow: Workflow) -> str:
    table = sorted(
        (name, source, target, sorted(roles))
        for (name, source), (target, roles) in flow.transitions.items()
    )
    return hashlib.sha256(json.dumps(table).encode()).hexdigest()


def rules_fingerprint(flow: Workflow) -> str:
    checks = sorted(
        (step.action, source, [(r.name, list(r.codes)) for r in step.rules])
        for step in flow.steps
        for source in step.sources
    )
    facts = sorted((kind, dict(spec.states.items())) for kind, spec in flow.facts.items())
    document = [checks, facts, flow.fact_rules.__qualname__]
    return hashlib.sha256(json.dumps(document).encode()).hexdigest()


def replay_fingerprint(flow: Workflow) -> str:
    facts = sorted(
        (
            kind,
            sorted(map(str, spec.roles)),
            {state: procedure and procedure.value for state, procedure in spec.states.items()},
        )
        for kind, spec in flow.facts.items()
    )
    reducer = f"{flow.reducer.__module__}.{flow.reducer.__qualname__}"
    document = [list(flow.states), reducer, facts]
    return hashlib.sha256(json.dumps(document).encode()).hexdigest()


def version_two() -> Workflow:
    """A changed definition: the village review is started by a differently named action."""
    steps = tuple(
        replace(step, action="begin_village_review")
        if step.action == "start_village_review"
        else step
        for step in CASE_V1.steps
    )
    return Workflow("case-next", steps, CASE_V1.facts, CASE_V1.fact_rules, CASE_V1.reducer)


async def test_an_old_case_runs_and_replays_under_its_own_version(
    api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = await api.open_case()
    v2 = version_two()
    monkeypatch.setitem(WORKFLOWS, v2.version, v2)
    monkeypatch.setattr(opening, "CURRENT_WORKFLOW", v2)
    new = await api.open_case(user="cadre.laodong", village="220281105200")
    assert (old["workflow_version"], new["workflow_version"]) == ("case-v2", "case-next")

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
        assert replayed["matches"], replayed
        assert replayed["chain_valid"], replayed
        assert all(step["legal"] for step in replayed["steps"])
    # …and the old trail is illegal under the new definition: the version matters
    engine = make_engine(api.settings.database_url)
    async with make_sessionmaker(engine)() as session:
        events = list(await repo.events_of(session, old["id"]))
    await engine.dispose()
    stored = await api.case(old["id"])
    assert case_replay.replay_events(stored["state"], stored["facts"], events, "case-v2").matches
    under_v2 = case_replay.replay_events(stored["state"], stored["facts"], events, "case-next")
    assert not under_v2.matches
    assert not under_v2.steps[1].legal

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
    assert list(WORKFLOWS) == ["case-v1", "case-v2"]
    for version, flow in WORKFLOWS.items():
        assert (fingerprint(flow), rules_fingerprint(flow), replay_fingerprint(flow)) == (
            RELEASED[version],
            RULES_RELEASED[version],
            REPLAY_RELEASED[version],
        ), f"{version} changed: released workflows are frozen; add the change as a new version"


def test_a_version_with_another_reducer_or_states_is_another_version() -> None:
    def folded_otherwise(*args: object, **kwargs: object) -> dict[str, object]:
        return {}

    other_reducer = replace(CASE_V1, version="case-v1", reducer=folded_otherwise)
    assert replay_fingerprint(other_reducer) != REPLAY_RELEASED["case-v1"]
    fewer_states = replace(CASE_V1, states=CASE_V1.states[:-1])
    assert replay_fingerprint(fewer_states) != REPLAY_RELEASED["case-v1"]
    assert replay_fingerprint(replace(CASE_V1)) == REPLAY_RELEASED["case-v1"]
