"""The case workflow (监测帮扶流程), version 1: one table, from which the machine is built.

Every transition of SPEC §1 is a :class:`Step` — action, source states, target, the roles that
may fire it, its rules and its payload. The python-statemachine ``StateMachine`` is generated
from the same table with each rule as a named ``cond``, so the table the API shows, the rules
evaluated before sending, and the machine that refuses illegal moves cannot drift apart.

Released versions are frozen. A change to the workflow is a new :class:`Workflow` beside the
old ones in ``WORKFLOWS`` (its own table) and becomes ``CURRENT`` for new cases; every case
keeps the version it was opened under, runs and replays under it, and so does the offline
verifier (``tests/test_workflow_versions.py`` pins case-v1's compiled table).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints
from statemachine import State, StateMachine

from workflows import rules as r
from workflows.facts import Reducer, evolve
from workflows.rules import Rule, RuleContext, Unmet
from workflows.vocabulary import Channel, FactKind, Procedure, Role

Reason = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]


class ActionPayload(BaseModel):
    """Base of every action payload: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class EmptyPayload(ActionPayload):
    """The action takes no data."""


class ReasonPayload(ActionPayload):
    """Returns, rejections, withdrawals and roll-backs state why (rule ``reason_missing``)."""

    reason: Reason | None = None


class ContinuePayload(ReasonPayload):
    """Back to assistance from the elimination procedure; weak stability names its causes."""

    weak_stability: list[
        Literal["unstable_income", "uncontrollable_spending", "relapses_without_support"]
    ] = []
    """稳定性较弱: unstable income, rigid spending beyond control, or a relapse as soon as the
    support stops (policy 四(二))."""


class DistributePayload(ActionPayload):
    """The city bureau sends a department warning to the township of the household's village."""

    township_code: Annotated[str, StringConstraints(pattern=r"^\d{9}$")] | None = None
    note: Reason | None = None


class NoticePayload(ActionPayload):
    """Where the notice is posted (公示地点), shown in the notice text."""

    location: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None


class EliminationPayload(ActionPayload):
    """风险消除方式: by assistance (帮扶消除) or naturally (自然消除)."""

    method: Literal["assisted_out", "natural"]


class OpenPayload(ActionPayload):
    """What the opening event of a case records: references, never personal data."""

    household_id: str
    household_type: Literal["lifted_out", "ordinary"] = "ordinary"
    channel: Channel
    source: Annotated[str, StringConstraints(max_length=200)] | None = None
    description: Reason | None = None
    previous_case_ids: list[str] = []
    """The household's earlier cases, closed: a re-entry stays linked to its history."""


class Effect(StrEnum):
    """What a step does besides moving the case, run by the service in the step's transaction
    after its event is appended (``app.cases.service.EFFECTS``)."""

    schedule_notice_end = "schedule_notice_end"
    """The notice just published moves the case on by itself when it has run (its
    :class:`Notice` says with which step)."""
    compare_with_departments = "compare_with_departments"
    """数据比对: the household is compared with the departments' data, recorded as its own
    event."""
    settle_objection = "settle_objection"
    """A resolved objection to a running notice: upheld (异议成立), the notice's
    :attr:`Notice.upheld` step fires; dismissed after the notice ran, the case moves on."""


@dataclass(frozen=True)
class Step:
    """One row of the workflow table."""

    action: str
    sources: tuple[str, ...]
    target: str
    roles: frozenset[Role]
    rules: tuple[Rule, ...] = ()
    procedure: Procedure | None = None
    payload: type[ActionPayload] = EmptyPayload
    title: str = ""
    effects: tuple[Effect, ...] = ()


@dataclass(frozen=True)
class Notice:
    """A procedure's public notice (公示) as the table runs it: the step that publishes it, the
    state it runs in, the step the timer fires once it has run without an open objection, and
    the step an upheld objection (异议成立) fires, with the reason that step records."""

    procedure: Procedure
    published_by: str
    runs_in: str
    ends_with: str
    upheld: str
    upheld_reason: str | None = None


# fmt: off
NOTICES = (
    Notice(Procedure.identification, "publish_notice", "public_notice", "submit_to_township",
           "return_to_village"),
    Notice(Procedure.elimination, "publish_elimination_notice", "elimination_notice",
           "submit_elimination_to_township", "continue_assistance", "objection upheld (异议成立)"),
)
# fmt: on
NOTICE_OF_PROCEDURE = {notice.procedure: notice for notice in NOTICES}
NOTICE_RUNNING_IN = {notice.runs_in: notice for notice in NOTICES}


