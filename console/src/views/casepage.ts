import type { Action, Case } from "@fangfanpin/client";
import { day, h, mount, when } from "../dom";
import { CHANNEL, FACT_PATHS, MONITORING_TYPE, ROLE, STATE, SYNC_STATUS } from "../labels";
import { bodySchema, buildForm } from "../schemaform";
import { Submission, type Outcome } from "../send";
import { api, token, user } from "../session";

const MEASURE_STATUS: Record<string, string> = {
  planned: "计划", in_progress: "实施中", done: "已完成", stopped: "已终止",
};

interface FlowDocument {
  states: { name: string; title: string }[];
  actions: { name: string; title: string; from: string[]; to: string }[];
  facts: FactSpec[];
}

interface FactSpec {
  kind: string;
  title: string;
  roles: string[];
  states: string[];
}

/** Today in the service's calendar (the demo clock's when it runs one). */
async function today(): Promise<string> {
  const clock = await api().GET("/api/v1/demo/clock");
  if (clock.data) return clock.data.today;
  return new Date().toLocaleDateString("sv-SE", { timeZone: "Asia/Shanghai" });
}

/** A case: its household, deadlines, what may be done now and why not, the forms, the trail. */
export async function caseView(target: HTMLElement, caseId: string): Promise<void> {
  const client = api();
  const path = { case_id: caseId };
  const read = await client.GET("/api/v1/cases/{case_id}", { params: { path } });
  if (!read.data) {
    mount(target, h("h1", {}, "案件"), h("p", { class: "error", role: "alert" }, read.error?.title ?? "无法读取"));
    return;
  }
  const current: Case = read.data;
  const etag = read.response.headers.get("ETag");
  const [actions, events, flow, sync] = await Promise.all([
    client.GET("/api/v1/cases/{case_id}/actions", { params: { path } }),
    client.GET("/api/v1/cases/{case_id}/events", { params: { path } }),
    fetch(`/api/v1/workflows/case?version=${encodeURIComponent(current.workflow_version)}`, {
      headers: { Authorization: `Bearer ${token() ?? ""}` },
    }).then((r) => (r.ok ? (r.json() as Promise<FlowDocument>) : { states: [], actions: [], facts: [] })),
    client.GET("/api/v1/cases/{case_id}/national-sync", { params: { path } }),
  ]);
  const me = user();
  const work = h("section", { id: "work", "aria-live": "polite" });
  const reload = () => caseView(target, caseId);

  const open = async (title: string, url: string, schemaPath: string, initial: Record<string, unknown>) => {
    const schema = await bodySchema(schemaPath, "post");
    const form = await buildForm(schema ?? { type: "object", properties: {} }, initial);
    const message = h("div", { class: "outcome", role: "alert" });
    const submission = new Submission(url, etag);
    let done = false;
    const submit = async (event: Event) => {
      event.preventDefault();
      // a second click while the first is in flight is the same submission (one
      // Idempotency-Key, one request): its outcome is handled once
      const outcome: Outcome = await submission.send(form.value());
      if (done) return;
      if (outcome.ok) {
        done = true;
        await reload();
        return;
      }
      const problem = outcome.problem;
      form.showErrors(problem.errors ?? []);
      mount(message,
        h("p", { class: "error" }, `${problem.title}（${problem.code}）`),
        problem.unmet?.length
          ? h("ul", { class: "unmet" }, ...problem.unmet.map((u) =>
              h("li", { "data-code": u.code }, u.message, u.met_at ? `（${when(u.met_at)} 起满足）` : "")))
          : null,
        problem.status === 412
          ? h("button", { type: "button", id: "reload", onclick: reload }, "案件已被他人修改：重新载入")
          : null);
    };
    mount(work, h("h2", {}, title),
      h("form", { class: "action-form", onsubmit: submit }, form.element, message,
        h("button", { type: "submit" }, "提交"),
        h("button", { type: "button", onclick: () => mount(work) }, "取消")));
    (work.querySelector("input, select, textarea") as HTMLElement | null)?.focus();
  };

  const dated = async (schemaPath: string): Promise<Record<string, unknown>> => {
    const schema = await bodySchema(schemaPath, "post");
    const now = await today();
    const initial: Record<string, unknown> = {};
    for (const name of Object.keys((schema?.properties as Record<string, unknown>) ?? {})) {
      if (name.endsWith("_on")) initial[name] = now;
    }
    return initial;
  };

  const actionItem = (action: Action) => {
    const schemaPath = `/api/v1/cases/{case_id}/actions/${action.name}`;
    return h("li", { class: action.allowed ? "allowed" : "blocked", "data-action": action.name },
      h("strong", {}, action.title || action.name), ` → ${STATE[action.to_state]}`,
      action.unmet.length
        ? h("ul", { class: "unmet" }, ...action.unmet.map((u) =>
            h("li", { "data-code": u.code }, u.message, u.met_at ? `（${when(u.met_at)} 起满足）` : "")))
        : null,
      action.unmet.some((u) => u.code === "role_not_permitted")
        ? null
        : h("button", { type: "button", "data-fire": action.name,
            onclick: async () => open(action.title || action.name,
              `/api/v1/cases/${caseId}/actions/${action.name}`, schemaPath, await dated(schemaPath)) },
          action.requires.length ? `办理（需填写：${action.requires.join("、")}）` : "办理"));
  };

  const facts = (flow.facts ?? []).filter((f) =>
    f.states.includes(current.state) && me && f.roles.includes(me.role) && FACT_PATHS[f.kind]);
  const factItem = (fact: FactSpec) => {
    const schemaPath = `/api/v1/cases/{case_id}/${FACT_PATHS[fact.kind]}`;
    return h("li", {}, h("button", { type: "button", "data-fact": fact.kind,
      onclick: async () => open(fact.title, `/api/v1/cases/${caseId}/${FACT_PATHS[fact.kind]}`,
        schemaPath, await dated(schemaPath)) }, `记录${fact.title}`));
  };

  const diagram = h("section", { id: "diagram" }, h("h2", {}, "流程图"),
    h("button", { type: "button", id: "show-diagram", onclick: async () => {
      // its own chunk: loaded when asked for, outside the first page's budget
      const { drawWorkflow } = await import("../diagram");
      const visited = new Set((events.data ?? []).flatMap((e) => [e.from_state, e.to_state]));
      diagram.replaceChildren(h("h2", {}, "流程图"), drawWorkflow(flow, visited, current.state));
    } }, "显示流程图"));
  const documents = ["notice", "elimination_notice", "announcement"].map((name) =>
    h("li", {}, h("a", { href: `/api/v1/cases/${caseId}/documents/${name}?format=html`, "data-document": name,
      onclick: async (event: Event) => {
        // the printable page needs the token: fetched, then opened as a document of its own
        event.preventDefault();
        const answer = await fetch(`/api/v1/cases/${caseId}/documents/${name}?format=html`, {
          headers: { Authorization: `Bearer ${token() ?? ""}` } });
        const printable = window.open("", "_blank");
        if (printable) printable.document.write(answer.ok ? await answer.text() : `<p>${answer.status}</p>`);
      } }, { notice: "公示", elimination_notice: "风险消除公示", announcement: "公告" }[name] ?? name)));
  const titles = new Map<string, string>([
    ...(flow.actions ?? []).map((a): [string, string] => [a.name, a.title]),
    ...(flow.facts ?? []).map((f): [string, string] => [f.kind, f.title]),
  ]);
  // objections still open on this case: the township resolves each (异议处理)
  const procedures = (current.facts.procedures ?? {}) as Record<string, { objections?: Record<string, { statement?: string; resolution?: unknown }> }>;
  const pending = Object.values(procedures).flatMap((p) =>
    Object.entries(p.objections ?? {}).filter(([, o]) => !o.resolution));
  const resolvable = me && (flow.facts ?? []).some((f) =>
    f.kind === "objection_resolution" && f.roles.includes(me.role) && f.states.includes(current.state));
  const objections = resolvable && pending.length
    ? h("section", { id: "objections" }, h("h2", {}, "待处理异议"),
        h("ul", {}, ...pending.map(([id, objection]) => h("li", {}, objection.statement ?? id, " ",
          h("button", { type: "button", "data-objection": id, onclick: async () => open("异议处理",
            `/api/v1/cases/${caseId}/objections/${id}/resolution`,
            "/api/v1/cases/{case_id}/objections/{objection_id}/resolution", {}) }, "处理")))))
    : null;
  // measures of the plan: who may report progress does (the API refuses anyone else)
  const measures = Object.entries((current.facts.measures ?? {}) as Record<string, { content?: string; category?: string; status?: string }>);
  const reportable = me && (flow.facts ?? []).some((f) =>
    f.kind === "measure_progress" && f.roles.includes(me.role) && f.states.includes(current.state));
  const measureList = measures.length
    ? h("section", { id: "measures" }, h("h2", {}, "帮扶措施"),
        h("ul", {}, ...measures.map(([id, measure]) => h("li", { "data-measure": id },
          `${measure.content ?? id}（${MEASURE_STATUS[measure.status ?? ""] ?? measure.status ?? ""}）`, " ",
          reportable && !["done", "stopped"].includes(measure.status ?? "")
            ? h("button", { type: "button", "data-progress": id, onclick: async () => open("报告措施进展",
                `/api/v1/cases/${caseId}/measures/${id}/progress`,
                "/api/v1/cases/{case_id}/measures/{measure_id}/progress",
                await dated("/api/v1/cases/{case_id}/measures/{measure_id}/progress")) }, "报告进展")
            : null))))
    : null;
  const deadlines = current.deadlines;
  mount(target,
    h("h1", {}, `${current.household.head_name}（${STATE[current.state]}）`),
    h("dl", { class: "summary" },
      h("dt", {}, "户主身份证号"), h("dd", {}, current.household.head_id_number_masked),
      h("dt", {}, "村"), h("dd", {}, current.household.village_code),
      h("dt", {}, "渠道"), h("dd", {}, CHANNEL[current.channel] ?? current.channel),
      h("dt", {}, "监测对象类别"), h("dd", {}, current.monitoring_type ? MONITORING_TYPE[current.monitoring_type] ?? "" : "—"),
      h("dt", {}, "版本"), h("dd", { id: "version" }, String(current.version)),
      h("dt", {}, "识别时限"), h("dd", { class: deadlines.identification_overdue ? "overdue" : "" },
        day(deadlines.identification_due_at), deadlines.identification_overdue ? "（逾期）" : ""),
      sync.data ? h("dt", {}, "国家系统同步") : null,
      sync.data ? h("dd", { id: "national-sync" }, SYNC_STATUS[sync.data.status] ?? sync.data.status, sync.data.reason ? `（${sync.data.reason}）` : "") : null,
      deadlines.notice_ends_at ? h("dt", {}, "公示期满") : null,
      deadlines.notice_ends_at ? h("dd", {}, when(deadlines.notice_ends_at)) : null,
      deadlines.measures_due_at ? h("dt", {}, "措施落实时限") : null,
      deadlines.measures_due_at ? h("dd", { class: deadlines.measures_overdue ? "overdue" : "" },
        day(deadlines.measures_due_at), deadlines.measures_overdue ? "（逾期）" : "") : null,
      deadlines.elimination_due_at ? h("dt", {}, "可评估风险消除") : null,
      deadlines.elimination_due_at ? h("dd", { id: "elimination-due" }, day(deadlines.elimination_due_at)) : null),
    h("section", { id: "actions" }, h("h2", {}, "可办理事项"),
      h("ul", {}, ...(actions.data ?? []).map(actionItem))),
    facts.length ? h("section", { id: "facts" }, h("h2", {}, "记录"), h("ul", {}, ...facts.map(factItem))) : null,
    objections,
    measureList,
    work,
    diagram,
    h("section", { id: "documents" }, h("h2", {}, "文书（可打印）"), h("ul", {}, ...documents)),
    me && ["auditor", "city_bureau", "admin"].includes(me.role)
      ? h("p", {}, h("a", { href: `#/cases/${caseId}/replay`, id: "replay-link" }, "回放与校验"))
      : null,
    h("section", { id: "timeline" }, h("h2", {}, "办理记录"),
      h("ol", {}, ...(events.data ?? []).map((e) =>
        h("li", { "data-event": e.name }, `${when(e.occurred_at)} ${e.actor.sub}（${ROLE[e.actor.role] ?? e.actor.role}）${titles.get(e.name) || e.name}`,
          e.from_state !== e.to_state ? ` ${STATE[e.from_state as keyof typeof STATE] ?? e.from_state} → ${STATE[e.to_state as keyof typeof STATE] ?? e.to_state}` : "")))),
    h("p", {}, h("a", { href: "#/" }, "返回待办")));
}
