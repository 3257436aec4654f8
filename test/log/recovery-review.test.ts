// Goal: pin what recovery must keep while its decoding and the table's insert path are made
// cheaper (rows decoded straight into the table, bulk inserts into the ordered map): a
// reopened database holds every row, key order and index of the one that wrote it, also for
// commits that delete and re-insert a key, insert keys in descending order, insert past the
// dense array's end and then fill the gap, or change a keyless row twice; and the commits it
// recovered (readCommits, changes, history) keep their rows while the table's rows they were
// decoded into are then updated in place.
// Method: a seeded random workload against a naive model, with a snapshot part way; close,
// reopen (snapshot plus log), compare every read with the model and every recovered commit
// with the commit the writer saw; keep each recovered commit's image, update every row, and
// check no image changed; then db.at of random seqs, and a second reopen.
import { test } from "node:test";
import type { TestContext } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createManualClock, open } from "../../src/index.ts";
import type { Commit, Database, Tx } from "../../src/index.ts";
import { tableDenseKeysMax, tableDenseKeysSkippedMax } from "../../src/lib/limits.ts";
import { createPrng } from "../../src/lib/prng.ts";
import type { Prng } from "../../src/lib/prng.ts";
import { RowWitness, imageOf } from "../support/row-witness.ts";
import { copyTablesModel } from "../support/tables-model.ts";
import type { TablesModel } from "../support/tables-model.ts";

interface Keyed {
  id: number;
  v: number;
  j: unknown;
  d: unknown;
  b: unknown;
  s: string;
}
interface Keyless {
  n: number;
  s: string;
}

type Model = TablesModel<Keyed, { name: string; v: number }, Keyless>;

const keyedSpan = 400;
const farKeys = [-1, -40, tableDenseKeysMax, tableDenseKeysMax + 3, 2147483647, -2147483648];
const textKeys = ["", "a", "ab", "b", "\u0001x", "\u0003", "é", "z".repeat(300), "10", "9"];

function tempPath(context: TestContext): string {
  const path = mkdtempSync(join(tmpdir(), "statebase-recovery-review-"));
  context.after(() => rmSync(path, { recursive: true, force: true }));
  return path;
}

function createTables(db: Database): void {
  db.createNamespace("r");
  db.createTable("r::k", {
    columns: { id: "int4", v: "int4", j: "json", d: "decimal", b: "blob", s: "utf8" },
    primaryKey: "id",
    indexes: [
      { name: "by_v", columns: ["v"], ordered: true },
      { name: "by_s", columns: ["s"] },
    ],
  });
  db.createTable("r::s", { columns: { name: "utf8", v: "int4" }, primaryKey: "name" });
  db.createTable("r::l", {
    columns: { n: "int4", s: "utf8" },
    indexes: [{ name: "by_n", columns: ["n"], ordered: true }],
  });
}

/** A keyed row whose every column depends on `v`, nested values included. */
function keyedRow(id: number, v: number): Record<string, unknown> {
  return {
    id,
    v,
    j: { v, list: [v, { deep: `x${v}` }] },
    d: `${v}.25`,
    b: new Uint8Array([v & 255, 7]),
    s: `s${v % 7}`,
  };
}

const sortedIds = (rows: readonly Keyed[]): number[] => rows.map((r) => r.id).sort((a, b) => a - b);

function observed(db: Database): unknown {
  const k = db.table<Keyed>("r::k");
  const s = db.table<{ name: string; v: number }>("r::s");
  const l = db.table<Keyless>("r::l");
  const ids = [...Array.from({ length: keyedSpan + 80 }, (_, id) => id), ...farKeys];
  return {
    keyedGets: ids.map((id) => k.get(id) ?? null),
    keyedScan: k.scan(),
    keyedSize: k.size,
    // Rows with equal values come in no promised order (a snapshot restores them by key).
    keyedByV: k.range("by_v").map((row) => row.v),
    keyedByVIds: sortedIds(k.range("by_v")),
    keyedByS: Array.from({ length: 7 }, (_, i) => k.lookup("by_s", `s${i}`).length),
    textScan: s.scan(),
    textGets: textKeys.map((name) => s.get(name) ?? null),
    keylessScan: l.scan(),
    keylessGets: Array.from({ length: 200 }, (_, id) => l.get(id) ?? null),
    keylessByN: l.range("by_n").map((row) => row.n),
  };
}

