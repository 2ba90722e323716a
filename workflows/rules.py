"""The rules (guards) of the case workflow, each a named function with a stable code.

A rule reads a :class:`RuleContext` and answers ``None`` when met or an :class:`Unmet` saying
what is missing and, for time rules, when it will be met. The same functions serve the
identification and the elimination procedures: the context names the procedure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from workflows import rule_codes
from workflows.calendar import add_months, after_full_days, after_months
from workflows.classification import suggest
from workflows.policy import PolicyParameters
from workflows.vocabulary import ObjectionOutcome, Procedure


@dataclass(frozen=True)
class Unmet:
    """One unmet rule, as ``/actions`` and a ``guard_failed`` refusal show it."""

    code: str
    message: str
    met_at: datetime | None = None

    def as_dict(self, language: str = "zh") -> dict[str, Any]:
        return {
            "code": self.code,
            "message": rule_codes.message(self.code, self.message, language),
            # the same shape the API's models give datetimes: UTC with a Z
            "met_at": self.met_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
            if self.met_at
            else None,
        }


@dataclass(frozen=True)
class RuleContext:
    """Everything a rule may read: the case's facts, the clock, the pinned policy."""

    facts: dict[str, Any]
    now: datetime
    policy: PolicyParameters
    procedure: Procedure | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    other_open_cases: int = 0
    """Open cases of the same household besides this one (for roll-back)."""
    state: str = ""
    """The state the case stands in when the rule is read."""
    actor_sub: str = ""
    actor_role: str = ""
    members_with_labour: int = 0
    """Members whose labour skill is skilled, ordinary or weak (from the registry)."""
    members_labour_unknown: int = 0
    income_lines: dict[int, str] = field(default_factory=dict)
    """Lines for years the pinned policy lacks, as published since (observed with the event)."""

    def income_line(self, year: int) -> Decimal | None:
        line = self.policy.income_line(year)
        if line is None and year in self.income_lines:
            return Decimal(self.income_lines[year])
        return line

    def procedure_facts(self) -> dict[str, Any]:
        assert self.procedure is not None, "a procedure rule runs only on a procedure step"
        procedure_facts: dict[str, Any] = self.facts["procedures"][self.procedure]
        return procedure_facts


RuleCheck = Callable[[RuleContext], "Unmet | None"]


@dataclass(frozen=True, eq=False)
class Rule:
    """A named rule; ``codes`` lists every code it can answer (for the workflow document).

    Each rule is made once (:func:`rule`, registered in :data:`RULES` by its name), so a rule
    is equal only to itself: a step's ``rules`` are searched by identity, not field by field
    (``rule in step.rules`` compared each of a step's rules through the dataclass's generated
    ``__eq__``: about 28 calls a read of a case's actions)."""

    name: str
    codes: tuple[str, ...]
    check: RuleCheck
    uses_payload: bool = False
    """Met or not by the action's own payload (a reason): ``/actions`` cannot know it yet."""
    requires: tuple[str, ...] = ()
    """The payload fields the rule needs (``/actions`` lists them as ``requires``)."""

    def __call__(self, ctx: RuleContext) -> Unmet | None:
        return self.check(ctx)


RULES: dict[str, Rule] = {}


def rule(
    *codes: str, uses_payload: bool = False, requires: tuple[str, ...] = ()
) -> Callable[[RuleCheck], Rule]:
    """Register a rule function under its own name."""

    def register(check: RuleCheck) -> Rule:
        named = Rule(check.__name__, codes, check, uses_payload or bool(requires), requires)
        RULES[named.name] = named
        return named

    return register


# --- payload rules ---------------------------------------------------------------------------


@rule("reason_missing", requires=("reason",))
def reason_given(ctx: RuleContext) -> Unmet | None:
    reason = ctx.payload.get("reason")
    if isinstance(reason, str) and reason.strip():
        return None
    return Unmet("reason_missing", "A reason must be given for this step.")


@rule("township_missing", uses_payload=True)
def township_named(ctx: RuleContext) -> Unmet | None:
    if ctx.payload.get("township_code"):
        return None
    return Unmet("township_missing", "Name the township the warning is distributed to.")


# --- village nomination ----------------------------------------------------------------------


@rule("commitment_form_missing")
def commitment_form_on_file(ctx: RuleContext) -> Unmet | None:
    if ctx.facts.get("commitment_form"):
        return None
    return Unmet(
        "commitment_form_missing",
        "No signed commitment and authorization form (承诺授权书) is on file.",
    )