ENTRY_STATES = ("self_declared", "cadre_found", "department_flagged")
IDENTIFICATION_STATES = (
    *ENTRY_STATES,
    "village_nomination",
    "public_notice",
    "township_verification",
    "city_confirmation",
)
ELIMINATION_STATES = (
    "elimination_nomination",
    "elimination_notice",
    "elimination_township_verification",
    "elimination_city_confirmation",
)
CLOSED_STATES = ("rejected", "withdrawn", "risk_eliminated")
"""A case is open in every other state; a household has at most one open case."""
STATES = (
    "new",
    *IDENTIFICATION_STATES,
    "assisted",
    *ELIMINATION_STATES,
    "kept_under_watch",
    *CLOSED_STATES,
)
STATE_TITLES = {
    "new": "新建 (synthetic initial state)",
    "self_declared": "农户自主申报",
    "cadre_found": "基层干部排查",
    "department_flagged": "部门筛查预警",
    "village_nomination": "村提名单",
    "public_notice": "公示",
    "township_verification": "乡镇复核",
    "city_confirmation": "县(市)级确定",
    "assisted": "监测帮扶",
    "elimination_nomination": "风险消除·村提名单",
    "elimination_notice": "风险消除·公示",
    "elimination_township_verification": "风险消除·乡镇复核",
    "elimination_city_confirmation": "风险消除·县级确定",
    "kept_under_watch": "持续跟踪监测",
    "risk_eliminated": "风险消除",
    "rejected": "不纳入",
    "withdrawn": "撤回",
}

V, C, T, B = Role.village_cadre, Role.village_committee, Role.township_official, Role.city_bureau
ID, EL = Procedure.identification, Procedure.elimination

# 村提名单: verified facts and a quorate, passed review — in both procedures.
NOMINATION_RULES = (
    r.household_facts_verified,
    r.review_recorded,
    r.review_quorate,
    r.review_passed,
)
NOTICE_RULES = (r.notice_period_over, r.no_open_objection)
CLASSIFICATION_RULES = (r.monitoring_type_chosen, r.risk_types_chosen, r.responsible_person_named)
# 风险消除 criteria (policy 四(二)), checked when proposed and again by the city.
ELIMINATION_CRITERIA = (
    r.monitored_long_enough,
    r.measure_done,
    r.income_stable,
    r.rigid_spending_resolved,
    r.guarantees_secure,
)


# Money from the fund goes only to households whose case has reached assistance.
FUNDED_STATES = ("assisted", "kept_under_watch", *ELIMINATION_STATES)

# The assistance plan's review and notice happen while the household is monitored.
PLAN_STATES: dict[str, Procedure | None] = {
    "assisted": Procedure.plan,
    "kept_under_watch": Procedure.plan,
}


def _roles(*roles: Role) -> frozenset[Role]:
    return frozenset(roles)


