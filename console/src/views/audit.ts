import { h, mount, when } from "../dom";
import { STATE } from "../labels";
import { downloadLink } from "../download";
import { api } from "../session";

const state = (s: string | null | undefined) => (s ? STATE[s as keyof typeof STATE] ?? s : "—");

/** A case replayed from its events by its pinned workflow: stored against replayed, the
 * chain, the first broken event. */
export async function replayView(target: HTMLElement, caseId: string): Promise<void> {
  const read = await api().GET("/api/v1/cases/{case_id}/replay", { params: { path: { case_id: caseId } } });
  if (!read.data) {
    mount(target, h("h1", {}, "回放"), h("p", { class: "error", role: "alert" }, read.error?.title ?? "无法读取"));
    return;
  }
  const r = read.data;
  mount(target,
    h("h1", {}, "案件回放"),
    h("dl", { class: "summary", id: "replay" },
      h("dt", {}, "存储状态"), h("dd", {}, state(r.stored_state)),
      h("dt", {}, "回放状态"), h("dd", {}, state(r.replayed_state)),
      h("dt", {}, "一致"), h("dd", { id: "replay-matches" }, r.matches && r.facts_match ? "是" : "否"),
      h("dt", {}, "哈希链完整"), h("dd", { id: "chain-valid" }, r.chain_valid ? "是" : `否（第 ${r.broken_at_seq} 条起）`),
      h("dt", {}, "每步合规"), h("dd", {}, r.all_steps_legal ? "是" : "否")),
    h("table", { class: "inbox" },
      h("thead", {}, h("tr", {}, ...["序号", "事件", "自", "至", "哈希", "合规"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, ...r.steps.map((s) => h("tr", { class: s.hash_valid && s.legal ? "" : "overdue" },
        h("td", {}, s.seq), h("td", {}, s.event), h("td", {}, state(s.from_state)), h("td", {}, state(s.to_state)),
        h("td", {}, s.hash_valid ? "✓" : "✗"), h("td", {}, s.legal ? "✓" : s.unmet.join("、")))))),
    h("p", {}, h("a", { href: `#/cases/${caseId}` }, "返回案件")));
}

/** The global log (every event, in commit order) and the signed checkpoints. */
export async function auditView(target: HTMLElement): Promise<void> {
  const client = api();
  const [log, checkpoints] = await Promise.all([
    client.GET("/api/v1/audit/log", { params: { query: { limit: 100 } } }),
    client.GET("/api/v1/audit/checkpoints"),
  ]);
  mount(target,
    h("h1", {}, "审计"),
    h("section", { id: "bundle" }, h("h2", {}, "审计包"),
      h("p", {}, "签名检查点、日志、证明和公钥，可离线校验（fangfanpin audit verify）。"),
      h("ul", {}, downloadLink("下载审计包", "/api/v1/audit/bundle", "fangfanpin-bundle.zip", "bundle-download"))),
    h("section", { id: "checkpoints" }, h("h2", {}, "签名检查点"),
      h("ul", {}, ...(checkpoints.data ?? []).map((c) =>
        h("li", {}, `${when(c.created_at)} 大小 ${c.tree_size} 根 ${c.root_hash.slice(0, 16)}…（${c.key_id}）`)))),
    h("section", { id: "log" }, h("h2", {}, `全局日志（共 ${log.data?.size ?? 0} 条）`),
      h("table", { class: "inbox" },
        h("thead", {}, h("tr", {}, ...["序号", "时间", "案件", "事件", "操作人"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, ...(log.data?.items ?? []).map((e) => h("tr", {},
          h("td", {}, e.log_index), h("td", {}, when(e.occurred_at)),
          h("td", {}, h("a", { href: `#/cases/${e.case_id}/replay` }, `${e.case_id.slice(0, 8)}#${e.seq}`)),
          h("td", {}, e.name), h("td", {}, e.actor_sub)))))));
}