function expected(model: Model): unknown {
  const ids = [...Array.from({ length: keyedSpan + 80 }, (_, id) => id), ...farKeys];
  const keyed = [...model.keyed.values()].sort((a, b) => a.id - b.id);
  const keyless = [...model.keyless.entries()].sort((a, b) => a[0] - b[0]).map(([, row]) => row);
  return {
    keyedGets: ids.map((id) => model.keyed.get(id) ?? null),
    keyedScan: keyed,
    keyedSize: keyed.length,
    keyedByV: keyed.map((row) => row.v).sort((a, b) => a - b),
    keyedByVIds: sortedIds(keyed),
    keyedByS: Array.from({ length: 7 }, (_, i) => keyed.filter((r) => r.s === `s${i}`).length),
    textScan: [...model.texted.values()].sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
    ),
    textGets: textKeys.map((name) => model.texted.get(name) ?? null),
    keylessScan: keyless,
    keylessGets: Array.from({ length: 200 }, (_, id) => model.keyless.get(id) ?? null),
    keylessByN: keyless.map((row) => row.n).sort((a, b) => a - b),
  };
}

function pickId(prng: Prng): number {
  return prng.int(8) === 0 ? farKeys[prng.int(farKeys.length)]! : prng.int(keyedSpan);
}

/** One write to the keyed table, several changes to one key in some. */
function keyedOp(tx: Tx, model: Model, prng: Prng): void {
  const k = tx.table<Keyed>("r::k");
  const id = pickId(prng);
  const v = prng.int(1000);
  const choice = prng.int(6);
  if (choice === 0) {
    // Deleted and inserted again in one commit, with other values.
    if (model.keyed.has(id)) assert.equal(k.del(id), true);
    model.keyed.set(id, k.insert(keyedRow(id, v)));
  } else if (choice === 1) {
    // A run of keys in descending order, from past the array's end down to below it.
    const top = Math.min(keyedSpan - 1, id + prng.int(2 * tableDenseKeysSkippedMax));
    for (let key = top; key >= Math.max(0, top - 30); key--) {
      model.keyed.set(key, k.set(keyedRow(key, v + key)));
    }
  } else if (choice === 2) {
    // Updated twice, then maybe deleted, in one commit.
    if (!model.keyed.has(id)) return;
    k.update(id, { v });
    const after = k.update(id, keyedRow(id, v + 1));
    if (prng.int(2) === 0) {
      assert.equal(k.del(id), true);
      model.keyed.delete(id);
    } else model.keyed.set(id, after);
  } else if (choice === 3) {
    assert.equal(k.del(id), model.keyed.delete(id));
  } else {
    const s = tx.table<{ name: string; v: number }>("r::s");
    const name = textKeys[prng.int(textKeys.length)]!;
    if (choice === 4) assert.equal(s.del(name), model.texted.delete(name));
    else model.texted.set(name, s.set({ name, v }));
  }
}

/** One write to the keyless table: by row id, twice to one row, or by RQL. */
function keylessOp(tx: Tx, model: Model, prng: Prng): void {
  const l = tx.table<Keyless>("r::l");
  const ids = [...model.keyless.keys()];
  const n = prng.int(20);
  const choice = prng.int(5);
  if (choice <= 1 || ids.length === 0) {
    const row = { n, s: `n${n}` };
    l.insert(row);
    model.keyless.set(model.rowIdNext++, row);
    return;
  }
  const id = ids[prng.int(ids.length)]!;
  if (choice === 2) {
    l.update(id, { n });
    l.update(id, { s: `twice${n}` });
    model.keyless.set(id, { n, s: `twice${n}` });
  } else if (choice === 3) {
    assert.equal(l.del(id), true);
    model.keyless.delete(id);
  } else {
    tx.execute("update r::l { n: n + 100 } filter { n == $n }", { n });
    for (const [rowId, row] of model.keyless) {
      if (row.n === n) model.keyless.set(rowId, { ...row, n: n + 100 });
    }
  }
}

/** One transaction of a few writes; one in eight rolled back, some savepoints thrown away. */
function round(db: Database, model: Model, prng: Prng): Model {
  let next = model;
  const fails = prng.int(8) === 0;
  try {
    db.transact((tx) => {
      let current = copyTablesModel(model);
      const count = 1 + prng.int(8);
      for (let i = 0; i < count; i++) {
        if (prng.int(6) === 0) {
          const inner = copyTablesModel(current);
          try {
            db.transact((nested) => {
              keyedOp(nested, inner, prng);
              keylessOp(nested, inner, prng);
              if (prng.int(2) === 0) throw new Error("savepoint rolled back");
              current = inner;
            });
          } catch (error) {
            assert.equal((error as Error).message, "savepoint rolled back");
          }
        } else if (prng.int(3) === 0) keylessOp(tx, current, prng);
        else keyedOp(tx, current, prng);
      }
      next = current;
      if (fails) throw new Error("transaction rolled back");
    });
  } catch (error) {
    assert.equal((error as Error).message, "transaction rolled back");
    return model;
  }
  return next;
}

