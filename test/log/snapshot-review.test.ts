// Goal: try to break c035b29 (snapshots read a table in key order, resumed after the last key
// read, and whole-number keys the dense array covers live in it alone). A snapshot is written
// in chunks of 256 entries with commits running between them; those commits insert ahead of
// and behind the reader, delete and re-insert keys, grow the dense array over keys inserted
// past its end (moving rows from the hash map into it), roll back and hit keyless rows.
// Method: a seeded random workload against a naive model; three snapshots are each written
// while transactions run between their chunks (one per event-loop turn). Then db.at of each
// snapshot's seq (the snapshot alone), db.at of seqs between them (a snapshot plus the log)
// and a reopen must equal what the model held at that seq: every row by key, each table's
// scan in key order, its size and its ordered index.
import { test } from "node:test";
import type { TestContext } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createManualClock, open } from "../../src/index.ts";
import type { Database, Tx } from "../../src/index.ts";
import { tableDenseKeysMax, tableDenseKeysSkippedMax } from "../../src/lib/limits.ts";
import { createPrng } from "../../src/lib/prng.ts";
import type { Prng } from "../../src/lib/prng.ts";
import { copyTablesModel } from "../support/tables-model.ts";
import type { TablesModel } from "../support/tables-model.ts";

interface Keyed {
  id: number;
  v: number;
}
interface Texted {
  name: string;
  v: number;
}
interface Keyless {
  n: number;
}

type Model = TablesModel<Keyed, Texted, Keyless>;

/** Keys the dense array never covers. */
const farKeys = [-1, -2, -300, tableDenseKeysMax, tableDenseKeysMax + 7, 2147483647];
const textKeyCount = 700;
const textKeyOf = (i: number): string => `t${String(i).padStart(4, "0")}`;
/** Whole-number keys are drawn below this: the array's end moves through it as rows come. */
const keyedSpan = 1_600;
/**
 * Keys written often, so that one is changed twice or more before the snapshot's reader gets
 * to it (the snapshot must keep its first before) or after (it must keep what it read).
 */
const hotKeys = [0, 1, 450, 451, 899, 1_399, keyedSpan - 2, keyedSpan - 1, -1];

/** A key for a write: a hot one half the time. */
function keyedId(prng: Prng): number {
  return prng.int(2) === 0 ? hotKeys[prng.int(hotKeys.length)]! : prng.int(keyedSpan);
}

function tempPath(context: TestContext): string {
  const path = mkdtempSync(join(tmpdir(), "statebase-snapshot-review-"));
  context.after(() => rmSync(path, { recursive: true, force: true }));
  return path;
}

function createTables(db: Database): void {
  db.createNamespace("r");
  db.createTable("r::k", {
    columns: { id: "int4", v: "int4" },
    primaryKey: "id",
    indexes: [{ name: "by_v", columns: ["v"], ordered: true }],
  });
  db.createTable("r::s", { columns: { name: "utf8", v: "int4" }, primaryKey: "name" });
  db.createTable("r::l", {
    columns: { n: "int4" },
    indexes: [{ name: "by_n", columns: ["n"], ordered: true }],
  });
}

/** Everything the model can answer, read from `db`. */
function observed(db: Database): unknown {
  const k = db.table<Keyed>("r::k");
  const s = db.table<Texted>("r::s");
  const l = db.table<Keyless>("r::l");
  const keyedIds = [...Array.from({ length: keyedSpan + 100 }, (_, id) => id), ...farKeys];
  return {
    keyedGets: keyedIds.map((id) => k.get(id) ?? null),
    keyedScan: k.scan(),
    keyedSize: k.size,
    keyedByV: k.range("by_v").map((row) => row.v),
    textScan: s.scan(),
    textSize: s.size,
    textGets: Array.from({ length: textKeyCount }, (_, i) => s.get(textKeyOf(i)) ?? null),
    keylessScan: l.scan(),
    keylessSize: l.size,
    keylessByN: l.range("by_n").map((row) => row.n),
  };
}

