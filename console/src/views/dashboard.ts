import { h, mount } from "../dom";
import { CHANNEL, MONITORING_TYPE, STATE } from "../labels";
import { downloadLink } from "../download";
import { api, user } from "../session";

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
  const client = api();
  const year = new Date().getFullYear();
  const [warningLists, campaigns] = await Promise.all([
    client.GET("/api/v1/warning-lists/status"),
    client.GET("/api/v1/screening/campaigns", { params: { query: { year } } }),
  ]);
  const role = user()?.role ?? "";
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
      table("按村", d.by_village.map((v) => [`${v.name ?? v.code}`, v.count]), "by-village")),
    warningLists.data
      ? h("section", { id: "warning-lists" }, h("h2", {}, `季度预警名单（${warningLists.data.quarter}）`),
          h("p", {}, `已报送 ${warningLists.data.submitted.length}，逾期 ${warningLists.data.late.length}，待报送 ${warningLists.data.pending.length}`))
      : null,
    h("section", { id: "campaigns" }, h("h2", {}, `集中排查（${year}年）`),
      (campaigns.data ?? []).length
        ? h("ul", {}, ...(campaigns.data ?? []).map((c) =>
            h("li", {}, `${c.title}：走访 ${c.counts.screened}/${c.counts.households} 户，发现风险 ${c.counts.risk_found}，纳入 ${c.counts.cases}`)))
        : h("p", {}, "本年尚无集中排查")),
    h("section", { id: "downloads" }, h("h2", {}, "台账与导出"),
      h("ul", {},
        downloadLink("监测对象台账（Excel）", "/api/v1/ledgers/monitored-households?format=xlsx", "监测对象台账.xlsx", "ledger-download"),
        ["city_bureau", "national_exporter"].includes(role)
          ? downloadLink("国家系统导出（CSV）", "/api/v1/exports/national?format=csv", "national.csv", "export-download")
          : null)));
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