# fmt: off
STEPS_V1: tuple[Step, ...] = (
    # Opening: a case is created directly in its channel's state.
    Step("open_self_declared", ("new",), "self_declared", _roles(V, Role.platform_12317),
         payload=OpenPayload, title="农户自主申报"),
    Step("open_cadre_found", ("new",), "cadre_found", _roles(V), payload=OpenPayload,
         title="基层干部排查"),
    Step("open_department_flagged", ("new",), "department_flagged",
         _roles(Role.department, B), payload=OpenPayload, title="部门筛查预警"),
    # Identification (识别).
    Step("start_village_review", ("self_declared", "cadre_found"), "village_nomination",
         _roles(V), title="村级核实"),
    Step("distribute", ("department_flagged",), "village_nomination", _roles(B),
         (r.township_named,), payload=DistributePayload, title="归类分发"),
    Step("publish_notice", ("village_nomination",), "public_notice", _roles(C),
         (r.commitment_form_on_file, *NOMINATION_RULES, r.return_addressed), ID, NoticePayload,
         "公示", (Effect.schedule_notice_end,)),
    Step("submit_to_township", ("public_notice",), "township_verification",
         _roles(C, Role.system), NOTICE_RULES, ID, title="报乡镇"),
    Step("return_to_village", ("public_notice",), "village_nomination", _roles(T),
         (r.reason_given, r.objection_upheld), ID, ReasonPayload, "异议成立·退回村级"),
    Step("return_to_village", ("township_verification",), "village_nomination", _roles(T),
         (r.reason_given,), ID, ReasonPayload, "退回村级"),
    Step("submit_to_city", ("township_verification",), "city_confirmation", _roles(T),
         (r.home_visit_recorded, r.return_addressed), ID, title="报市级确定",
         effects=(Effect.compare_with_departments,)),
    Step("return_to_township", ("city_confirmation",), "township_verification", _roles(B),
         (r.reason_given,), ID, ReasonPayload, "退回乡镇"),
    Step("confirm", ("city_confirmation",), "assisted", _roles(B),
         (r.comparison_run, r.comparison_resolved, *CLASSIFICATION_RULES), ID,
         title="确定为监测对象"),
    Step("reject", (*ENTRY_STATES, "village_nomination", "public_notice"), "rejected",
         _roles(C), (r.reason_given,), payload=ReasonPayload, title="不纳入"),
    Step("reject", ("township_verification",), "rejected", _roles(T), (r.reason_given,),
         payload=ReasonPayload, title="不纳入"),
    Step("reject", ("city_confirmation",), "rejected", _roles(B), (r.reason_given,),
         payload=ReasonPayload, title="不纳入"),
    Step("withdraw", (*ENTRY_STATES, "village_nomination"), "withdrawn", _roles(V),
         (r.reason_given,), payload=ReasonPayload, title="撤回"),
    # Risk elimination (风险消除): the same procedure, the same rule functions.
    Step("propose_elimination", ("assisted", "kept_under_watch"), "elimination_nomination",
         _roles(V), ELIMINATION_CRITERIA, EL, title="提出风险消除"),
    Step("publish_elimination_notice", ("elimination_nomination",), "elimination_notice",
         _roles(C), NOMINATION_RULES, EL, NoticePayload, "风险消除公示",
         (Effect.schedule_notice_end,)),
    Step("submit_elimination_to_township", ("elimination_notice",),
         "elimination_township_verification", _roles(C, Role.system), NOTICE_RULES, EL,
         title="风险消除报乡镇"),
    Step("submit_elimination_to_city", ("elimination_township_verification",),
         "elimination_city_confirmation", _roles(T), (r.home_visit_recorded,), EL,
         title="风险消除报市级"),
    Step("mark_risk_eliminated", ("elimination_city_confirmation",), "risk_eliminated",
         _roles(B), (*ELIMINATION_CRITERIA, r.has_labour_capacity), EL, EliminationPayload,
         "标注风险消除"),
    Step("continue_assistance", ELIMINATION_STATES, "assisted", _roles(T, B), (r.reason_given,),
         EL, ContinuePayload, "继续帮扶"),
    Step("keep_under_watch", ("assisted",), "kept_under_watch", _roles(B),
         (r.lacks_labour_capacity, r.social_security_in_place), title="持续跟踪监测"),
    Step("resume_assistance", ("kept_under_watch",), "assisted", _roles(B), (r.reason_given,),
         payload=ReasonPayload, title="恢复帮扶"),
    Step("roll_back_elimination", ("risk_eliminated",), "assisted", _roles(B),
         (r.reason_given, r.household_has_no_other_open_case), payload=ReasonPayload,
         title="风险消除回退"),
)
# fmt: on


def _cond(named: Rule) -> Any:
    """A named ``cond`` for the machine: true when the rule is met. The service sends the
    verdicts it already has (``met``, the names of the rules met), so a rule runs once per
    step; without them the rule is asked in the sent context."""

    def cond(ctx: RuleContext, met: frozenset[str] | None = None) -> bool:
        return named.name in met if met is not None else named(ctx) is None

    cond.__name__ = cond.__qualname__ = named.name
    return cond


def build_machine(
    name: str, steps: tuple[Step, ...], names: tuple[str, ...] = ()
) -> type[StateMachine]:
    """Generate the StateMachine class for a workflow table over its states (``names``)."""
    states = {
        value: State(
            STATE_TITLES[value],
            value=value,
            initial=value == "new",
            final=value in ("rejected", "withdrawn"),
        )
        for value in names or STATES
    }
    attrs: dict[str, Any] = dict(states)
    for step in steps:
        conds = [_cond(named) for named in step.rules]
        for source in step.sources:
            transition = states[source].to(states[step.target], cond=conds)
            attrs[step.action] = (
                attrs[step.action] | transition if step.action in attrs else transition
            )
    # The machine has no final state reachable from `assisted` by design: a monitored household
    # is either kept under watch or eliminated, and an elimination can be rolled back.
    attrs["validate_final_reachability"] = False
    return type(name, (StateMachine,), attrs)


