// Goal: try to break f131cc0 (rows held directly in the map and dense array, no slot per row).
// Keyed tables write their stored row in place; keyless tables replace an immutable row on
// update, in both the map and the dense array, and RQL deletes keyless rows by identity.
// Method: a seeded random workload against a naive model, over keys the dense array covers
// (small whole numbers, keys a few past its end, keys past the skip limit that a later insert
// pulls in), keys it never covers (negative, at and past tableDenseKeysMax, the int4 limits,
// text) and a keyless table with duplicate identical rows; transactions hold nested savepoints
// that throw. Every commit's state is compared (gets, scans, a hash and an ordered index);
// at the end db.at of random seqs (snapshot plus log, and log alone) and a reopen must equal
// what the model held at that seq.
import { test } from "node:test";
import type { TestContext } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createManualClock, open } from "../../src/index.ts";
import type { Database, Tx } from "../../src/index.ts";
import { tableDenseKeysMax } from "../../src/lib/limits.ts";
import { RowWitness } from "../support/row-witness.ts";
import { createPrng } from "../../src/lib/prng.ts";
import type { Prng } from "../../src/lib/prng.ts";
import { copyTablesModel } from "../support/tables-model.ts";
import type { TablesModel } from "../support/tables-model.ts";

interface Keyed {
  id: number;
  g: string;
  v: number;
}
interface Texted {
  name: string;
  v: number;
}
interface Keyless {
  n: number;
  g: string;
}

/** Keys the dense array covers, extends to, skips past, or never covers. */
const intKeys = [
  ...Array.from({ length: 12 }, (_, i) => i),
  40,
  50,
  75,
  76,
  100,
  110,
  150,
  200,
  201,
  -1,
  -7,
  tableDenseKeysMax - 1,
  tableDenseKeysMax,
  tableDenseKeysMax + 5,
  2147483647,
  -2147483648,
];
const textKeys = ["", "a", "b", "0", "1", "-1", "10", "2147483648", "é"];
/** Few values, so that keyless rows are often identical. */
const keylessValues = [0, 1, 2];
const groups = ["x", "y"];

/** What every table must hold: keyed rows by key, keyless rows by row id. */
type Model = TablesModel<Keyed, Texted, Keyless>;

function pick<T>(prng: Prng, values: readonly T[]): T {
  return values[prng.int(values.length)]!;
}

function tempPath(context: TestContext): string {
  const path = mkdtempSync(join(tmpdir(), "statebase-rows-review-"));
  context.after(() => rmSync(path, { recursive: true, force: true }));
  return path;
}

function createTables(db: Database): void {
  db.createNamespace("r");
  db.createTable("r::k", {
    columns: { id: "int4", g: "utf8", v: "int8" },
    primaryKey: "id",
    indexes: [
      { name: "by_g", columns: ["g"] },
      { name: "by_v", columns: ["v"], ordered: true },
    ],
  });
  db.createTable("r::s", { columns: { name: "utf8", v: "int4" }, primaryKey: "name" });
  db.createTable("r::l", {
    columns: { n: "int4", g: "utf8" },
    indexes: [
      { name: "by_g", columns: ["g"] },
      { name: "by_n", columns: ["n"], ordered: true },
    ],
  });
}

const byJson = (a: unknown, b: unknown): number =>
  JSON.stringify(a) < JSON.stringify(b) ? -1 : JSON.stringify(a) > JSON.stringify(b) ? 1 : 0;
const sorted = <T>(rows: readonly T[]): T[] => [...rows].sort(byJson);

/** Every read of the three tables that the model can answer, in comparable form. */
function observed(db: Database): unknown {
  const k = db.table<Keyed>("r::k");
  const s = db.table<Texted>("r::s");
  const l = db.table<Keyless>("r::l");
  return {
    keyedGets: intKeys.map((key) => k.get(key) ?? null),
    keyedScan: sorted(k.scan()),
    keyedByG: groups.map((g) => sorted(k.lookup("by_g", g))),
    keyedByV: k.range("by_v").map((row) => row.v),
    textGets: textKeys.map((key) => s.get(key) ?? null),
    textScan: sorted(s.scan()),
    keylessGets: Array.from({ length: 40 }, (_, id) => l.get(id) ?? null),
    keylessScan: sorted(l.scan()),
    keylessByG: groups.map((g) => sorted(l.lookup("by_g", g))),
    keylessByN: l.range("by_n").map((row) => row.n),
  };
}

