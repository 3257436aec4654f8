// Goal: every example of docs/rql.md is true.
// Method: read the page, pair each ```rql block with the ```json block after it, run the
// blocks in order on one in-memory database through db.admin, and compare the result with
// the JSON; the explain line the page quotes is checked too.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { open } from "../../src/index.ts";

const page = readFileSync(resolve(import.meta.dirname, "../../docs/rql.md"), "utf8");

test("docs/rql.md: every rql block gives the json block after it", async () => {
  const blocks = [...page.matchAll(/```(rql|json)\n([\s\S]*?)```/g)].map((m) => [m[1], m[2]!]);
  assert.ok(blocks.length >= 10, "the page has examples");
  const db = await open();
  for (let i = 0; i < blocks.length; i += 2) {
    const [kind, rql] = blocks[i]!;
    const [next, json] = blocks[i + 1] ?? [];
    assert.equal(kind, "rql", `block ${i} is rql`);
    assert.equal(next, "json", `block ${i + 1} is its expected result`);
    assert.deepEqual(await db.admin(rql!), JSON.parse(json!), rql);
  }
  const explained = /Here `db.explain` answers `(\[.*?\])`/.exec(page);
  assert.ok(explained);
  assert.deepEqual(
    db.explain('from shop::orders filter { customer == "ada" }'),
    JSON.parse(explained[1]!),
  );
});
