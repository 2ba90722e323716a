// The console's budget in headless Chromium: the first page's JavaScript, compressed, and the
// time the inbox of a township's cases takes to render.
// Usage: node bench/console.mjs <base url> <expected rows>
import { gzipSync } from "node:zlib";
import { chromium } from "playwright-core";

const [base, expected] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-background-networking"],
});
const page = await browser.newPage();
const scripts = [];
page.on("response", async (response) => {
  if (response.url().endsWith(".js")) {
    const body = await response.body();
    scripts.push({ url: response.url(), bytes: body.length, gzip: gzipSync(body, { level: 9 }).length });
  }
});
await page.goto(`${base}/console/`);
await page.click('button[data-user="cadre.pinggang"]');
await page.waitForSelector("#inbox-list table");
const firstLoad = [...scripts];
const runs = [];
for (let i = 0; i < 5; i += 1) {
  const started = Date.now();
  await page.goto(`${base}/console/#/`, { waitUntil: "commit" });
  await page.reload();
  await page.waitForFunction((n) => document.querySelectorAll("#inbox-list tbody tr").length >= n, Number(expected), { timeout: 30000 });
  runs.push(Date.now() - started);
}
await browser.close();
runs.sort((a, b) => a - b);
console.log(JSON.stringify({
  firstLoadScripts: firstLoad,
  firstLoadGzip: firstLoad.reduce((n, s) => n + s.gzip, 0),
  inboxMs: runs,
  inboxMedianMs: runs[Math.floor(runs.length / 2)],
}));
