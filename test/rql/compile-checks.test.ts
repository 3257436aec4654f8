// Goal: mistakes a query compiler can see before reading a row are reported before any row is
// read, with a stable code and the position of the offending text, instead of giving a quiet
// wrong answer or an error whose wording and presence depend on the data.
// Method: black box through the embedded API on an in-memory database; each case checks the
// error code, the position details and that a correct neighbour of the query still works.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { DbError, open } from "../../src/index.ts";
import type { Database } from "../../src/index.ts";

async function setup(): Promise<Database> {
  const db = await open();
  await db.admin(`create namespace s;
    create table s::orders { id: int8, customer: utf8, total: int8 } with { primary_key: { id } };
    create table s::people { name: utf8, tier: utf8 } with { primary_key: { name } }`);
  await db.command(`insert s::orders [(1, "ada", 10), (2, "bob", 20)];
    insert s::people [{ name: "ada", tier: "gold" }]`);
  return db;
}

async function error(promise: Promise<unknown>): Promise<DbError> {
  try {
    await promise;
  } catch (caught) {
    assert.ok(caught instanceof DbError, String(caught));
    return caught;
  }
  assert.fail("expected an error");
}

describe("join conditions name columns that exist", () => {
  test("an unknown left column is UNKNOWN_COLUMN, not an empty result", async () => {
    const db = await setup();
    const rql = "from s::orders\n  inner join { from s::people } as p using (custmer, p.name)";
    const caught = await error(db.query(rql));
    assert.equal(caught.code, "UNKNOWN_COLUMN", caught.message);
    assert.equal(caught.details.column, "custmer");
    assert.equal(caught.details.line, 2);
    assert.match(caught.message, /^line 2, column \d+: join: unknown column "custmer"/);
  });

  test("an unknown right column is UNKNOWN_COLUMN, not a row of none", async () => {
    const db = await setup();
    const rql = "from s::orders left join { from s::people } as p using (customer, p.nme)";
    const caught = await error(db.query(rql));
    assert.equal(caught.code, "UNKNOWN_COLUMN", caught.message);
    assert.equal(caught.details.column, "p.nme");
    assert.equal(caught.details.line, 1);
  });

  test("known columns still join", async () => {
    const db = await setup();
    const rql =
      "from s::orders left join { from s::people } as p using (customer, p.name) map { id, p_tier }";
    const { frames } = await db.query(rql);
    assert.deepEqual(frames, [
      [
        { id: 1, p_tier: "gold" },
        { id: 2, p_tier: null },
      ],
    ]);
  });
});