function expected(model: Model): unknown {
  const keyed = [...model.keyed.values()];
  const keyless = [...model.keyless.values()];
  return {
    keyedGets: intKeys.map((key) => model.keyed.get(key) ?? null),
    keyedScan: sorted(keyed),
    keyedByG: groups.map((g) => sorted(keyed.filter((row) => row.g === g))),
    keyedByV: keyed.map((row) => row.v).sort((a, b) => a - b),
    textGets: textKeys.map((key) => model.texted.get(key) ?? null),
    textScan: sorted([...model.texted.values()]),
    keylessGets: Array.from({ length: 40 }, (_, id) => model.keyless.get(id) ?? null),
    keylessScan: sorted(keyless),
    keylessByG: groups.map((g) => sorted(keyless.filter((row) => row.g === g))),
    keylessByN: keyless.map((row) => row.n).sort((a, b) => a - b),
  };
}

/** One write to the keyed tables, mirrored in the model. */
function keyedOp(tx: Tx, model: Model, prng: Prng): void {
  const k = tx.table<Keyed>("r::k");
  const id = pick(prng, intKeys);
  const row = { id, g: pick(prng, groups), v: prng.int(50) };
  const choice = prng.int(5);
  if (choice === 0) {
    if (model.keyed.has(id)) k.update(id, { v: row.v });
    else k.insert(row);
    model.keyed.set(id, { ...(model.keyed.get(id) ?? row), v: row.v });
  } else if (choice === 1 && model.keyed.has(id)) {
    k.update(id, { g: row.g });
    model.keyed.set(id, { ...model.keyed.get(id)!, g: row.g });
  } else if (choice === 2) {
    assert.equal(k.del(id), model.keyed.delete(id));
  } else if (choice === 3) {
    k.set(row);
    model.keyed.set(id, row);
  } else {
    const name = pick(prng, textKeys);
    const s = tx.table<Texted>("r::s");
    if (prng.int(3) === 0) assert.equal(s.del(name), model.texted.delete(name));
    else model.texted.set(name, s.set({ name, v: row.v }));
  }
}

/** One write to the keyless table, mirrored in the model: by row id, or RQL by values. */
function keylessOp(tx: Tx, model: Model, prng: Prng): void {
  const l = tx.table<Keyless>("r::l");
  const ids = [...model.keyless.keys()];
  const n = pick(prng, keylessValues);
  const choice = prng.int(6);
  if (choice <= 1 || ids.length === 0) {
    const g = pick(prng, groups);
    l.insert({ n, g });
    model.keyless.set(model.rowIdNext++, { n, g });
  } else if (choice === 2) {
    const id = pick(prng, ids);
    l.update(id, { n });
    model.keyless.set(id, { ...model.keyless.get(id)!, n });
  } else if (choice === 3) {
    const id = pick(prng, ids);
    assert.equal(l.del(id), true);
    model.keyless.delete(id);
  } else if (choice === 4) {
    const result = tx.execute("delete r::l filter { n == $n }", { n });
    const doomed = ids.filter((id) => model.keyless.get(id)!.n === n);
    assert.equal(result.frames[0]?.[0]?.["deleted"], doomed.length);
    for (const id of doomed) model.keyless.delete(id);
  } else {
    const to = pick(prng, keylessValues);
    tx.execute("update r::l { n: $to } filter { n == $n }", { n, to });
    for (const [id, row] of model.keyless)
      if (row.n === n) model.keyless.set(id, { ...row, n: to });
  }
}

/** A few writes, some inside savepoints that throw (their model copy is dropped). */
function writes(db: Database, tx: Tx, model: Model, prng: Prng, depth: number): Model {
  let current = model;
  const count = 1 + prng.int(4);
  for (let i = 0; i < count; i++) {
    if (depth < 3 && prng.int(4) === 0) {
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
      assert.deepEqual(observed(db), expected(current));
    } else if (prng.int(2) === 0) keyedOp(tx, current, prng);
    else keylessOp(tx, current, prng);
  }
  return current;
}

