/**
 * Copies each example file into README.md wherever a marker names it:
 *   <!-- example: examples/tour.ts -->  followed by a ```ts block.
 * test/examples.test.ts fails when the README and the files differ; run
 * `npm run docs:sync` after editing an example.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");
const readmePath = resolve(root, "README.md");
const marker = /(<!-- example: (\S+) -->\n\n?```ts\n)[\s\S]*?(```)/g;
const readme = readFileSync(readmePath, "utf8");
const synced = readme.replace(
  marker,
  (_all, head: string, file: string, tail: string) =>
    head + readFileSync(resolve(root, file), "utf8") + tail,
);
writeFileSync(readmePath, synced);
process.stdout.write(synced === readme ? "README.md already in sync\n" : "README.md updated\n");
