// The API docs in headless Chromium with every request to another host blocked: Swagger UI
// and ReDoc must render the operations from the service's own files alone.
// Usage: node tests/browser/docs.mjs <base url> <screenshot dir>
import { chromium } from "playwright-core";

const [base, shots] = process.argv.slice(2);
const origin = new URL(base).origin;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-background-networking"],
});
const outside = [];
const failures = [];
try {
  const page = await browser.newPage();
  await page.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith(origin) || url.startsWith("data:") || url.startsWith("blob:")) {
      return route.continue();
    }
    outside.push(url);
    return route.abort();
  });
  page.on("pageerror", (error) => failures.push(`page error: ${error.message}`));

  await page.goto(`${base}/docs`);
  await page.waitForSelector(".opblock", { timeout: 30000 });
  const swagger = await page.locator(".opblock").count();
  await page.screenshot({ path: `${shots}/swagger-ui.png`, fullPage: false });

  await page.goto(`${base}/redoc`);
  await page.waitForSelector("[data-section-id^='operation/']", { timeout: 30000 });
  const redoc = await page.locator("[data-section-id^='operation/']").count();
  await page.screenshot({ path: `${shots}/redoc.png`, fullPage: false });

  console.log(JSON.stringify({ swagger, redoc, outside, failures }));
} finally {
  await browser.close();
}