test("random writes with savepoints keep both kinds of table equal to the model", async (t) => {
  const path = tempPath(t);
  const clock = createManualClock(1_800_000_000_000);
  const db = await open({ path, clock, snapshotLogBytes: 0, snapshotsKept: Infinity });
  createTables(db);
  let model: Model = {
    keyed: new Map(),
    texted: new Map(),
    keyless: new Map(),
    rowIdNext: 1,
  };
  const states = new Map<number, unknown>();
  const prng = createPrng(Number(process.env.ROWS_REVIEW_SEED ?? 20261129));
  for (let round = 0; round < 300; round++) {
    clock.advance(1);
    const start = copyTablesModel(model);
    const fails = prng.int(6) === 0;
    try {
      db.transact((tx) => {
        model = writes(db, tx, model, prng, 0);
        if (fails) throw new Error("transaction rolled back");
      });
    } catch (error) {
      assert.equal((error as Error).message, "transaction rolled back");
      model = start;
    }
    const state = expected(model);
    assert.deepEqual(observed(db), state, `round ${round}`);
    states.set(db.seq, state);
    if (round === 100 || round === 200) await db.snapshot();
  }
  const seqs = [...states.keys()];
  for (let i = 0; i < 12; i++) {
    const seq = pick(prng, seqs);
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

test("identical keyless rows: one updated, then deleted by RQL, then rolled back", async () => {
  const db = await open();
  const l = db.createTable<Keyless>("default::l", {
    columns: { n: "int4", g: "utf8" },
    indexes: [{ name: "by_n", columns: ["n"], ordered: true }],
  });
  l.insertMany([
    { n: 1, g: "x" },
    { n: 1, g: "x" },
    { n: 1, g: "x" },
  ]);
  const rows = (): unknown => [1, 2, 3].map((id) => l.get(id) ?? null);
  db.transact((tx) => {
    tx.table<Keyless>("default::l").update(2, { n: 5 });
    assert.throws(() =>
      db.transact((inner) => {
        const result = inner.execute("delete default::l filter { n == 5 }");
        assert.equal(result.frames[0]?.[0]?.["deleted"], 1);
        assert.deepEqual(rows(), [{ n: 1, g: "x" }, null, { n: 1, g: "x" }]);
        inner.table<Keyless>("default::l").update(3, { n: 6 });
        throw new Error("back");
      }),
    );
    assert.deepEqual(rows(), [
      { n: 1, g: "x" },
      { n: 5, g: "x" },
      { n: 1, g: "x" },
    ]);
    assert.deepEqual(
      l.range("by_n").map((row) => row.n),
      [1, 1, 5],
    );
    const result = tx.execute("delete default::l filter { n == 1 }");
    assert.equal(result.frames[0]?.[0]?.["deleted"], 2);
  });
  assert.deepEqual(rows(), [null, { n: 5, g: "x" }, null]);
  assert.deepEqual(l.scan(), [{ n: 5, g: "x" }]);
  await db.close();
});

test("a snapshot written while keyless rows are replaced holds them as of its seq", async (t) => {
  // Keyless rows are replaced in the map (not written in place) while the snapshot's chunks
  // iterate it: each chunk must still give the rows as of the snapshot's seq.
  const path = tempPath(t);
  const db = await open({ path, snapshotLogBytes: 0, snapshotsKept: Infinity });
  const l = db.createTable<Keyless>("default::l", {
    columns: { n: "int4", g: "utf8" },
    indexes: [{ name: "by_n", columns: ["n"], ordered: true }],
  });
  const rowCount = 3_000; // several of the snapshot writer's chunks, so commits run between
  l.insertMany(Array.from({ length: rowCount }, (_, i) => ({ n: i % 3, g: "x" })));
  const expected = Array.from({ length: rowCount + 2 }, (_, id) => l.get(id) ?? null);
  const seq = db.seq;
  const writing = db.snapshot();
  let settled = false;
  void writing.then(() => (settled = true));
  for (let round = 0; !settled; round++) {
    const id = 1 + ((round * 997) % rowCount);
    if (l.get(id) !== undefined) l.update(id, { n: 100 + round, g: "y" });
    if (round % 3 === 0) l.del(1 + ((id + 1) % rowCount));
    if (round % 5 === 0) l.insert({ n: 7, g: "z" });
    db.transact((tx) => tx.execute("delete default::l filter { n == 7 }"));
    assert.throws(() =>
      db.transact(() => {
        if (l.get(id) !== undefined) l.update(id, { n: -1 });
        throw new Error("back");
      }),
    );
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.equal((await writing).seq, seq);
  assert.ok(db.seq > seq + 3, "commits ran while the snapshot was written");
  const past = await db.at(seq);
  const pastRows = past.table<Keyless>("default::l");
  assert.deepEqual(
    Array.from({ length: rowCount + 2 }, (_, id) => pastRows.get(id) ?? null),
    expected,
  );
  assert.equal(pastRows.range("by_n", { upper: 0 }).length, rowCount / 3);
  await past.close();
  const final = Array.from({ length: rowCount + 200 }, (_, id) => l.get(id) ?? null);
  const finalByN = l.range("by_n").map((row) => row.n);
  await db.close();
  const reopened = await open({ path });
  const rows = reopened.table<Keyless>("default::l");
  assert.deepEqual(
    Array.from({ length: rowCount + 200 }, (_, id) => rows.get(id) ?? null),
    final,
  );
  assert.deepEqual(
    rows.range("by_n").map((row) => row.n),
    finalByN,
  );
  await reopened.close();
});

test("float8 and int8 keys spelled apart find one row, through rollback and reopen", async (t) => {
  // -0 is the dense array's index 0, 1.5 and 2 ** 53 + 2 are hashed, an int8 key may be given
  // as a number, a bigint or text: each spelling must reach the same stored row.
  const path = tempPath(t);
  const db = await open({ path, snapshotLogBytes: 0 });
  const f = db.createTable<{ k: number; v: number }>("default::f", {
    columns: { k: "float8", v: "int4" },
    primaryKey: "k",
    indexes: [{ name: "by_v", columns: ["v"], ordered: true }],
  });
  const b = db.createTable<{ k: bigint | number; v: number }>("default::b", {
    columns: { k: "int8", v: "int4" },
    primaryKey: "k",
  });
  const floatKeys = [0, 1, 1.5, 2, -1, 1e20, 2 ** 53 + 2];
  for (const k of floatKeys) f.insert({ k, v: 1 });
  for (const k of [0, 1, 2, 5n, -3, 9007199254740993n]) b.insert({ k, v: 1 });
  assert.throws(() => f.insert({ k: -0, v: 2 }), { code: "CONSTRAINT_VIOLATION" });
  const state = (): unknown => ({
    f: floatKeys.map((k) => f.get(k) ?? null),
    fByV: f.range("by_v").map((row) => row.v),
    b: [0, 1, 2, 5, -3, 9007199254740993n].map((k) => b.get(k) ?? null),
  });
  const before = state();
  assert.throws(() =>
    db.transact(() => {
      f.update(-0, { v: 10 });
      f.update(2 ** 53 + 2, { v: 11 });
      assert.equal(f.del(1.5), true);
      b.update(5, { v: 12 });
      b.update("9007199254740993", { v: 13 });
      assert.equal(b.del(2n), true);
      assert.deepEqual(f.get(0), { k: 0, v: 10 });
      assert.deepEqual(b.get(5n), { k: 5, v: 12 });
      assert.deepEqual(b.get(9007199254740993n), { k: 9007199254740993n, v: 13 });
      throw new Error("back");
    }),
  );
  assert.deepEqual(state(), before);
  f.update(-0, { v: 20 });
  b.update(5n, { v: 21 });
  assert.equal(b.del("2"), true);
  assert.equal(f.del(1.5), true);
  await db.snapshot();
  f.insert({ k: 1.5, v: 22 });
  b.update(-3n, { v: 23 });
  const after = state();
  assert.deepEqual((after as { f: unknown[] }).f[0], { k: 0, v: 20 });
  await db.close();
  const reopened = await open({ path });
  const rf = reopened.table<{ k: number; v: number }>("default::f");
  const rb = reopened.table<{ k: bigint | number; v: number }>("default::b");
  assert.deepEqual(
    {
      f: floatKeys.map((k) => rf.get(k) ?? null),
      fByV: rf.range("by_v").map((row) => row.v),
      b: [0, 1, 2, 5, -3, 9007199254740993n].map((k) => rb.get(k) ?? null),
    },
    after,
  );
  await reopened.close();
});

test("a keyless row's changes keep their rows through updates, deletes and history", async (t) => {
  const db = await open({ path: tempPath(t), durability: "sync" });
  const l = db.createTable<Keyless>("default::l", { columns: { n: "int4", g: "utf8" } });
  const witness = new RowWitness();
  const changes: unknown[] = [];
  db.addCommitListener((commit) =>
    changes.push(
      ...commit.changes.map((c) => witness.keep("change", [c.kind, c.key, c.before, c.after])),
    ),
  );
  l.insertMany([
    { n: 1, g: "x" },
    { n: 1, g: "x" },
  ]);
  witness.keep("get", l.get(2));
  l.update(2, { n: 2 });
  db.transact((tx) => {
    tx.table<Keyless>("default::l").update(2, { n: 3 });
    tx.execute("delete default::l filter { n == 3 }");
  });
  l.update(1, { g: "y" });
  assert.deepEqual(changes, [
    ["insert", 1, undefined, { n: 1, g: "x" }],
    ["insert", 2, undefined, { n: 1, g: "x" }],
    ["update", 2, { n: 1, g: "x" }, { n: 2, g: "x" }],
    ["update", 2, { n: 2, g: "x" }, { n: 3, g: "x" }],
    ["delete", 2, { n: 3, g: "x" }, undefined],
    ["update", 1, { n: 1, g: "x" }, { n: 1, g: "y" }],
  ]);
  const versions = await db.history("l", 2);
  assert.deepEqual(
    versions.map((v) => [v.kind, v.before, v.after]),
    (changes as unknown[][]).filter((c) => c[1] === 2).map((c) => [c[0], c[2], c[3]]),
  );
  witness.check();
  await db.close();
});

test("keys inserted past the dense array's end are found once it grows over them", async () => {
  // 100 lies past the skip limit at first (the hash alone holds it); 120 extends the array
  // over it. 186 and 187 lie past it too; 185 extends the array and pulls them in after it.
  const db = await open();
  const k = db.createTable<Keyed>("default::k", {
    columns: { id: "int4", g: "utf8", v: "int8" },
    primaryKey: "id",
    indexes: [{ name: "by_v", columns: ["v"], ordered: true }],
  });
  const model = new Map<number, Keyed>();
  const put = (id: number, v: number): void => {
    k.set({ id, g: "x", v });
    model.set(id, { id, g: "x", v });
  };
  const check = (label: string): void => {
    const got = Array.from({ length: 260 }, (_, id) => k.get(id) ?? null);
    const want = Array.from({ length: 260 }, (_, id) => model.get(id) ?? null);
    assert.deepEqual(got, want, label);
    const vs = [...model.values()].map((row) => row.v).sort((a, b) => a - b);
    assert.deepEqual(
      k.range("by_v").map((row) => row.v),
      vs,
      label,
    );
  };
  for (const id of [0, 1, 2, 100, 30, 90, 120, 186, 187, 185]) put(id, id);
  check("inserted");
  for (const id of [100, 186, 187]) put(id, id + 1000);
  check("updated");
  assert.throws(() =>
    db.transact(() => {
      for (const id of [100, 186, 187]) k.update(id, { v: -id });
      k.del(186);
      k.insert({ id: 188, g: "y", v: 5 });
      throw new Error("back");
    }),
  );
  check("rolled back");
  assert.equal(k.del(100), true);
  model.delete(100);
  assert.equal(k.del(187), true);
  model.delete(187);
  check("deleted");
  put(100, 7);
  put(250, 8);
  check("inserted again");
  await db.close();
});

test("keyless rows refused by a unique index leave rows RQL finds by identity", async () => {
  const db = await open();
  const l = db.createTable<Keyless>("default::l", {
    columns: { n: "int4", g: "utf8" },
    indexes: [{ name: "by_n", columns: ["n"], unique: true }],
  });
  assert.throws(
    () =>
      l.insertMany([
        { n: 1, g: "x" },
        { n: 1, g: "x" },
      ]),
    { code: "CONSTRAINT_VIOLATION" },
  );
  assert.deepEqual(l.scan(), []);
  l.insertMany([
    { n: 1, g: "x" },
    { n: 2, g: "x" },
  ]);
  // The refused insertMany gave its row ids back: these are 1 and 2.
  assert.deepEqual(
    [l.get(1), l.get(2)],
    [
      { n: 1, g: "x" },
      { n: 2, g: "x" },
    ],
  );
  assert.throws(() => l.update(2, { n: 1 }), { code: "CONSTRAINT_VIOLATION" });
  assert.throws(
    () =>
      db.transact((tx) => {
        tx.table<Keyless>("default::l").update(2, { n: 3, g: "y" });
        tx.execute("update default::l { n: 1 } filter { n == 3 }");
      }),
    { code: "CONSTRAINT_VIOLATION" },
  );
  assert.deepEqual(l.get(2), { n: 2, g: "x" });
  assert.deepEqual(l.lookup("by_n", 2), [{ n: 2, g: "x" }]);
  assert.deepEqual(l.lookup("by_n", 3), []);
  const result = await db.command("delete default::l filter { n == 2 }");
  assert.equal(result.frames[0]?.[0]?.["deleted"], 1);
  assert.deepEqual(l.scan(), [{ n: 1, g: "x" }]);
  l.insert({ n: 2, g: "z" });
  assert.deepEqual(l.get(3), { n: 2, g: "z" });
  await db.close();
});
