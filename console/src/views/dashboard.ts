import { h, mount } from "../dom";
import { CHANNEL, MONITORING_TYPE, STATE } from "../labels";
import { api } from "../session";

function table(title: string, rows: [string, number][], id: string): HTMLElement {
  return h("section", { class: "counts", id },
    h("h2", {}, title),
    h("table", {}, h("tbody", {}, ...rows.map(([label, n]) => h("tr", {}, h("th", { scope: "row" }, label), h("td", {}, n))))));
}

/** The area's overview: open cases by state, type, channel and village; the late ones. */
export async function dashboardView(target: HTMLElement): Promise<void> {
  const read = await api().GET("/api/v1/dashboard");
  if (!read.data) {
    mount(target, h("h1", {}, "概览"), h("p", { class: "error", role: "alert" }, read.error?.title ?? "无法读取"));
    return;
  }
  const d = read.data;
  const late = (label: string, n: number, filter: string) =>
    h("li", { class: n ? "overdue" : "" }, `${label}：${n} 件`, n ? h("a", { href: `#/cases?${filter}=true` }, " 查看") : null);
  mount(target,
    h("h1", {}, `概览（${d.area}）`),
    h("p", { id: "open-count" }, `在办案件 ${d.open} 件`),
    h("ul", { id: "overdue" },
      late("识别逾期", d.identification_overdue, "overdue"),
      late("帮扶措施逾期", d.measures_overdue, "measures_overdue"),
      late("受理逾期", d.acceptance_overdue, "acceptance_overdue")),
    h("div", { class: "grid" },
      table("按状态", Object.entries(d.by_state).map(([k, n]) => [STATE[k as keyof typeof STATE] ?? k, n ?? 0]), "by-state"),
      table("按监测对象类别", Object.entries(d.by_monitoring_type).map(([k, n]) => [MONITORING_TYPE[k] ?? k, n ?? 0]), "by-type"),
      table("按渠道", Object.entries(d.by_channel).map(([k, n]) => [CHANNEL[k] ?? k, n ?? 0]), "by-channel"),
      table("按村", d.by_village.map((v) => [`${v.name ?? v.code}`, v.count]), "by-village")));
}

/** The late cases of one kind (the case list's overdue filters). */
export async function lateView(target: HTMLElement, filter: string): Promise<void> {
  const query = {
    overdue: filter === "overdue" ? true : undefined,
    measures_overdue: filter === "measures_overdue" ? true : undefined,
    acceptance_overdue: filter === "acceptance_overdue" ? true : undefined,
    limit: 500,
    total: true,
  };
  const page = await api().GET("/api/v1/cases", { params: { query } });
  mount(target, h("h1", {}, "逾期案件"),
    h("ul", {}, ...(page.data?.items ?? []).map((c) =>
      h("li", {}, h("a", { href: `#/cases/${c.id}` }, c.household.head_name), `（${STATE[c.state]}）`))));
}