@rule("household_facts_missing")
def household_facts_verified(ctx: RuleContext) -> Unmet | None:
    if ctx.procedure_facts()["verification"]:
        return None
    return Unmet(
        "household_facts_missing",
        "The village has not recorded the verified income, spending, 两不愁三保障 and water "
        "facts (村级核实).",
    )


@rule("review_missing")
def review_recorded(ctx: RuleContext) -> Unmet | None:
    if ctx.procedure_facts()["review"]:
        return None
    return Unmet(
        "review_missing", "No democratic review (民主评议) is recorded for this procedure."
    )


@rule("review_quorum_not_met")
def review_quorate(ctx: RuleContext) -> Unmet | None:
    review = ctx.procedure_facts()["review"]
    if not review:
        return None  # review_recorded reports the absence
    if review["present"] * ctx.policy.review_quorum.denominator >= (
        review["eligible_members"] * ctx.policy.review_quorum.numerator
    ):
        return None
    return Unmet(
        "review_quorum_not_met",
        f"{review['present']} of {review['eligible_members']} members were present; "
        f"at least {ctx.policy.review_quorum} must attend.",
    )


@rule("review_majority_not_met")
def review_passed(ctx: RuleContext) -> Unmet | None:
    review = ctx.procedure_facts()["review"]
    if not review:
        return None
    if review["votes_for"] * ctx.policy.review_majority.denominator > (
        review["present"] * ctx.policy.review_majority.numerator
    ):
        return None
    return Unmet(
        "review_majority_not_met",
        f"{review['votes_for']} of {review['present']} present voted for; "
        f"more than {ctx.policy.review_majority} is needed.",
    )


STUDIED_CHANNELS = ("cadre_found", "department_flagged")
"""Warnings the village two committees study before the democratic review (村"两委"研究)."""


@rule("committee_study_missing")
def committee_study_recorded(ctx: RuleContext) -> Unmet | None:
    if ctx.facts.get("channel") not in STUDIED_CHANNELS or ctx.facts.get("committee_study"):
        return None
    return Unmet(
        "committee_study_missing",
        'The village two committees have not recorded their study (村"两委"研究) of this warning.',
    )


def review_failed(ctx: RuleContext) -> bool:
    """The procedure's latest review missed the quorum or the majority."""
    return review_quorate(ctx) is not None or review_passed(ctx) is not None


# --- public notice ---------------------------------------------------------------------------


def notice_ends_at(notice: dict[str, Any]) -> datetime:
    """The moment a case may leave its notice: 00:00 on D+N+1 in Asia/Shanghai."""
    return after_full_days(datetime.fromisoformat(notice["published_at"]), notice["days"])


@rule("notice_period_running")
def notice_period_over(ctx: RuleContext) -> Unmet | None:
    notice = ctx.procedure_facts()["notice"]
    if notice is None:  # cannot happen on a legal path; refuse rather than assume
        return Unmet("notice_period_running", "No public notice has been published.")
    ends_at = notice_ends_at(notice)
    if ctx.now >= ends_at:
        return None
    return Unmet(
        "notice_period_running",
        f"The {notice['days']}-day public notice (公示) is still running.",
        met_at=ends_at,
    )


def open_objections(procedure_facts: dict[str, Any]) -> list[str]:
    return [oid for oid, o in procedure_facts["objections"].items() if o["resolution"] is None]


@rule("objection_open")
def no_open_objection(ctx: RuleContext) -> Unmet | None:
    pending = open_objections(ctx.procedure_facts())
    if not pending:
        return None
    return Unmet("objection_open", f"{len(pending)} objection(s) (异议) are not yet resolved.")


@rule("objection_not_upheld")
def objection_upheld(ctx: RuleContext) -> Unmet | None:
    objections = ctx.procedure_facts()["objections"].values()
    if any(
        o["resolution"] and o["resolution"]["outcome"] == ObjectionOutcome.upheld
        for o in objections
    ):
        return None
    return Unmet(
        "objection_not_upheld",
        "A case leaves its public notice for the village only on an upheld objection.",
    )


# --- township and city -----------------------------------------------------------------------


# Which state each return sends a case to: the step leaving that state answers it.
RETURN_TARGETS = {
    "return_to_village": "village_nomination",
    "return_to_township": "township_verification",
}


