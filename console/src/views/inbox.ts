import type { CaseState, Schemas } from "@fangfanpin/client";
import { day, h, mount } from "../dom";
import { CHANNEL, DUE_KIND, MONITORING_TYPE, STATE } from "../labels";

type Channel = Schemas["Channel"];
type MonitoringType = Schemas["MonitoringType"];
import { bodySchema, buildForm } from "../schemaform";
import { Submission } from "../send";
import { api, user } from "../session";

/** 待办: the cases where the signed-in role may act, the nearest deadline first. */
export async function inboxView(target: HTMLElement, go: (hash: string) => void): Promise<void> {
  const state = h("select", { id: "filter-state", "aria-label": "状态" },
    h("option", { value: "" }, "全部状态"),
    ...Object.entries(STATE).map(([v, label]) => h("option", { value: v }, label))) as HTMLSelectElement;
  const channel = h("select", { id: "filter-channel", "aria-label": "渠道" },
    h("option", { value: "" }, "全部渠道"),
    ...Object.entries(CHANNEL).map(([v, label]) => h("option", { value: v }, label))) as HTMLSelectElement;
  const type = h("select", { id: "filter-type", "aria-label": "监测对象类别" },
    h("option", { value: "" }, "全部类别"),
    ...Object.entries(MONITORING_TYPE).map(([v, label]) => h("option", { value: v }, label))) as HTMLSelectElement;
  const village = h("input", { id: "filter-area", type: "text", inputmode: "numeric", placeholder: "村或乡镇代码",
                               "aria-label": "村或乡镇代码", pattern: "\\d{6,12}" }) as HTMLInputElement;
  const search = h("input", { id: "search", type: "search", placeholder: "姓名或身份证号",
                              "aria-label": "按姓名或身份证号查找" }) as HTMLInputElement;
  const list = h("div", { id: "inbox-list" });
  const load = async () => {
    const term = search.value.trim();
    const byNumber = /^\d{17}[\dXx]$/.test(term);
    const query = {
      state: (state.value || undefined) as CaseState | undefined,
      channel: (channel.value || undefined) as Channel | undefined,
      monitoring_type: (type.value || undefined) as MonitoringType | undefined,
      area: /^\d{6,12}$/.test(village.value.trim()) ? village.value.trim() : undefined,
      name: term && !byNumber ? term : undefined,
      id_number: byNumber ? term : undefined,
      limit: 500,
    };
    const page = await api().GET("/api/v1/inbox", { params: { query } });
    if (!page.data) {
      mount(list, h("p", { class: "error", role: "alert" }, page.error?.title ?? "无法读取待办"));
      return;
    }
    mount(list,
      h("p", { id: "inbox-total" }, `共 ${page.data.total} 件`),
      h("table", { class: "inbox" },
        h("thead", {}, h("tr", {}, ...["户主", "村", "状态", "渠道", "截止", "可办理"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, ...page.data.items.map((c) =>
          h("tr", { class: c.overdue ? "overdue" : "", "data-case": c.id },
            h("td", {}, h("a", { href: `#/cases/${c.id}` }, c.household.head_name)),
            h("td", {}, c.household.village_code),
            h("td", {}, STATE[c.state]),
            h("td", {}, CHANNEL[c.channel] ?? c.channel),
            h("td", { "data-due-kind": c.due_kind ?? "" }, day(c.due_at),
              c.due_kind ? h("small", {}, ` ${DUE_KIND[c.due_kind] ?? c.due_kind}`) : null,
              c.overdue ? h("strong", { class: "badge" }, c.due_kind === "notice_end" || c.due_kind === "elimination" ? " 已到期" : " 逾期") : null),
            h("td", {}, c.my_actions.join("、")))))));
  };
  for (const control of [state, channel, type, village]) control.addEventListener("change", load);
  search.addEventListener("change", load);
  const opener = user()?.role === "village_cadre"
    ? h("button", { type: "button", id: "open-case", onclick: () => openCase(target, go) }, "新建案件")
    : null;
  mount(target, h("h1", {}, "待办"), h("div", { class: "filters" }, state, channel, type, village, search, opener), list);
  await load();
}

async function openCase(target: HTMLElement, go: (hash: string) => void): Promise<void> {
  const schema = await bodySchema("/api/v1/cases", "post");
  if (!schema) return;
  const me = user();
  const form = await buildForm(schema, {
    channel: "cadre_found",
    household: { village_code: me?.area ?? "" },
  });
  const error = h("p", { class: "error", role: "alert" });
  const submission = new Submission("/api/v1/cases", null);
  let done = false;
  const submit = async (event: Event) => {
    event.preventDefault();
    const outcome = await submission.send(form.value());
    if (done) return;
    if (outcome.ok) {
      done = true;
      go(`#/cases/${outcome.case.id}`);
      return;
    }
    error.textContent = `${outcome.problem.title}：${outcome.problem.detail}`;
    form.showErrors(outcome.problem.errors ?? []);
  };
  mount(target,
    h("h1", {}, "新建案件"),
    h("form", { id: "open-case-form", onsubmit: submit }, form.element, error,
      h("button", { type: "submit" }, "提交")));
}