/** What a commit says, in a form to compare: the writer's and the recovered one's. */
function commitImage(commit: Commit): string {
  return imageOf([
    commit.seq,
    commit.ts,
    commit.changes.map((c) => [c.object, c.kind, c.key, c.before, c.after]),
  ]);
}

test("a reopened database holds the rows, order and commits that the writer held", async (t) => {
  const path = tempPath(t);
  const clock = createManualClock(1_800_000_000_000);
  const prng = createPrng(Number(process.env.RECOVERY_REVIEW_SEED ?? 20261129));
  const db = await open({ path, clock, snapshotLogBytes: 0, snapshotsKept: Infinity });
  const written = new Map<number, string>();
  db.addCommitListener((commit) => written.set(commit.seq, commitImage(commit)));
  createTables(db);
  let model: Model = { keyed: new Map(), texted: new Map(), keyless: new Map(), rowIdNext: 1 };
  const states = new Map<number, unknown>();
  let snapshotSeq = 0;
  for (let i = 0; i < 160; i++) {
    clock.advance(3);
    model = round(db, model, prng);
    states.set(db.seq, expected(model));
    if (i === 70) snapshotSeq = (await db.snapshot()).seq;
  }
  const lastSeq = db.seq;
  await db.close();

  const reopened = await open({ path, clock, snapshotLogBytes: 0, snapshotsKept: Infinity });
  assert.equal(reopened.seq, lastSeq);
  assert.deepEqual(observed(reopened), expected(model), "reopened");
  // Every commit as the writer saw it: from the log on disk (from 1) and the ones replayed
  // after the snapshot, which the change feed retains; kept to check after the updates.
  const witness = new RowWitness();
  const fromDisk = await reopened.readCommits(1, lastSeq + 1);
  assert.equal(fromDisk.length, lastSeq);
  const replayed = await reopened.readCommits(snapshotSeq + 1, lastSeq + 1);
  assert.equal(replayed.length, lastSeq - snapshotSeq);
  for await (const commit of reopened.changes({ fromSeq: snapshotSeq + 1 })) {
    assert.equal(commit, replayed[commit.seq - snapshotSeq - 1], "the feed's retained commit");
    if (commit.seq === lastSeq) break;
  }
  for (const commit of [...fromDisk, ...replayed]) {
    assert.equal(commitImage(commit), written.get(commit.seq), `commit ${commit.seq}`);
    witness.keep(`commit ${commit.seq}`, commit);
  }
  for (const id of [0, 1, 2, keyedSpan - 1, -1]) {
    witness.keep(`history of ${id}`, await reopened.history("r::k", id));
  }
  witness.keep("history of a text key", await reopened.history("r::s", "a"));
  witness.keep("history of row 1", await reopened.history("r::l", 1));
  // Every recovered row changed in place, then more random commits.
  reopened.transact((tx) => {
    const k = tx.table<Keyed>("r::k");
    for (const row of [...model.keyed.values()]) {
      model.keyed.set(row.id, k.update(row.id, keyedRow(row.id, row.v + 1)));
    }
    const l = tx.table<Keyless>("r::l");
    for (const [id, row] of [...model.keyless]) {
      l.update(id, { n: row.n + 1, s: "bumped" });
      model.keyless.set(id, { n: row.n + 1, s: "bumped" });
    }
  });
  states.set(reopened.seq, expected(model));
  for (let i = 0; i < 40; i++) {
    clock.advance(3);
    model = round(reopened, model, prng);
    states.set(reopened.seq, expected(model));
  }
  witness.check();
  assert.deepEqual(observed(reopened), expected(model), "after the updates");
  const seqs = [...states.keys()];
  for (const seq of [
    snapshotSeq,
    lastSeq,
    ...Array.from({ length: 5 }, () => seqs[prng.int(seqs.length)]!),
  ]) {
    if (!states.has(seq)) continue;
    const past = await reopened.at(seq);
    assert.deepEqual(observed(past), states.get(seq), `db.at(${seq})`);
    await past.close();
  }
  const finalState = expected(model);
  await reopened.close();
  const again = await open({ path, clock });
  assert.deepEqual(observed(again), finalState, "reopened twice");
  await again.close();
});