class StateHolder:
    """The model the machine moves: only a state value, never the database row."""

    __slots__ = ("state",)

    def __init__(self, state: str) -> None:
        self.state = state


DECIDED_AT_MOST = 4096
"""How many of the machine's answers a workflow keeps (:meth:`Workflow.run`): one for each
state and action in practice, as the service sends the machine a step only when all its rules
are met; the bound holds whatever a caller sends."""


class UnknownState(ValueError):
    """A stored state that the pinned workflow does not define: corruption, not a new state."""


@dataclass(frozen=True)
class Workflow:
    """One version of the case workflow."""

    version: str
    steps: tuple[Step, ...]
    facts: dict[str, FactSpec]
    fact_rules: Callable[[str, RuleContext], Unmet | None]
    """Why a fact may not be recorded now, beyond who and in which state (None: it may)."""
    reducer: Reducer = evolve
    """How an event folds into the case's facts, as this version's trails were written: a
    change of meaning is a new reducer used only by the next version."""
    states: tuple[str, ...] = STATES
    """The states of this version's machine, ``new`` first."""
    _instance: dict[str, Any] = field(
        default_factory=lambda: {"lock": threading.Lock()}, init=False, compare=False, repr=False
    )
    _decided: dict[tuple[str, str, frozenset[str]], str] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )
    """What the machine answered, by state, action and the verdicts it was sent (:meth:`run`).
    Neither is an argument: a workflow made from another (``dataclasses.replace``), which may
    have other steps or states, starts with its own."""

    @cached_property
    def machine(self) -> type[StateMachine]:
        name = "CaseWorkflow_" + self.version.replace("-", "_")
        return build_machine(name, self.steps, self.states)

    @cached_property
    def actions(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(step.action for step in self.steps))

    @cached_property
    def _by_source(self) -> dict[tuple[str, str], Step]:
        return {(step.action, source): step for step in self.steps for source in step.sources}

    @cached_property
    def transitions(self) -> dict[tuple[str, str], tuple[str, frozenset[str]]]:
        """``(event name, from state) → (to state, roles)`` for every event a case can record:
        actions, facts (which keep the state) and reports attached to an open case. Compiled
        from the definition; the offline verifier replays trails on it."""
        table = {
            (step.action, source): (step.target, frozenset(map(str, step.roles)))
            for step in self.steps
            for source in step.sources
        }
        for kind, spec in self.facts.items():
            table.update({(kind, s): (s, frozenset(map(str, spec.roles))) for s in spec.states})
        reporters = frozenset(
            str(role)
            for step in self.steps
            if step.action.startswith("open_")
            for role in step.roles
        )
        for state in self.states:
            if state != "new" and state not in CLOSED_STATES:
                table[("report", state)] = (state, reporters)
        return table

    def step(self, action: str, state: str) -> Step | None:
        """The row for firing ``action`` from ``state``, or None when it does not leave it."""
        return self._by_source.get((action, state))

    def steps_from(self, state: str) -> list[Step]:
        return [step for step in self.steps if state in step.sources]

    def roles_for(self, action: str) -> frozenset[Role]:
        """Every role that may fire ``action`` from some state."""
        return frozenset(
            role for step in self.steps if step.action == action for role in step.roles
        )

    def run(
        self, state: str, action: str, ctx: RuleContext, met: frozenset[str] | None = None
    ) -> str:
        """Send ``action`` to a machine standing in ``state``; answers the new state.

        ``met``: the names of the step's rules already found met (``rules.verdicts``), which
        the machine's conditions read instead of asking each rule again. Raises
        ``TransitionNotAllowed`` when the action does not leave the state or a rule refuses
        it, and :class:`UnknownState` for a state the definition lacks.

        Sent verdicts, the machine's answer depends on nothing else: its conditions read only
        ``met``, its model holds only the state, and it has no actions. So the state it moved
        to is kept by ``(state, action, met)`` and given again for the same three: a send
        cost some 100 µs, about a tenth of a write's CPU (``bench/RESULTS.md``). A refusal is
        not kept (the machine is asked again, and raises again), nor is a send without
        verdicts, whose conditions ask the rules in ``ctx``.
        """
        if met is not None:
            decided = self._decided.get((state, action, met))
            if decided is not None:
                return decided
        if state not in self.machine.states_map:
            raise UnknownState(state)
        # Building an instance registers every callback (milliseconds for this machine), so one
        # instance is reused: the machine reads and writes the state on its model, which is set
        # before each send. A machine that reached a final state has terminated and is rebuilt.
        with self._instance["lock"]:
            machine, holder = self._instance.get("machine"), self._instance.get("holder")
            if machine is None or holder is None:
                holder = StateHolder("new")
                machine = self.machine(model=holder)
                self._instance.update(machine=machine, holder=holder)
            holder.state = state
            try:
                machine.send(action, ctx=ctx, met=met)
                moved = str(holder.state)
            finally:
                if machine.is_terminated:
                    self._instance.pop("machine")
        if met is not None and len(self._decided) < DECIDED_AT_MOST:
            self._decided[(state, action, met)] = moved
        return moved

    def mermaid(self) -> str:
        """The diagram, drawn from the definition itself (no instance, so no active state)."""
        from statemachine.contrib.diagram import MermaidGraphMachine

        return str(MermaidGraphMachine(self.machine).get_mermaid())  # type: ignore[no-untyped-call]

    def describe(self) -> dict[str, Any]:
        """The definition as data, for frontends and auditors."""
        return {
            "version": self.version,
            "states": [
                {"name": s, "title": STATE_TITLES[s], "open": s not in CLOSED_STATES}
                for s in self.states
                if s != "new"
            ],
            "actions": [
                {
                    "name": step.action,
                    "title": step.title,
                    "from": list(step.sources),
                    "to": step.target,
                    "roles": sorted(step.roles),
                    "procedure": step.procedure,
                    "rules": [{"name": x.name, "codes": list(x.codes)} for x in step.rules],
                }
                for step in self.steps
            ],
            "facts": [
                {
                    "kind": spec.kind.value,
                    "title": spec.title,
                    "roles": sorted(spec.roles),
                    "states": sorted(spec.states),
                }
                for spec in self.facts.values()
            ],
        }


