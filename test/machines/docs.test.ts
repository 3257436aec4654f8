/**
 * Goal: the example of docs/machines.md is true: the page shows examples/machines.ts verbatim
 * and the output the page promises is what the example prints.
 * Method: run the example in a fresh Node process and compare with the page's text block.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";

const root = resolve(import.meta.dirname, "../..");

test("docs/machines.md shows examples/machines.ts verbatim with its real output", () => {
  const page = readFileSync(resolve(root, "docs/machines.md"), "utf8");
  const example = readFileSync(resolve(root, "examples/machines.ts"), "utf8");
  assert.ok(page.includes("```ts\n" + example + "```"), "the page's example differs from the file");
  const output = execFileSync(process.execPath, ["--import", "tsx", "examples/machines.ts"], {
    cwd: root,
    encoding: "utf8",
  });
  const shown = /It prints:\n\n```text\n([\s\S]*?)```/.exec(page);
  assert.ok(shown, "the page shows the example's output in a ```text block");
  assert.equal(output, shown[1]);
});
