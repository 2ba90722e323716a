// The console end to end in headless Chromium: a cadre opens a case, the committee records the
// form and the vote, the notice runs on the demo clock, the township verifies, the city
// confirms, all through the console's forms; a refused action shows its unmet rules; a cadre
// of another village cannot find the case. Every request the page makes must go to its own
// origin; axe-core must find no serious or critical violation; each screen is photographed.
// Usage: node tests/browser/console.mjs <base url> <screenshot dir> <head ID number>
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const [base, shots, headId] = process.argv.slice(2);
const origin = new URL(base).origin;
const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-background-networking"],
});
const report = { outside: [], pageErrors: [], axe: [], steps: [], shots: [] };
const started = Date.now();
const log = (text) => report.steps.push(`${((Date.now() - started) / 1000).toFixed(1)}s ${text}`);
// bypassCSP lets the test inject axe-core; the requests are watched below all the same
const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, bypassCSP: true });
page.on("request", (request) => {
  const url = request.url();
  if (!url.startsWith(origin) && !url.startsWith("data:") && !url.startsWith("blob:")) {
    report.outside.push(url);
  }
});
page.on("pageerror", (error) => report.pageErrors.push(error.message));
page.on("crash", () => report.pageErrors.push("the page crashed"));

let shot = 0;
async function snap(name) {
  shot += 1;
  const path = `${shots}/${String(shot).padStart(2, "0")}-${name}.png`;
  await page.screenshot({ path, fullPage: true });
  report.shots.push(path);
}

async function audit(name) {
  await page.addScriptTag({ content: axeSource });
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const found = await axe.run(document, { resultTypes: ["violations"] });
    return {
      passes: found.passes.length,
      violations: found.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length })),
    };
  });
  report.axeRulesPassed = (report.axeRulesPassed ?? 0) + result.passes;
  for (const violation of result.violations) report.axe.push({ screen: name, ...violation });
}

async function signIn(user) {
  await page.goto(`${base}/console/`);
  if (await page.locator("#who").count() === 0) await page.waitForSelector("#who, button[data-user]");
  if (await page.locator("#sign-out").count()) await page.click("#sign-out");
  await page.click(`button[data-user="${user}"]`);
  await page.waitForSelector("#inbox-list table, #inbox-list .error");
  log(`signed in as ${user}`);
}

async function openCasePage(id) {
  await page.goto(`${base}/console/#/cases/${id}`);
  await page.waitForSelector("#actions, main .error");
}

async function version() {
  return Number(await page.textContent("#version"));
}

/** Submit the open form; answers the problem shown, or null when the page moved on. */
async function submit() {
  const before = await page.locator("#version").count() ? await version() : null;
  await page.click(".action-form button[type=submit], #open-case-form button[type=submit]");
  await page.waitForFunction(
    (was) => {
      const outcome = document.querySelector(".outcome")?.textContent || document.querySelector("#open-case-form .error")?.textContent;
      if (outcome) return true;
      const now = document.querySelector("#version")?.textContent;
      return !document.querySelector(".action-form, #open-case-form") && now !== undefined && Number(now) !== was;
    },
    before,
    { timeout: 15000 },
  );
  const shown = page.locator(".outcome, #open-case-form .error");
  const problem = (await shown.count()) ? await shown.first().textContent() : null;
  return problem && problem.trim() ? problem.trim() : null;
}

async function fire(action, fields = {}) {
  if (process.env.DEBUG_SNAP) await snap(`before-${action}`);
  await page.click(`button[data-fire="${action}"]`);
  await page.waitForSelector(".action-form");
  await fill(fields);
  const problem = await submit();
  log(`${action}: ${problem ?? "done"}`);
  return problem;
}

async function record(kind, fields = {}) {
  await page.click(`button[data-fact="${kind}"]`);
  await page.waitForSelector(".action-form");
  await fill(fields);
  const problem = await submit();
  log(`${kind}: ${problem ?? "recorded"}`);
  return problem;
}