function expected(model: Model): unknown {
  const keyedIds = [...Array.from({ length: keyedSpan + 100 }, (_, id) => id), ...farKeys];
  const keyed = [...model.keyed.values()].sort((a, b) => a.id - b.id);
  const texted = [...model.texted.values()].sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
  );
  const keyless = [...model.keyless.entries()].sort((a, b) => a[0] - b[0]).map(([, row]) => row);
  return {
    keyedGets: keyedIds.map((id) => model.keyed.get(id) ?? null),
    keyedScan: keyed,
    keyedSize: keyed.length,
    keyedByV: keyed.map((row) => row.v).sort((a, b) => a - b),
    textScan: texted,
    textSize: texted.length,
    textGets: Array.from(
      { length: textKeyCount },
      (_, i) => model.texted.get(textKeyOf(i)) ?? null,
    ),
    keylessScan: keyless,
    keylessSize: keyless.length,
    keylessByN: keyless.map((row) => row.n).sort((a, b) => a - b),
  };
}

/** The first whole-number key past the model's run of keys from 0: where the array ends. */
function denseEnd(model: Model): number {
  let id = 0;
  while (model.keyed.has(id)) id++;
  return id;
}

/** One write to the keyed tables, mirrored in the model. */
function keyedOp(tx: Tx, model: Model, prng: Prng): void {
  const k = tx.table<Keyed>("r::k");
  const choice = prng.int(7);
  const v = prng.int(100);
  if (choice === 0) {
    // A run of keys from the array's end: grows it over keys inserted past its end.
    const from = denseEnd(model);
    const count = 1 + prng.int(tableDenseKeysSkippedMax + 10);
    for (let id = from; id < from + count && id < keyedSpan; id++) {
      if (model.keyed.has(id)) continue;
      k.insert({ id, v });
      model.keyed.set(id, { id, v });
    }
  } else if (choice === 1) {
    // Past the array's end, by less or more than it skips: some in the array, some hashed.
    const id = Math.min(keyedSpan - 1, denseEnd(model) + prng.int(3 * tableDenseKeysSkippedMax));
    model.keyed.set(id, k.set({ id, v }));
  } else if (choice === 2) {
    const id = prng.int(3) === 0 ? farKeys[prng.int(farKeys.length)]! : keyedId(prng);
    model.keyed.set(id, k.set({ id, v }));
  } else if (choice === 3) {
    const id = keyedId(prng);
    assert.equal(k.del(id), model.keyed.delete(id));
  } else if (choice === 4) {
    const id = keyedId(prng);
    if (model.keyed.has(id)) {
      k.update(id, { v });
      model.keyed.set(id, { id, v });
    }
  } else {
    const hot = prng.int(2) === 0;
    const name = textKeyOf(hot ? textKeyCount - 1 - prng.int(3) : prng.int(textKeyCount));
    const s = tx.table<Texted>("r::s");
    if (choice === 5) assert.equal(s.del(name), model.texted.delete(name));
    else model.texted.set(name, s.set({ name, v }));
  }
}

/** One write to the keyless table, mirrored in the model. */
function keylessOp(tx: Tx, model: Model, prng: Prng): void {
  const l = tx.table<Keyless>("r::l");
  const ids = [...model.keyless.keys()];
  // The newest few rows half the time: the reader reaches them last.
  if (ids.length > 4 && prng.int(2) === 0) ids.splice(0, ids.length - 4);
  const n = prng.int(400);
  const choice = prng.int(4);
  if (choice === 0 || ids.length === 0) {
    l.insert({ n });
    model.keyless.set(model.rowIdNext++, { n });
  } else if (choice === 1) {
    const id = ids[prng.int(ids.length)]!;
    l.update(id, { n });
    model.keyless.set(id, { n });
  } else if (choice === 2) {
    const id = ids[prng.int(ids.length)]!;
    assert.equal(l.del(id), true);
    model.keyless.delete(id);
  } else {
    tx.execute("delete r::l filter { n == $n }", { n });
    for (const [id, row] of model.keyless) if (row.n === n) model.keyless.delete(id);
  }
}

