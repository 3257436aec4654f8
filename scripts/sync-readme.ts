/**
 * Copies each example file into README.md and docs/*.md wherever a marker names it:
 *   <!-- example: examples/tour.ts -->  followed by a ```ts block.
 * test/examples.test.ts and test/machines/docs.test.ts fail when a page and its example
 * differ; run `npm run docs:sync` after editing an example. An argument names another root
 * (a copy of the tree, for tests).
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";

const root = resolve(process.argv[2] ?? resolve(import.meta.dirname, ".."));
const marker = /(<!-- example: (\S+) -->\n\n?```ts\n)[\s\S]*?(```)/g;
const docs = readdirSync(resolve(root, "docs")).filter((name) => name.endsWith(".md"));
const pages = ["README.md", ...docs.map((name) => `docs/${name}`)];
const updated: string[] = [];
for (const page of pages) {
  const path = resolve(root, page);
  const text = readFileSync(path, "utf8");
  const synced = text.replace(
    marker,
    (_all, head: string, file: string, tail: string) =>
      head + readFileSync(resolve(root, file), "utf8") + tail,
  );
  if (synced === text) continue;
  writeFileSync(path, synced);
  updated.push(page);
}
process.stdout.write(
  updated.length === 0 ? "README.md and docs already in sync\n" : `updated ${updated.join(", ")}\n`,
);
