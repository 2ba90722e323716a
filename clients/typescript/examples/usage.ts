// How a frontend uses the client: list, read with its ETag, the allowed actions, fire one with
// If-Match and an Idempotency-Key, and read a refusal's code and unmet rules. Compiled by
// `npm run check` under tsc --strict: if the document changes shape, this stops compiling.
import { createClient, idempotencyKey, ifMatch, type ProblemCode, type RuleCode } from "../src/index";

export async function walkThrough(token: string, caseId: string): Promise<string> {
  const api = createClient({ baseUrl: "http://127.0.0.1:8000", token, language: "zh" });

  const page = await api.GET("/api/v1/cases", {
    params: { query: { state: "village_nomination", name: "王", total: true, limit: 20 } },
  });
  if (page.data) {
    const states: string[] = page.data.items.map((c) => c.state);
    const total: number | null | undefined = page.data.total;
    console.log(states, total);
  }

  const read = await api.GET("/api/v1/cases/{case_id}", { params: { path: { case_id: caseId } } });
  if (!read.data) {
    const code: ProblemCode | undefined = read.error?.code;
    return `not readable: ${code}`;
  }
  const etag = read.response.headers.get("ETag") ?? ifMatch(read.data.version);

  const actions = await api.GET("/api/v1/cases/{case_id}/actions", {
    params: { path: { case_id: caseId } },
  });
  for (const action of actions.data ?? []) {
    const waiting: RuleCode[] = action.unmet.map((u) => u.code);
    console.log(action.name, action.allowed, action.requires, waiting);
  }

  const fired = await api.POST("/api/v1/cases/{case_id}/actions/publish_notice", {
    params: {
      path: { case_id: caseId },
      header: { "If-Match": etag, "Idempotency-Key": idempotencyKey() },
    },
    body: { location: "村务公开栏" },
  });
  if (fired.error) {
    const code: ProblemCode = fired.error.code;
    if (code === "guard_failed") {
      const reasons = (fired.error.unmet ?? []).map((u) => `${u.code}: ${u.message} ${u.met_at ?? ""}`);
      return `refused: ${reasons.join("; ")}`;
    }
    if (code === "version_mismatch") {
      return "reload: someone else changed the case";
    }
    return `${fired.error.status} ${fired.error.title}`;
  }
  return `now ${fired.data.state}, version ${fired.data.version}`;
}

export async function rejectWithReason(token: string, caseId: string, version: number) {
  const api = createClient({ token });
  const { data, error } = await api.POST("/api/v1/cases/{case_id}/actions/reject", {
    params: { path: { case_id: caseId }, header: { "If-Match": ifMatch(version) } },
    body: { reason: "经核实家庭收入稳定" },
  });
  return data?.state ?? error?.code;
}