@rule("return_not_addressed")
def return_addressed(ctx: RuleContext) -> Unmet | None:
    last = ctx.facts.get("last_return")
    if not last or RETURN_TARGETS.get(last["action"]) != ctx.state or last.get("response"):
        return None
    return Unmet(
        "return_not_addressed",
        f"The case was returned ({last['reason']}); record how that was addressed first.",
    )


@rule("home_visit_missing")
def home_visit_recorded(ctx: RuleContext) -> Unmet | None:
    if ctx.procedure_facts()["home_visit"]:
        return None
    return Unmet("home_visit_missing", "No township home visit (入户核实) is recorded.")


@rule("comparison_not_run")
def comparison_run(ctx: RuleContext) -> Unmet | None:
    if ctx.facts.get("comparison"):
        return None
    return Unmet("comparison_not_run", "The data comparison (数据比对) has not run.")


@rule("comparison_unresolved")
def comparison_resolved(ctx: RuleContext) -> Unmet | None:
    comparison = ctx.facts.get("comparison") or {"findings": {}}
    open_findings = [
        f for f in comparison["findings"].values() if f["contradicts"] and not f["resolution"]
    ]
    if not open_findings:
        return None
    return Unmet(
        "comparison_unresolved",
        f"{len(open_findings)} finding(s) of the data comparison contradict the declared facts "
        "and are not resolved.",
    )


def _classification(ctx: RuleContext) -> dict[str, Any]:
    return ctx.facts.get("classification") or {}


@rule("monitoring_type_missing")
def monitoring_type_chosen(ctx: RuleContext) -> Unmet | None:
    if _classification(ctx).get("monitoring_type"):
        return None
    return Unmet("monitoring_type_missing", "Choose exactly one monitoring type (监测对象类别).")


@rule("risk_types_invalid")
def risk_types_chosen(ctx: RuleContext) -> Unmet | None:
    risk_types = _classification(ctx).get("risk_types") or []
    if 1 <= len(risk_types) <= 5 and len(set(risk_types)) == len(risk_types):
        return None
    return Unmet(
        "risk_types_invalid",
        f"Give one to five distinct risk types (致贫/返贫风险); {len(risk_types)} given.",
    )


@rule("responsible_person_missing")
def responsible_person_named(ctx: RuleContext) -> Unmet | None:
    if _classification(ctx).get("responsible_person"):
        return None
    return Unmet(
        "responsible_person_missing", "Name the assistance responsible person (帮扶责任人)."
    )


# --- assistance and elimination --------------------------------------------------------------


@rule("monitoring_too_short")
def monitored_long_enough(ctx: RuleContext) -> Unmet | None:
    confirmed_at = ctx.facts.get("confirmed_at")
    months = ctx.policy.elimination_min_months
    if confirmed_at is None:
        return Unmet("monitoring_too_short", "The case has not been confirmed.")
    met_at = after_months(datetime.fromisoformat(confirmed_at), months)
    if ctx.now >= met_at:
        return None
    return Unmet(
        "monitoring_too_short", f"Monitored less than {months} months since confirmation.", met_at
    )


def _measures(ctx: RuleContext) -> list[dict[str, Any]]:
    return list((ctx.facts.get("measures") or {}).values())


def assessments(facts: dict[str, Any]) -> list[dict[str, Any]]:
    """Every verified income assessment of the household, oldest first."""
    found: list[dict[str, Any]] = facts.get("assessments") or []
    return sorted(found, key=lambda a: (a["verified_on"], a["recorded_at"]))


@rule("income_not_stable")
def income_stable(ctx: RuleContext) -> Unmet | None:
    """Stably above the line: the latest assessment, the most recent one at least six months
    before it, and every one between them, each above its year's line."""
    found = assessments(ctx.facts)
    months = ctx.policy.elimination_min_months
    if not found:
        return Unmet("income_not_stable", "No income assessment is recorded.")
    latest = date.fromisoformat(found[-1]["verified_on"])
    earlier = [
        a for a in found if add_months(date.fromisoformat(a["verified_on"]), months) <= latest
    ]
    if not earlier:
        return Unmet("income_not_stable", f"No assessment {months} months before the latest.")
    since = earlier[-1]["verified_on"]
    for assessment in (a for a in found if a["verified_on"] >= since):
        year = date.fromisoformat(assessment["verified_on"]).year
        line = ctx.income_line(year)
        if line is None:
            return Unmet("income_not_stable", f"No income line is set for {year}.")
        if Decimal(assessment["net_income_per_person"]) <= line:
            return Unmet(
                "income_not_stable",
                f"Net income per person {assessment['net_income_per_person']} on "
                f"{assessment['verified_on']} is not above the {year} line of {line}.",
            )
    return None


