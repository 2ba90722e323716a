"""Effects and notices are declared in the definition: each is consistent with the table that
runs it, and the service has a handler for every effect a step may declare."""

from __future__ import annotations

import pytest

from app.cases.service import EFFECTS, FACT_EFFECTS
from workflows.case import NOTICES, WORKFLOWS, Effect, Workflow
from workflows.facts import NOTICE_OPENED_BY


def test_the_service_runs_every_effect_a_step_or_a_fact_may_declare() -> None:
    assert set(EFFECTS) | set(FACT_EFFECTS) == set(Effect)
    assert not set(EFFECTS) & set(FACT_EFFECTS)
    for flow in WORKFLOWS.values():
        assert {e for step in flow.steps for e in step.effects} <= set(EFFECTS)
        assert {e for spec in flow.facts.values() for e in spec.effects} <= set(FACT_EFFECTS)


@pytest.mark.parametrize("flow", WORKFLOWS.values(), ids=list(WORKFLOWS))
def test_a_resolved_objection_settles_the_notice_it_was_lodged_against(flow: Workflow) -> None:
    settling = {
        kind for kind, spec in flow.facts.items() if Effect.settle_objection in spec.effects
    }
    assert settling == {"objection_resolution"}
    spec = flow.facts["objection_resolution"]
    assert {notice.runs_in for notice in NOTICES} <= set(spec.states)


@pytest.mark.parametrize("flow", WORKFLOWS.values(), ids=list(WORKFLOWS))
def test_each_notice_is_a_path_of_the_table(flow: Workflow) -> None:
    for notice in NOTICES:
        [published] = [s for s in flow.steps if s.action == notice.published_by]
        assert published.target == notice.runs_in
        assert published.procedure == notice.procedure
        assert Effect.schedule_notice_end in published.effects
        # the reducer opens the same procedure's notice (replay reads it from there)
        assert NOTICE_OPENED_BY[notice.published_by] == notice.procedure
        for action in (notice.ends_with, notice.upheld):
            step = flow.step(action, notice.runs_in)
            assert step is not None, (notice.procedure, action)
            assert step.procedure == notice.procedure


@pytest.mark.parametrize("flow", WORKFLOWS.values(), ids=list(WORKFLOWS))
def test_only_a_publishing_step_schedules_a_notice_end(flow: Workflow) -> None:
    scheduling = {s.action for s in flow.steps if Effect.schedule_notice_end in s.effects}
    assert scheduling == {notice.published_by for notice in NOTICES}
    comparing = {s.action for s in flow.steps if Effect.compare_with_departments in s.effects}
    assert comparing == {"submit_to_city"}  # 数据比对 as the case reaches the city