/** A few writes, some in a savepoint that throws (its model copy is dropped). */
function writes(db: Database, tx: Tx, model: Model, prng: Prng, depth: number): Model {
  let current = model;
  const count = 1 + prng.int(6);
  for (let i = 0; i < count; i++) {
    if (depth === 0 && prng.int(5) === 0) {
      const inner = copyTablesModel(current);
      const fails = prng.int(2) === 0;
      try {
        db.transact((nested) => {
          const after = writes(db, nested, inner, prng, depth + 1);
          if (fails) throw new Error("savepoint rolled back");
          current = after;
        });
      } catch (error) {
        assert.equal((error as Error).message, "savepoint rolled back");
      }
    } else if (prng.int(3) === 0) keylessOp(tx, current, prng);
    else keyedOp(tx, current, prng);
  }
  return current;
}

/** One transaction, rolled back one time in six; returns the model after it. */
function round(db: Database, model: Model, prng: Prng): Model {
  let next = model;
  const fails = prng.int(6) === 0;
  try {
    db.transact((tx) => {
      next = writes(db, tx, copyTablesModel(model), prng, 0);
      if (fails) throw new Error("transaction rolled back");
    });
  } catch (error) {
    assert.equal((error as Error).message, "transaction rolled back");
    return model;
  }
  return next;
}

function fill(db: Database, model: Model, prng: Prng): void {
  db.transact((tx) => {
    const k = tx.table<Keyed>("r::k");
    // Keys 0 .. 899 with gaps, then keys past the array's end that it will grow over.
    for (let id = 0; id < 900; id++) {
      if (prng.int(10) === 0) continue;
      model.keyed.set(id, k.insert({ id, v: prng.int(100) }));
    }
    for (let id = 1_000; id < 1_400; id += 1 + prng.int(5)) {
      model.keyed.set(id, k.insert({ id, v: prng.int(100) }));
    }
    const s = tx.table<Texted>("r::s");
    for (let i = 0; i < textKeyCount; i += 1 + prng.int(2)) {
      const name = textKeyOf(i);
      model.texted.set(name, s.insert({ name, v: prng.int(100) }));
    }
    const l = tx.table<Keyless>("r::l");
    for (let i = 0; i < 700; i++) {
      const n = prng.int(400);
      l.insert({ n });
      model.keyless.set(model.rowIdNext++, { n });
    }
  });
}

test("snapshots written while commits run between chunks hold their seq's rows", async (t) => {
  const path = tempPath(t);
  const clock = createManualClock(1_800_000_000_000);
  const db = await open({ path, clock, snapshotLogBytes: 0, snapshotsKept: Infinity });
  createTables(db);
  const prng = createPrng(Number(process.env.SNAPSHOT_REVIEW_SEED ?? 20261129));
  let model: Model = { keyed: new Map(), texted: new Map(), keyless: new Map(), rowIdNext: 1 };
  fill(db, model, prng);
  const states = new Map<number, unknown>([[db.seq, expected(model)]]);
  const snapshotSeqs: number[] = [];
  for (let pass = 0; pass < 3; pass++) {
    const seq = db.seq;
    const writing = db.snapshot();
    let settled = false;
    void writing.then(() => (settled = true));
    let commits = 0;
    while (!settled) {
      for (let i = 0; i < 3; i++) {
        clock.advance(1);
        model = round(db, model, prng);
        states.set(db.seq, expected(model));
        commits++;
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal((await writing).seq, seq);
    assert.ok(commits >= 4, `only ${commits} transactions ran while snapshot ${pass} was written`);
    snapshotSeqs.push(seq);
    assert.deepEqual(observed(db), expected(model), `after snapshot ${pass}`);
  }
  const seqs = [...states.keys()];
  const checked = [
    ...snapshotSeqs,
    ...Array.from({ length: 6 }, () => seqs[prng.int(seqs.length)]!),
  ];
  for (const seq of checked) {
    const past = await db.at(seq);
    assert.deepEqual(observed(past), states.get(seq), `db.at(${seq})`);
    await past.close();
  }
  const finalState = expected(model);
  await db.close();
  const reopened = await open({ path, clock });
  assert.deepEqual(observed(reopened), finalState);
  await reopened.close();
});
