// Fails when two directories differ (the committed console build against a fresh one).
import { readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join, relative } from "node:path";

const [committed, fresh] = process.argv.slice(2);
const files = (dir) =>
  readdirSync(dir, { recursive: true })
    .map((name) => join(dir, String(name)))
    .filter((path) => statSync(path).isFile())
    .map((path) => relative(dir, path))
    .sort();
const a = files(committed);
const b = files(fresh);
const differing = [...new Set([...a, ...b])].filter(
  (name) => !a.includes(name) || !b.includes(name) ||
    !readFileSync(join(committed, name)).equals(readFileSync(join(fresh, name))),
);
rmSync(fresh, { recursive: true, force: true });
if (differing.length) {
  console.error(`the committed console build is stale (${differing.join(", ")}): run npm run build --workspace console`);
  process.exit(1);
}