async function fill(fields) {
  for (const [name, value] of Object.entries(fields)) {
    const field = page.locator(`[name="${name}"]`);
    const tag = await field.evaluate((el) => `${el.tagName}:${el.getAttribute("type") ?? ""}`);
    if (tag.startsWith("SELECT")) await field.selectOption(value);
    else if (tag === "INPUT:checkbox") await field.setChecked(Boolean(value));
    else await field.fill(String(value));
  }
}

const must = (problem, what) => {
  if (problem) throw new Error(`${what} was refused: ${problem}`);
};

try {
  // 1. The village cadre opens a case from the inbox.
  await signIn("cadre.pinggang");
  await snap("inbox-cadre");
  await audit("inbox");
  await page.click("#open-case");
  await page.waitForSelector("#open-case-form");
  await fill({
    "household.head_name": "赵春生",
    "household.head_id_number": headId,
    "household.size": 1,
    description: "户主突发重病，医疗支出大",
    risk_type: "illness",
  });
  await snap("open-case-form");
  await audit("open-case-form");
  must(await submit(), "opening the case");
  const caseId = page.url().split("/cases/")[1];
  report.caseId = caseId;
  await snap("case-opened");
  await audit("case-page");

  // 2. The village takes it up (a double click on the form's button acts once); its form
  //    and verification.
  await page.click('button[data-fire="start_village_review"]');
  await page.waitForSelector(".action-form");
  await page.dblclick(".action-form button[type=submit]");
  await page.waitForFunction(() => !document.querySelector(".action-form"));
  report.reviewsStarted = await page.locator('#timeline li[data-event="start_village_review"]').count();
  log("start_village_review: double-clicked");
  must(await record("commitment_form", {
    signatory_name: "赵春生",
    document_sha256: "a".repeat(64),
    covered_member_id_numbers: headId,
  }), "commitment form");
  must(await record("household_verification", {
    verified_by: "张建国",
    household_size: 1,
    wage_income: "1200", business_income: "0", property_income: "0", transfer_income: "600",
    business_expense: "0", compliant_out_of_pocket: "9000", large_rigid_spending: true,
    "guarantees.food_and_clothing": true, "guarantees.compulsory_education": true,
    "guarantees.basic_medical_care": true, "guarantees.housing_safety": true,
    "guarantees.drinking_water": true,
  }), "household verification");

  // 3. The committee studies it, holds the review and publishes the notice.
  await signIn("committee.pinggang");
  await openCasePage(caseId);
  must(await record("committee_study", { participants: "村党支部书记\n村委会主任", conclusion: "同意提交评议" }), "committee study");
  must(await record("review", {
    eligible_members: 30, present: 25, votes_for: 22, votes_against: 1, abstentions: 2,
    minutes_sha256: "b".repeat(64),
  }), "review");
  // The case changes while the committee's form is open (the cadre records the verification
  // again): the submission meets 412 and the console offers to reload.
  await page.click('button[data-fire="publish_notice"]');
  await page.waitForSelector(".action-form");
  const cadre = await (await fetch(`${base}/api/v1/demo/tokens`, {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ user: "cadre.pinggang" }) })).json();
  const verification = await page.evaluate(async ([caseId, token]) => {
    const today = (await (await fetch("/api/v1/demo/clock")).json()).today;
    const answer = await fetch(`/api/v1/cases/${caseId}/household-verifications`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
      body: JSON.stringify({ verified_on: today, verified_by: ["张建国"], household_size: 1,
        wage_income: "1300", business_income: "0", property_income: "0", transfer_income: "600",
        business_expense: "0", compliant_out_of_pocket: "9000", large_rigid_spending: true,
        guarantees: { food_and_clothing: true, compulsory_education: true, basic_medical_care: true,
                      housing_safety: true, drinking_water: true } }) });
    return answer.status;
  }, [caseId, cadre.access_token]);
  report.concurrentChange = verification;
  await fill({ location: "平岗村村务公开栏" });
  report.stale = await submit();
  report.reloadOffered = await page.locator("#reload").count();
  await snap("stale-412");
  await page.click("#reload");
  await page.waitForSelector(".action-form", { state: "detached" });
  must(await fire("publish_notice", { location: "平岗村村务公开栏" }), "publish_notice");
  await snap("notice-published");

  // The committee's inbox shows the notice's end as the case's deadline.
  await page.goto(`${base}/console/#/`);
  await page.waitForSelector(`tr[data-case="${caseId}"]`);
  report.noticeDueKind = await page.getAttribute(`tr[data-case="${caseId}"] [data-due-kind]`, "data-due-kind");
  await openCasePage(caseId);

  // The printable notice, opened from a console that keeps its content security policy
  // (this page bypasses it to run axe-core): its style block is allowed by its hash.
  const strict = await browser.newContext({ viewport: { width: 1000, height: 800 } });
  const strictPage = await strict.newPage();
  await strictPage.goto(`${base}/console/`);
  await strictPage.click('button[data-user="committee.pinggang"]');
  await strictPage.waitForSelector("#inbox-list table");
  await strictPage.goto(`${base}/console/#/cases/${caseId}`);
  await strictPage.waitForSelector("#actions");
  const [printable] = await Promise.all([
    strictPage.waitForEvent("popup"), strictPage.click('a[data-document="notice"]')]);
  await printable.waitForSelector("h1");
  report.printTitle = (await printable.textContent("h1")) ?? "";
  report.printAlign = await printable.evaluate(() => getComputedStyle(document.querySelector("h1")).textAlign);
  await printable.screenshot({ path: `${shots}/print-notice.png`, fullPage: true });
  await strict.close();

  // 4. Leaving the notice early is refused, with the rule and when it will be met.
  report.listedUnmet = await page.locator('[data-action="submit_to_township"] [data-code]').evaluateAll(
    (items) => items.map((i) => i.getAttribute("data-code")));
  report.earlyRefusal = await fire("submit_to_township");
  report.earlyUnmet = await page.locator(".outcome [data-code]").evaluateAll(
    (items) => items.map((i) => i.getAttribute("data-code")));
  await snap("refused-with-unmet");
  await audit("refused");

  // An objection is lodged while the notice runs; the township dismisses it with a reason.
  await signIn("cadre.pinggang");
  await openCasePage(caseId);
  must(await record("objection", { lodged_by_name: "村民甲", statement: "收入情况不实" }), "objection");
  await signIn("township.baishishan");
  await openCasePage(caseId);
  await page.click("button[data-objection]");
  await page.waitForSelector(".action-form");
  await fill({ outcome: "dismissed", reason: "经核实，收入情况属实" });
  must(await submit(), "objection resolution");
  report.objectionsLeft = await page.locator("button[data-objection]").count();
  report.timelineTitles = await page.locator("#timeline li").evaluateAll((items) => items.map((i) => i.textContent));

  // 5. Six days pass on the demo clock: the notice timer submits the case to the township.
  await signIn("admin.jiaohe");
  await page.fill("#clock-days", "6");
  await page.click("#advance-clock");
  await page.waitForTimeout(500);
  log("clock advanced 6 days");

  // 6. The township visits and sends it on; the city classifies and confirms.
  await signIn("township.baishishan");
  await openCasePage(caseId);
  report.afterNotice = (await page.textContent("main h1")) ?? "";
  must(await record("home_visit", { visited_by: "刘乡干", findings: "情况属实", opinion: "同意纳入" }), "home visit");
  must(await fire("submit_to_city"), "submit_to_city");
  await signIn("bureau.jiaohe");
  await openCasePage(caseId);
  must(await record("classification", {
    monitoring_type: "sudden_hardship", risk_types: ["illness"],
    "responsible_person.name": "孙帮扶", "responsible_person.unit": "蛟河市农业农村局",
  }), "classification");
  must(await fire("confirm"), "confirm");
  report.finalTitle = (await page.textContent("main h1")) ?? "";
  report.nationalSync = (await page.textContent("#national-sync")) ?? "";

  // The city plans a measure; its progress waits for the plan's review and notice.
  must(await record("measure_planned", {
    category: "health", content: "落实大病保险和医疗救助", responsible_unit: "蛟河市医疗保障局",
    "responsible_person.name": "孙帮扶",
  }), "measure");
  await page.click("button[data-progress]");
  await page.waitForSelector(".action-form");
  await fill({ status: "in_progress" });
  report.progressRefused = await submit();
  await snap("confirmed");
  await audit("confirmed");

  // The diagram is its own chunk, fetched only when asked for.
  const scripts = [];
  page.on("request", (request) => { if (request.url().endsWith(".js")) scripts.push(request.url()); });
  await page.click("#show-diagram");
  await page.waitForSelector("ol.diagram li.current");
  report.diagramCurrent = await page.getAttribute("ol.diagram li.current", "data-state");
  report.diagramVisited = await page.locator("ol.diagram li.visited").evaluateAll(
    (items) => items.map((i) => i.getAttribute("data-state")));
  report.diagramChunk = scripts.filter((url) => url.includes("/assets/diagram")).length;
  await snap("diagram");

  // The city's overview, with a campaign opened for next April over the township.
  const bureau = await (await fetch(`${base}/api/v1/demo/tokens`, {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ user: "bureau.jiaohe" }) })).json();
  const campaign = await fetch(`${base}/api/v1/screening/campaigns`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${bureau.access_token}` },
    body: JSON.stringify({ period: `${new Date().getFullYear() + 1}-04`, area_codes: ["220281102"] }) });
  report.campaignOpened = campaign.status;
  await page.goto(`${base}/console/#/dashboard`);
  await page.waitForSelector("#open-count");
  report.dashboardOpen = (await page.textContent("#open-count")) ?? "";
  report.riskCounts = (await page.textContent("#by-risk")) ?? "";
  report.measuresDue = (await page.textContent('[data-count="measures_due"]')) ?? "";
  report.syncStatus = (await page.textContent("#sync-status")) ?? "";
  await page.click("button[data-progress-round]");
  await page.waitForSelector("#campaigns .progress table");
  report.campaignProgress = (await page.textContent("#campaigns .progress tbody")) ?? "";
  await page.click("#ledger-download");
  await page.waitForSelector("#downloads [data-bytes]");
  report.ledgerBytes = Number(await page.getAttribute("#downloads [data-bytes]", "data-bytes"));
  report.campaigns = (await page.textContent("#campaigns")) ?? "";
  await snap("dashboard");
  await audit("dashboard");

  // An auditor replays the case and reads the global log.
  await signIn("auditor.jiaohe");
  await page.goto(`${base}/console/#/cases/${caseId}/replay`);
  await page.waitForSelector("#replay");
  report.replayMatches = await page.textContent("#replay-matches");
  report.chainValid = await page.textContent("#chain-valid");
  await snap("replay");
  await audit("replay");
  await page.goto(`${base}/console/#/audit`);
  await page.waitForSelector("#log table");
  report.logRows = await page.locator("#log tbody tr").count();
  await page.click("#bundle-download");
  await page.waitForSelector("#bundle [data-bytes]");
  report.bundleBytes = Number(await page.getAttribute("#bundle [data-bytes]", "data-bytes"));
  await snap("audit-log");

  // 7. A cadre of another village finds nothing of it.
  await signIn("cadre.laodong");
  await page.fill("#search", "赵春生");
  await page.press("#search", "Enter");
  await page.waitForFunction(() => document.querySelector("#inbox-total"));
  report.otherVillageRows = await page.locator(`tr[data-case="${caseId}"]`).count();
  await openCasePage(caseId);
  report.otherVillagePage = (await page.textContent("main")) ?? "";
  await snap("other-village");
} catch (error) {
  report.error = String(error?.stack ?? error);
  await snap("failure").catch(() => {});
} finally {
  await browser.close();
  console.log(JSON.stringify(report));
}
