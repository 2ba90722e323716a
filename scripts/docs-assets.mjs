// Copies the API docs' assets from their npm packages (package-lock.json pins them) into
// app/static/docs, where the service serves them: /docs and /redoc make no external request.
// `--check` compares instead of copying and fails on a difference (make test runs it).
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const target = join(root, "app", "static", "docs");
// What a bundle would fetch from another host, pointed at the service's own copy instead.
const rewrites = {
  "redoc.standalone.js": [["https://cdn.redoc.ly/redoc/logo-mini.svg", "/static/docs/redoc-logo-mini.svg"]],
};
const assets = [
  ["swagger-ui-dist/swagger-ui-bundle.js", "swagger-ui-bundle.js"],
  ["swagger-ui-dist/swagger-ui.css", "swagger-ui.css"],
  ["swagger-ui-dist/favicon-32x32.png", "favicon-32x32.png"],
  ["swagger-ui-dist/LICENSE", "swagger-ui.LICENSE"],
  ["redoc/bundles/redoc.standalone.js", "redoc.standalone.js"],
  ["redoc/LICENSE", "redoc.LICENSE"],
];
const logo =
  '<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16"><circle cx="8" cy="8" r="7" fill="#c0392b"/></svg>\n';
const digest = (bytes) => createHash("sha256").update(bytes).digest("hex");
const prepared = (from, to) => {
  let text = readFileSync(join(root, "node_modules", from));
  for (const [url, local] of rewrites[to] || []) {
    text = Buffer.from(text.toString("utf8").replaceAll(url, local), "utf8");
  }
  return text;
};
const check = process.argv.includes("--check");
let stale = 0;
mkdirSync(target, { recursive: true });
for (const [from, to] of assets) {
  const source = prepared(from, to);
  const copy = join(target, to);
  if (check) {
    if (!existsSync(copy) || digest(readFileSync(copy)) !== digest(source)) {
      console.error(`app/static/docs/${to} differs from node_modules/${from}: run npm run docs-assets`);
      stale += 1;
    }
  } else {
    writeFileSync(copy, source);
  }
}
const logoPath = join(target, "redoc-logo-mini.svg");
if (check) {
  if (!existsSync(logoPath) || readFileSync(logoPath, "utf8") !== logo) stale += 1;
} else {
  writeFileSync(logoPath, logo);
}
process.exit(stale ? 1 : 0);