def _latest(ctx: RuleContext) -> dict[str, Any] | None:
    found = assessments(ctx.facts)
    return found[-1] if found else None


@rule("rigid_spending_unresolved")
def rigid_spending_resolved(ctx: RuleContext) -> Unmet | None:
    latest = _latest(ctx)
    if latest is not None and not latest.get("large_rigid_spending"):
        return None
    return Unmet("rigid_spending_unresolved", "The latest assessment shows large rigid spending.")


@rule("guarantees_not_secure")
def guarantees_secure(ctx: RuleContext) -> Unmet | None:
    latest = _latest(ctx)
    guarantees = (latest or {}).get("guarantees") or {}
    insecure = [
        name
        for name in (
            "food_and_clothing",
            "compulsory_education",
            "basic_medical_care",
            "housing_safety",
            "drinking_water",
        )
        if not guarantees.get(name)
    ]
    if latest is not None and not insecure:
        return None
    return Unmet(
        "guarantees_not_secure",
        "两不愁三保障 and safe water are not all secure"
        + (f": {', '.join(insecure)}." if latest else " (no assessment)."),
    )


@rule("no_labour_capacity")
def has_labour_capacity(ctx: RuleContext) -> Unmet | None:
    if ctx.members_with_labour > 0:
        return None
    return Unmet(
        "no_labour_capacity",
        "No member has labour capacity: the household is kept under watch, never eliminated.",
    )


@rule("labour_capacity_present")
def lacks_labour_capacity(ctx: RuleContext) -> Unmet | None:
    if ctx.members_with_labour == 0 and ctx.members_labour_unknown == 0:
        return None
    if ctx.members_labour_unknown:
        return Unmet(
            "labour_capacity_present",
            f"Record every member's labour skill first ({ctx.members_labour_unknown} unknown).",
        )
    return Unmet(
        "labour_capacity_present",
        f"{ctx.members_with_labour} member(s) can work: assistance continues instead.",
    )


# 帮扶计划: the plan passes the same village review and notice as identification (四(二)).
PLAN_RULES = (
    "review_recorded",
    "review_quorate",
    "review_passed",
    "notice_period_over",
    "no_open_objection",
)


@rule("plan_not_approved")
def plan_approved(ctx: RuleContext) -> Unmet | None:
    plan = replace(ctx, procedure=Procedure.plan)
    unmet = [RULES[name](plan) for name in PLAN_RULES]
    missing = [u for u in unmet if u is not None]
    if not missing:
        return None
    met_at = next((u.met_at for u in missing if u.met_at), None)
    return Unmet(
        "plan_not_approved",
        "The assistance plan has not passed the village review and notice ("
        + ", ".join(u.code for u in missing)
        + ").",
        met_at if len(missing) == 1 else None,
    )


@rule("no_measure_done")
def measure_done(ctx: RuleContext) -> Unmet | None:
    if any(m.get("status") == "done" for m in _measures(ctx)):
        return None
    return Unmet("no_measure_done", "No assistance measure has been carried out (status done).")


@rule("social_security_missing")
def social_security_in_place(ctx: RuleContext) -> Unmet | None:
    if any(
        m.get("category") == "social_security" and m.get("status") in ("in_progress", "done")
        for m in _measures(ctx)
    ):
        return None
    return Unmet(
        "social_security_missing", "No 低保 or 特困供养 measure (social_security) is in place."
    )


@rule("household_has_open_case")
def household_has_no_other_open_case(ctx: RuleContext) -> Unmet | None:
    if ctx.other_open_cases == 0:
        return None
    return Unmet("household_has_open_case", "The household has another open case.")


# --- rules on recording a fact ----------------------------------------------------------------


MEASURE_NEXT = {
    "planned": ("in_progress", "done", "stopped"),
    "in_progress": ("done", "stopped"),
    "done": (),
    "stopped": (),
}


