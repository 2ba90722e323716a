// Sign in through the identity provider (OpenID Connect, code + PKCE) and reach the inbox.
// Usage: node tests/browser/oidc.mjs <base url> <screenshot dir>
import { chromium } from "playwright-core";

const [base, shots] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-background-networking"],
});
const report = { origins: [] };
try {
  const page = await browser.newPage();
  page.on("request", (request) => {
    const origin = new URL(request.url()).origin;
    if (!report.origins.includes(origin)) report.origins.push(origin);
  });
  await page.goto(`${base}/console/`);
  await page.click("#oidc-sign-in");
  await page.waitForSelector("#who", { timeout: 15000 });
  await page.waitForSelector("#inbox-total", { timeout: 15000 });
  report.who = (await page.textContent("#who")) ?? "";
  report.inbox = (await page.textContent("#inbox-total")) ?? "";
  report.url = page.url();
  await page.screenshot({ path: `${shots}/oidc-signed-in.png` });
} catch (error) {
  report.error = String(error?.stack ?? error);
  report.page = await browser.contexts()[0]?.pages()[0]?.textContent("body").catch(() => "");
  report.url = browser.contexts()[0]?.pages()[0]?.url();
} finally {
  await browser.close();
  if (process.env.DEBUG_OIDC) console.error(report.page);
  console.log(JSON.stringify(report));
}
