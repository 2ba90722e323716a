import { h, mount } from "../dom";
import { CHANNEL, MONITORING_TYPE, RISK_TYPE, STATE, SYNC_STATUS } from "../labels";
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
  const [warningLists, campaigns, sync] = await Promise.all([
    client.GET("/api/v1/warning-lists/status"),
    client.GET("/api/v1/screening/campaigns"),
    client.GET("/api/v1/exports/national/sync-status"),
  ]);
  const role = user()?.role ?? "";
  const late = (label: string, n: number, filter: string, urgent = true) =>
    h("li", { class: n && urgent ? "overdue" : "", "data-count": filter }, `${label}：${n} 件`,
      n ? h("a", { href: `#/cases?${filter}=true` }, " 查看") : null);
  // a campaign's progress per township, fetched when asked for
  const progress = (id: string) => {
    const into = h("div", { class: "progress" });
    const button = h("button", { type: "button", "data-progress-round": id, onclick: async () => {
      const read = await client.GET("/api/v1/screening/rounds/{round_id}/progress", { params: { path: { round_id: id } } });
      mount(into, read.data
        ? h("table", {}, h("thead", {}, h("tr", {}, ...["乡镇", "应排查", "已排查", "发现风险", "纳入"].map((t) => h("th", { scope: "col" }, t)))),
            h("tbody", {}, ...read.data.townships.map((t) =>
              h("tr", {}, h("th", { scope: "row" }, t.name || t.area_code), h("td", {}, t.households), h("td", {}, t.screened),
                h("td", {}, t.risk_found), h("td", {}, t.cases)))))
        : h("p", { class: "error", role: "alert" }, read.error?.title ?? "无法读取"));
    } }, "分乡镇进度");
    return [button, into];
  };
  mount(target,
    h("h1", {}, `概览（${d.area}）`),
    h("p", { id: "open-count" }, `在办案件 ${d.open} 件`),
    h("ul", { id: "overdue" },
      late("识别逾期", d.identification_overdue, "overdue"),
      late("帮扶措施逾期", d.measures_overdue, "measures_overdue"),
      late("受理逾期", d.acceptance_overdue, "acceptance_overdue"),
      late("待落实帮扶措施", d.measures_due, "measures_due", false),
      late("监测期满可评估风险消除", d.elimination_due, "elimination_due", false)),
    d.notices_ended ? h("p", { id: "notices-ended" }, `公示期已满待办理 ${d.notices_ended} 件（见待办）`) : null,
    h("div", { class: "grid" },
      table("按状态", Object.entries(d.by_state).map(([k, n]) => [STATE[k as keyof typeof STATE] ?? k, n ?? 0]), "by-state"),
      table("按监测对象类别", Object.entries(d.by_monitoring_type).map(([k, n]) => [MONITORING_TYPE[k] ?? k, n ?? 0]), "by-type"),
      table("按渠道", Object.entries(d.by_channel).map(([k, n]) => [CHANNEL[k] ?? k, n ?? 0]), "by-channel"),
      table("按致贫返贫风险", Object.entries(d.by_risk_type).map(([k, n]) => [RISK_TYPE[k] ?? k, n ?? 0]), "by-risk"),
      table("按村", d.by_village.map((v) => [`${v.name ?? v.code}`, v.count]), "by-village")),
    warningLists.data
      ? h("section", { id: "warning-lists" }, h("h2", {}, `季度预警名单（${warningLists.data.quarter}）`),
          h("p", {}, `已报送 ${warningLists.data.submitted.length}，逾期 ${warningLists.data.late.length}，待报送 ${warningLists.data.pending.length}`))
      : null,
    h("section", { id: "campaigns" }, h("h2", {}, "集中排查（最近四次）"),
      (campaigns.data ?? []).length
        ? h("ul", {}, ...(campaigns.data ?? []).slice(0, 4).map((c) =>
            h("li", {}, `${c.title}：走访 ${c.counts.screened}/${c.counts.households} 户，发现风险 ${c.counts.risk_found}，纳入 ${c.counts.cases} `,
              ...progress(c.id))))
        : h("p", {}, "尚无集中排查")),
    sync.data
      ? h("section", { id: "sync-status" }, h("h2", {}, "国家系统同步"),
          h("p", {}, Object.entries(sync.data.by_status).map(([k, n]) => `${SYNC_STATUS[k] ?? k} ${n}`).join("，"),
            `；导出后又变更 ${sync.data.changed_since_export} 件`,
            sync.data.last_export_at ? `；最近导出 ${new Date(sync.data.last_export_at).toLocaleString("zh-CN")}` : "；尚未导出"),
          sync.data.rejected.length
            ? h("ul", { id: "sync-rejected" }, ...sync.data.rejected.map((r) =>
                h("li", {}, h("a", { href: `#/cases/${r.case_id}` }, r.head_name), `：${r.reason ?? ""}`)))
            : null)
      : null,
    h("section", { id: "downloads" }, h("h2", {}, "台账与导出"),
      h("ul", {},
        downloadLink("监测对象台账（Excel）", "/api/v1/ledgers/monitored-households?format=xlsx", "监测对象台账.xlsx", "ledger-download"),
        ["city_bureau", "national_exporter"].includes(role)
          ? downloadLink("国家系统导出（CSV）", "/api/v1/exports/national?format=csv", "national.csv", "export-download")
          : null)));
}

const LISTS: Record<string, string> = {
  overdue: "识别逾期", measures_overdue: "帮扶措施逾期", acceptance_overdue: "受理逾期",
  measures_due: "待落实帮扶措施", elimination_due: "监测期满可评估风险消除",
};

/** The cases behind one of the overview's numbers (the case list's filters). */
export async function lateView(target: HTMLElement, filter: string): Promise<void> {
  const only = (name: string) => (filter === name ? true : undefined);
  const query = {
    overdue: only("overdue"),
    measures_overdue: only("measures_overdue"),
    acceptance_overdue: only("acceptance_overdue"),
    measures_due: only("measures_due"),
    elimination_due: only("elimination_due"),
    limit: 500,
    total: true,
  };
  const page = await api().GET("/api/v1/cases", { params: { query } });
  mount(target, h("h1", {}, LISTS[filter] ?? "案件"),
    h("ul", {}, ...(page.data?.items ?? []).map((c) =>
      h("li", {}, h("a", { href: `#/cases/${c.id}` }, c.household.head_name), `（${STATE[c.state]}）`))));
}