@dataclass(frozen=True)
class FactSpec:
    """Who records a fact, and in which states (with the procedure it belongs to there)."""

    kind: FactKind
    roles: frozenset[Role]
    states: dict[str, Procedure | None]
    title: str
    effects: tuple[Effect, ...] = ()
    """What recording it does besides folding it into the facts (see :class:`Effect`)."""


# fmt: off
FACTS_V1: dict[str, FactSpec] = {
    spec.kind.value: spec
    for spec in (
        FactSpec(FactKind.commitment_form, _roles(V),
                 dict.fromkeys((*ENTRY_STATES, "village_nomination"), ID), "承诺授权书"),
        FactSpec(FactKind.household_verification, _roles(V),
                 {"village_nomination": ID, "elimination_nomination": EL}, "村级核实"),
        FactSpec(FactKind.review, _roles(C),
                 {"village_nomination": ID, "elimination_nomination": EL, **PLAN_STATES},
                 "民主评议"),
        FactSpec(FactKind.objection, _roles(V),
                 {"public_notice": ID, "elimination_notice": EL, **PLAN_STATES}, "异议"),
        FactSpec(FactKind.objection_resolution, _roles(T),
                 {"public_notice": ID, "elimination_notice": EL, **PLAN_STATES}, "异议处理",
                 (Effect.settle_objection,)),
        FactSpec(FactKind.plan_notice, _roles(C), PLAN_STATES, "帮扶计划公示"),
        FactSpec(FactKind.income_assessment, _roles(V),
                 dict.fromkeys(("assisted", "kept_under_watch", "elimination_nomination")),
                 "收入核查"),
        FactSpec(FactKind.measure_planned, _roles(B), dict.fromkeys(PLAN_STATES), "帮扶措施"),
        FactSpec(FactKind.measure_progress, _roles(V, T, B),
                 dict.fromkeys(("assisted", "kept_under_watch", *ELIMINATION_STATES)),
                 "措施进展"),
        FactSpec(FactKind.home_visit, _roles(T),
                 {"township_verification": ID, "elimination_township_verification": EL},
                 "入户核实"),
        FactSpec(FactKind.classification, _roles(B), {"city_confirmation": ID}, "分类确定"),
        FactSpec(FactKind.data_comparison, _roles(Role.system, B), {"city_confirmation": ID},
                 "数据比对"),
        FactSpec(FactKind.comparison_resolution, _roles(B), {"city_confirmation": ID},
                 "比对结果处理"),
        FactSpec(FactKind.fund_disbursement, _roles(B), dict.fromkeys(FUNDED_STATES), "资金支持"),
        FactSpec(FactKind.fund_reversal, _roles(B), dict.fromkeys(s for s in STATES if s != "new"),
                 "资金冲正"),
        FactSpec(FactKind.household_change, _roles(V),
                 dict.fromkeys(s for s in STATES if s not in ("new", *CLOSED_STATES)),
                 "家庭成员变动"),
        FactSpec(FactKind.return_response, _roles(V, C, T),
                 {"village_nomination": ID, "township_verification": ID}, "退回整改"),
        FactSpec(FactKind.deadline_escalation, _roles(Role.system),
                 dict.fromkeys(IDENTIFICATION_STATES, ID), "识别超时预警"),
    )
}
# fmt: on


