// 防返贫监测工作台: the operator console, a client of the public REST API only.
import "./style.css";
import { h, mount, when } from "./dom";
import { ROLE } from "./labels";
import { complete } from "./oidc";
import { api, signOut, user } from "./session";
import { auditView, replayView } from "./views/audit";
import { caseView } from "./views/casepage";
import { dashboardView, lateView } from "./views/dashboard";
import { inboxView } from "./views/inbox";
import { signInView } from "./views/signin";

const bar = document.getElementById("bar") as HTMLElement;
const app = document.getElementById("app") as HTMLElement;

function go(hash: string): void {
  if (location.hash === hash) void route();
  else location.hash = hash;
}

async function header(): Promise<void> {
  const me = user();
  if (!me) {
    mount(bar, h("strong", {}, "防返贫监测工作台"));
    return;
  }
  const clock = await api().GET("/api/v1/demo/clock");
  const days = h("input", { id: "clock-days", type: "number", min: 1, max: 400, value: 1, "aria-label": "前进天数" }) as HTMLInputElement;
  const advance = async () => {
    const moved = await api().POST("/api/v1/demo/clock", { body: { days: Number(days.value), hours: 0 } });
    if (moved.data) {
      await header();
      await route();
    }
  };
  mount(bar,
    h("strong", {}, "防返贫监测工作台"),
    h("nav", {}, h("a", { href: "#/" }, "待办"), " ",
      ["township_official", "city_bureau", "admin", "auditor"].includes(me.role) ? h("a", { href: "#/dashboard" }, "概览") : null, " ",
      ["auditor", "city_bureau", "admin", "national_exporter"].includes(me.role) ? h("a", { href: "#/audit" }, "审计") : null),
    clock.data ? h("span", { id: "clock" }, `演示时钟：${when(clock.data.now)}`) : null,
    clock.data && me.role === "admin"
      ? h("span", {}, days, h("button", { type: "button", id: "advance-clock", onclick: advance }, "前进"))
      : null,
    h("span", { id: "who" }, `${me.name}（${ROLE[me.role] ?? me.role}，${me.area}）`),
    h("button", { type: "button", id: "sign-out", onclick: () => { signOut(); go("#/"); void header(); } }, "退出"));
}

let signInProblem: string | null = null;

async function route(): Promise<void> {
  if (!user()) {
    await signInView(app, () => { void header(); go("#/"); }, signInProblem);
    return;
  }
  const hash = location.hash;
  const replay = /^#\/cases\/([\w-]+)\/replay$/.exec(hash);
  const one = /^#\/cases\/([\w-]+)$/.exec(hash);
  const late = /^#\/cases\?(overdue|measures_overdue|acceptance_overdue|measures_due|elimination_due)=true$/.exec(hash);
  if (replay?.[1]) await replayView(app, replay[1]);
  else if (one?.[1]) await caseView(app, one[1]);
  else if (late?.[1]) await lateView(app, late[1]);
  else if (hash === "#/dashboard") await dashboardView(app);
  else if (hash === "#/audit") await auditView(app);
  else await inboxView(app, go);
  app.focus();
}

window.addEventListener("hashchange", () => void route());
// back from the identity provider (?code&state): finish signing in first
signInProblem = await complete().catch((error: unknown) => `身份认证失败：${String(error)}`);
void header();
void route();
