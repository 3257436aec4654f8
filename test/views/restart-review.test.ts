// Goal: views rebuilt by recovery (a snapshot written while commits ran, then the log) hold
// what their pipelines give, and their operators' state (aggregates' sums, min and max over
// the rows kept, first and last, a top-k's spare rows, join buckets, distinct counts) keeps
// them exact as writes go on after the restart; db.at rebuilds them as of a past seq.
// Method: a seeded random workload over two tables feeding every kind of operator and chains
// of views; a snapshot is written while transactions run between its chunks; close, reopen,
// compare every view with its query recomputed; then more random transactions (savepoints,
// rollbacks), compared after each; db.at of random seqs; a second reopen. Before c9fab8f the
// snapshot could hold a view row twice and the reopen failed an assertion.
import { test } from "node:test";
import type { TestContext } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { open } from "../../src/index.ts";
import type { Database, Tx } from "../../src/index.ts";
import { createPrng } from "../../src/lib/prng.ts";
import type { Prng } from "../../src/lib/prng.ts";
import { assertViewMatches, randomTransaction } from "./support.ts";

const views: ReadonlyArray<readonly [string, string]> = [
  [
    "p::by_g",
    "from p::a aggregate { n: math::count(x), s: math::sum(y), av: math::avg(y), " +
      "lo: math::min(y), hi: math::max(x), f: math::first(y), l: math::last(x) } by { g }",
  ],
  ["p::total", "from p::a aggregate { n: math::count(id), s: math::sum(f), hi: math::max(f) }"],
  ["p::filtered", "from p::a filter { y > 2 } map { id, g, y }"],
  ["p::joined", "from p::a inner join { from p::b } as r using (g, r.g) map { id, y, r_id }"],
  ["p::outer", "from p::a left join { from p::b } as r using (g, r.g), (x, r.z)"],
  ["p::top", "from p::a sort { y: desc, id } take 3"],
  ["p::groups", "from p::a distinct { g }"],
  [
    "p::positive_by_g",
    "from p::filtered aggregate { n: math::count(id), lo: math::min(y) } by { g }",
  ],
  ["p::top_groups", "from p::by_g sort { s: desc, g } take 2"],
];
const groups = ["k", "l", "m", "n"];

function tempPath(context: TestContext): string {
  const path = mkdtempSync(join(tmpdir(), "statebase-views-restart-review-"));
  context.after(() => rmSync(path, { recursive: true, force: true }));
  return path;
}

function checkAll(db: Database, context: string): void {
  for (const [name, query] of views) assertViewMatches(db, name, query, context);
}

function write(tx: Tx, prng: Prng): void {
  const onA = prng.int(4) !== 0;
  const table = tx.table(onA ? "p::a" : "p::b");
  const id = 1 + prng.int(30);
  const g = groups[prng.int(groups.length)]!;
  const choice = prng.int(5);
  if (choice === 0) table.del(id);
  else if (!onA) table.set({ id, g, z: prng.int(6) - 1 });
  else if (choice === 1 && table.has(id)) table.update(id, { y: prng.int(12) - 4 });
  else {
    const x = prng.int(5) === 0 ? null : prng.int(6) - 1;
    table.set({ id, g, x, y: prng.int(12) - 4, f: (prng.int(40) - 10) / 4 });
  }
}

async function openSchema(path: string, create: boolean): Promise<Database> {
  const db = await open({ path, snapshotLogBytes: 0, snapshotsKept: Infinity });
  if (!create) return db;
  db.createNamespace("p");
  db.createTable("p::a", {
    columns: { id: "int8", g: "utf8", x: "Option(int8)", y: "int8", f: "float8" },
    primaryKey: "id",
  });
  db.createTable("p::b", { columns: { id: "int8", g: "utf8", z: "int8" }, primaryKey: "id" });
  return db;
}

test("views rebuilt by recovery stay exact as writes go on, and db.at rebuilds them", async (t) => {
  const path = tempPath(t);
  const prng = createPrng(Number(process.env.VIEWS_RESTART_REVIEW_SEED ?? 20261129));
  let db = await openSchema(path, true);
  for (let i = 0; i < 30; i++) randomTransaction(db, prng, write, 6);
  for (const [name, query] of views) db.createView(name, { query });
  for (let i = 0; i < 200; i++) randomTransaction(db, prng, write, 6);
  // Many rows, so that the snapshot takes several chunks with commits between them.
  db.transact((tx) => {
    for (let id = 100; id < 1_100; id++) {
      tx.table("p::a").set({ id, g: groups[id % 4]!, x: id % 7, y: id % 9, f: id / 4 });
    }
  });
  const writing = db.snapshot();
  let settled = false;
  void writing.then(() => (settled = true));
  let during = 0;
  while (!settled) {
    randomTransaction(db, prng, write, 6);
    during++;
    await new Promise((resolve) => setImmediate(resolve));
  }
  await writing;
  assert.ok(during >= 2, `only ${during} transactions ran while the snapshot was written`);
  for (let i = 0; i < 50; i++) randomTransaction(db, prng, write, 6);
  checkAll(db, "before the restart");
  await db.close();

  db = await openSchema(path, false);
  checkAll(db, "after the restart");
  const seqs: number[] = [];
  for (let round = 0; round < 150; round++) {
    randomTransaction(db, prng, write, 6);
    checkAll(db, `round ${round} after the restart`);
    seqs.push(db.seq);
  }
  for (let i = 0; i < 4; i++) {
    const past = await db.at(seqs[prng.int(seqs.length)]!);
    checkAll(past, `db.at(${past.seq})`);
    await past.close();
  }
  await db.close();
  db = await openSchema(path, false);
  checkAll(db, "after a second restart");
  for (let round = 0; round < 30; round++) {
    randomTransaction(db, prng, write, 6);
    checkAll(db, `round ${round} after the second restart`);
  }
  await db.close();
});