def fact_refusal(kind: str, ctx: RuleContext) -> Unmet | None:
    """Why a fact may not be recorded now (beyond who and in which state), or None."""
    if kind == "review" and ctx.procedure_facts()["review"]:
        return Unmet(
            "review_already_recorded",
            "This procedure already has its democratic review; a return to the village voids it.",
        )
    if kind == "objection":
        notice = ctx.procedure_facts()["notice"]
        if notice is None or ctx.now >= notice_ends_at(notice):
            return Unmet("notice_period_over", "Objections are lodged while the notice runs.")
    if kind == "plan_notice":
        plan = replace(ctx, procedure=Procedure.plan)
        if plan.procedure_facts()["notice"]:
            return Unmet("plan_notice_published", "The plan's notice is already published.")
        for name in ("review_recorded", "review_quorate", "review_passed"):
            unmet = RULES[name](plan)
            if unmet:
                return unmet
        if not any(m["status"] == "planned" for m in _measures(ctx)):
            return Unmet("plan_empty", "The plan has no planned measure to publish.")
    if kind == "measure_progress":
        measure = (ctx.facts.get("measures") or {}).get(ctx.payload.get("measure_id"))
        if measure is None:
            return Unmet("measure_not_found", "No such measure on this case.")
        status = ctx.payload["status"]
        if status not in MEASURE_NEXT[measure["status"]]:
            return Unmet(
                "measure_status_not_allowed",
                f"A {measure['status']} measure cannot become {status}.",
            )
        responsible = measure["responsible_person"].get("sub")
        if ctx.actor_role != "city_bureau" and responsible != ctx.actor_sub:
            return Unmet(
                "not_the_responsible_person",
                "Only the measure's responsible person or the city bureau reports its progress.",
            )
        if status != "stopped" and measure["status"] == "planned":
            return plan_approved(ctx)
    if kind == "return_response":
        last = ctx.facts.get("last_return")
        if not last or RETURN_TARGETS.get(last["action"]) != ctx.state or last.get("response"):
            return Unmet("no_return_to_address", "There is no open return to answer here.")
    if kind == "classification":
        chosen, suggestion = ctx.payload.get("monitoring_type"), suggest(ctx.facts, ctx.policy)
        if (
            chosen
            and suggestion
            and chosen != suggestion[0]
            and not ctx.payload.get("override_reason")
        ):
            return Unmet(
                "override_reason_missing",
                f"The facts suggest {suggestion[0]}; give override_reason to choose {chosen}.",
            )
    if kind == "comparison_resolution":
        findings = (ctx.facts.get("comparison") or {"findings": {}})["findings"]
        finding = findings.get(ctx.payload.get("finding_id"))
        if finding is None:
            return Unmet("finding_not_found", "No such finding in the current data comparison.")
        if finding["resolution"] is not None:
            return Unmet("finding_already_resolved", "The finding is already resolved.")
    if kind == "objection_resolution":
        objection = ctx.procedure_facts()["objections"].get(ctx.payload.get("objection_id"))
        if objection is None:
            return Unmet("objection_not_found", "No such objection on this notice.")
        if objection["resolution"] is not None:
            return Unmet("objection_already_resolved", "The objection is already resolved.")
    return None


def fact_refusal_v2(kind: str, ctx: RuleContext) -> Unmet | None:
    """case-v2's fact rules: a failed vote may be held again in the same stage (the latest
    counts), and a cadre-found or department-flagged case is studied by the village two
    committees before its democratic review in identification. Everything else as case-v1."""
    if kind == "review":
        if ctx.procedure_facts()["review"] and not review_failed(ctx):
            return Unmet(
                "review_already_recorded",
                "This procedure already has a passing democratic review; a return to the "
                "village voids it.",
            )
        if ctx.procedure == Procedure.identification:
            return committee_study_recorded(ctx)
        return None
    return fact_refusal(kind, ctx)


def verdicts(
    rules: tuple[Rule, ...], ctx: RuleContext, *, with_payload: bool
) -> dict[str, Unmet | None]:
    """Each rule's verdict by its name (None: met), in the order the step lists them; each
    rule runs once, and the machine's named conditions read these verdicts
    (``Workflow.run(..., met=...)``)."""
    return {named.name: named(ctx) for named in rules if with_payload or not named.uses_payload}


def met(found: dict[str, Unmet | None]) -> frozenset[str]:
    """The names of the rules :func:`verdicts` found met."""
    return frozenset(name for name, unmet in found.items() if unmet is None)


def evaluate(rules: tuple[Rule, ...], ctx: RuleContext, *, with_payload: bool) -> list[Unmet]:
    """Every unmet rule, not just the first, in the order the step lists them."""
    found = verdicts(rules, ctx, with_payload=with_payload)
    return [unmet for unmet in found.values() if unmet is not None]