CASE_V1 = Workflow("case-v1", STEPS_V1, FACTS_V1, r.fact_refusal)


def _v2_step(step: Step) -> Step:
    """case-v1's row as case-v2 has it."""
    if step.action == "publish_notice":
        # 村"两委"研究 precedes the review of a cadre-found or department-flagged case
        return replace(
            step,
            rules=(
                r.commitment_form_on_file,
                r.committee_study_recorded,
                *NOMINATION_RULES,
                r.return_addressed,
            ),
        )
    if step.action == "propose_elimination":
        # 暂不标注: a household without labour capacity is not proposed at all
        return replace(step, rules=(*ELIMINATION_CRITERIA, r.has_labour_capacity))
    return step


STEPS_V2 = tuple(_v2_step(step) for step in STEPS_V1)
FACTS_V2: dict[str, FactSpec] = {
    **FACTS_V1,
    # the city checks income again: assessments go on through the elimination procedure
    FactKind.income_assessment.value: replace(
        FACTS_V1[FactKind.income_assessment.value],
        states=dict.fromkeys(("assisted", "kept_under_watch", *ELIMINATION_STATES)),
    ),
    FactKind.committee_study.value: FactSpec(
        FactKind.committee_study,
        _roles(C),
        dict.fromkeys(("cadre_found", "department_flagged", "village_nomination"), ID),
        '村"两委"研究',
    ),
    FactKind.announcement_posting.value: FactSpec(
        FactKind.announcement_posting,
        _roles(V, B),
        dict.fromkeys(("assisted", "kept_under_watch", *ELIMINATION_STATES)),
        "公告张贴",
    ),
}
CASE_V2 = Workflow("case-v2", STEPS_V2, FACTS_V2, r.fact_refusal_v2)
"""case-v1 with the procedures closer to the policy: a failed review is held again, the two
committees' study before the review of a warning, no proposal without labour capacity, income
assessed through the elimination procedure, and the posting of the city's announcement."""

WORKFLOWS: dict[str, Workflow] = {CASE_V1.version: CASE_V1, CASE_V2.version: CASE_V2}
CURRENT = CASE_V2
OPEN_ACTIONS = {channel: f"open_{channel.value}" for channel in Channel}


def workflow(version: str) -> Workflow:
    """The pinned definition a case runs and replays under."""
    try:
        return WORKFLOWS[version]
    except KeyError as exc:
        raise LookupError(f"unknown workflow version {version!r}") from exc


PUBLIC_STAGES = {
    "new": "received",
    "self_declared": "received",
    "cadre_found": "received",
    "department_flagged": "received",
    "village_nomination": "under_review",
    "public_notice": "under_review",
    "township_verification": "under_review",
    "city_confirmation": "under_review",
    "assisted": "monitored",
    "kept_under_watch": "monitored",
    **dict.fromkeys(ELIMINATION_STATES, "monitored"),
    "risk_eliminated": "risk_eliminated",
    "rejected": "not_included",
    "withdrawn": "withdrawn",
}
"""Where a case stands, as told to those outside the work: the household by its 12317 number,
a department by its warning's feedback."""
