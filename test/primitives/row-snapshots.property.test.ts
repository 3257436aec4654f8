// Goal: with in-place row storage (a keyed table overwrites its own copy of each row and hands
// out snapshots, a read's cached until the next write), no row ever handed out changes, and
// rollback, recovery and time travel stay exact, under random mixes of everything.
// Method: fast-check generates transactions of gets, scans, index lookups and ranges (hash and
// ordered, unique and not, composite), RQL reads and writes, view reads, inserts, updates,
// sets and deletes (some refused by a unique index), nested savepoints that throw, and
// transactions that throw at the end; snapshots are taken between some of them. A naive model
// (a map of rows, copied for each savepoint) predicts every result and error code. Every row
// handed out, every commit and every subscription message is kept with a deep image of it
// (test/support/row-witness.ts) and checked at the end; the full state (every index, both
// views against recomputation) is compared after every transaction and at random points
// inside; then the database is checked as of a random past seq (db.at), and reopened from its
// snapshot plus log. A failure prints its seed: rerun with ROW_SNAPSHOTS_SEED=<seed>.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { open, DbError } from "../../src/index.ts";
import type { Database, SubscriptionMessage } from "../../src/index.ts";
import { assertViewMatches } from "../views/support.ts";
import { RowWitness } from "../support/row-witness.ts";

const seed = Number(process.env.ROW_SNAPSHOTS_SEED ?? Math.floor(Math.random() * 2 ** 31));
/** Runs of the property; ROW_SNAPSHOTS_RUNS=<n> for a longer soak. */
const runCount = Number(process.env.ROW_SNAPSHOTS_RUNS ?? 40);
const idsMax = 8;
const groups = ["a", "b", "c"] as const;
const tags = [null, "t0", "t1", "t2"] as const;
const nMax = 5;
const table = "p::items";

interface Item {
  readonly id: number;
  readonly grp: string;
  readonly n: number;
  readonly tag: string | null;
  readonly doc: unknown;
}
type Patch = Partial<Omit<Item, "id">>;

const views: ReadonlyArray<readonly [string, string]> = [
  ["p::by_grp", `from ${table} aggregate { c: math::count(id), s: math::sum(n) } by { grp }`],
  ["p::big", `from ${table} filter { n >= 3 } map { id, grp, n, doc }`],
];

type Op =
  | { kind: "get"; id: number }
  | { kind: "scan"; lower?: number; upper?: number; limit?: number; reverse?: boolean }
  | { kind: "lookup"; index: "by_tag" | "by_grp"; value: string }
  | { kind: "range"; index: "by_n" | "by_grp_n"; lower?: number }
  | { kind: "rqlRead"; grp: string }
  | { kind: "check" }
  | { kind: "insert"; row: Item }
  | { kind: "update"; id: number; patch: Patch }
  | { kind: "set"; row: Item }
  | { kind: "del"; id: number }
  | { kind: "rqlUpdate"; grp: string; doc: unknown }
  | { kind: "rqlDelete"; grp: string }
  | { kind: "nested"; ops: Op[]; fail: boolean };

interface TransactionSpec {
  readonly ops: Op[];
  readonly fail: boolean;
  readonly snapshotAfter: boolean;
}

// ---- Generators ----

const idArb = fc.integer({ min: 0, max: idsMax - 1 });
const grpArb = fc.constantFrom(...groups);
const nArb = fc.integer({ min: 0, max: nMax });
const tagArb = fc.constantFrom(...tags, null, null);
const docArb = fc.oneof(
  fc.constant(null),
  fc.record({ k: fc.integer({ min: 0, max: 3 }) }, { noNullPrototype: true }),
  fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 2 }),
);
const rowArb: fc.Arbitrary<Item> = fc.record(
  {
    id: idArb,
    grp: grpArb,
    n: nArb,
    tag: tagArb,
    doc: docArb,
  },
  { noNullPrototype: true },
);
const patchArb: fc.Arbitrary<Patch> = fc.record(
  { grp: grpArb, n: nArb, tag: tagArb, doc: docArb },
  { requiredKeys: [], noNullPrototype: true },
);

const readArb: fc.Arbitrary<Op> = fc.oneof(
  idArb.map((id) => ({ kind: "get" as const, id })),
  fc
    .record(
      { lower: idArb, upper: idArb, limit: fc.integer({ min: 1, max: 4 }), reverse: fc.boolean() },
      { requiredKeys: [] },
    )
    .map((options) => ({ kind: "scan" as const, ...options })),
  fc.record({
    kind: fc.constant("lookup" as const),
    index: fc.constant("by_tag" as const),
    value: fc.constantFrom("t0", "t1", "t2"),
  }),
  fc.record({
    kind: fc.constant("lookup" as const),
    index: fc.constant("by_grp" as const),
    value: grpArb,
  }),
  fc.record(
    {
      kind: fc.constant("range" as const),
      index: fc.constantFrom("by_n", "by_grp_n"),
      lower: nArb,
    },
    { requiredKeys: ["kind", "index"] },
  ),
  grpArb.map((grp) => ({ kind: "rqlRead" as const, grp })),
  fc.constant({ kind: "check" as const }),
);

const writeArb: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: rowArb.map((row) => ({ kind: "insert" as const, row })), weight: 3 },
  {
    arbitrary: fc.record({ kind: fc.constant("update" as const), id: idArb, patch: patchArb }),
    weight: 4,
  },
  { arbitrary: rowArb.map((row) => ({ kind: "set" as const, row })), weight: 2 },
  { arbitrary: idArb.map((id) => ({ kind: "del" as const, id })), weight: 2 },
  {
    arbitrary: fc.record({ kind: fc.constant("rqlUpdate" as const), grp: grpArb, doc: docArb }),
    weight: 1,
  },
  { arbitrary: grpArb.map((grp) => ({ kind: "rqlDelete" as const, grp })), weight: 1 },
);

const opsArb: fc.Arbitrary<Op[]> = fc.letrec<{ op: Op; ops: Op[] }>((tie) => ({
  op: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    { arbitrary: readArb, weight: 4 },
    { arbitrary: writeArb, weight: 5 },
    {
      arbitrary: fc.record({
        kind: fc.constant("nested" as const),
        ops: tie("ops"),
        fail: fc.boolean(),
      }),
      weight: 1,
    },
  ),
  ops: fc.array(tie("op"), { maxLength: 6 }),
})).ops;

const workloadArb: fc.Arbitrary<TransactionSpec[]> = fc.array(
  fc.record({
    ops: opsArb,
    fail: fc.integer({ min: 0, max: 2 }).map((n) => n === 0),
    snapshotAfter: fc.integer({ min: 0, max: 5 }).map((n) => n === 0),
  }),
  { minLength: 1, maxLength: 10 },
);

// ---- The model ----

class ModelError extends Error {
  constructor(readonly code: string) {
    super(code);
  }
}

/** The rows as a naive map; each write stores a new object. */
class Model {
  rows = new Map<number, Item>();

  list(): Item[] {
    return [...this.rows.values()].sort((a, b) => a.id - b.id);
  }

  copy(): Map<number, Item> {
    return new Map(this.rows);
  }

  /** CONSTRAINT_VIOLATION when `row` would repeat another row's tag or (grp, n). */
  private checkUnique(row: Item): void {
    for (const other of this.rows.values()) {
      if (other.id === row.id) continue;
      if (row.tag !== null && other.tag === row.tag) throw new ModelError("CONSTRAINT_VIOLATION");
      if (other.grp === row.grp && other.n === row.n) throw new ModelError("CONSTRAINT_VIOLATION");
    }
  }

  insert(row: Item): Item {
    if (this.rows.has(row.id)) throw new ModelError("CONSTRAINT_VIOLATION");
    this.checkUnique(row);
    this.rows.set(row.id, { ...row });
    return row;
  }

  update(id: number, patch: Patch): Item {
    const old = this.rows.get(id);
    if (old === undefined) throw new ModelError("NOT_FOUND");
    const row = { ...old };
    for (const [name, value] of Object.entries(patch)) {
      if (value !== undefined) (row as Record<string, unknown>)[name] = value;
    }
    this.checkUnique(row);
    this.rows.set(id, row);
    return row;
  }

  set(row: Item): Item {
    this.checkUnique(row);
    this.rows.set(row.id, { ...row });
    return row;
  }

  del(id: number): boolean {
    return this.rows.delete(id);
  }
}

// ---- The harness ----

const sortById = (rows: readonly Item[]): Item[] => [...rows].sort((a, b) => a.id - b.id);
const idsOf = (rows: readonly Item[]): number[] => rows.map((row) => row.id);

/** A value as the table stores it: JSON documents are copies, so deep equality. */
function plain(value: unknown): unknown {
  return value === undefined ? undefined : (JSON.parse(JSON.stringify(value)) as unknown);
}

class Run {
  readonly witness = new RowWitness();
  readonly model = new Model();
  /** The model's rows after each commit, by seq. */
  readonly states = new Map<number, Item[]>();
  readonly stats = { ops: 0, refused: 0, commits: 0, rollbacks: 0 };

  constructor(readonly db: Database) {}

  private get items() {
    return this.db.table<Item>(table);
  }

  /** Runs `fn` on the database and the model; both throw the same code or return equal. */
  private both<T>(label: string, actual: () => T, expected: () => T): void {
    this.stats.ops++;
    let result: { value: T } | { code: string };
    try {
      result = { value: expected() };
    } catch (error) {
      if (!(error instanceof ModelError)) throw error;
      result = { code: error.code };
    }
    try {
      const value = this.witness.keep(label, actual());
      assert.ok("value" in result, `${label}: succeeded, the model says ${JSON.stringify(result)}`);
      assert.deepEqual(plain(value), plain(result.value), label);
    } catch (error) {
      if (!(error instanceof DbError)) throw error;
      assert.ok("code" in result, `${label}: ${error.message}`);
      assert.equal(error.code, result.code, label);
      this.stats.refused++;
    }
  }

  runOp(op: Op): void {
    const items = this.items;
    const model = this.model;
    const label = JSON.stringify(op);
    switch (op.kind) {
      case "get":
        return this.both(
          label,
          () => items.get(op.id),
          () => model.rows.get(op.id),
        );
      case "scan":
        return this.both(
          label,
          () => items.scan(op),
          () => this.scanModel(op),
        );
      case "lookup": {
        const column = op.index === "by_tag" ? "tag" : "grp";
        return this.both(
          label,
          () => sortById(items.lookup(op.index, op.value)),
          () => model.list().filter((row) => row[column] === op.value),
        );
      }
      case "range":
        return this.checkRange(op.index, op.lower);
      case "rqlRead":
        return this.both(
          label,
          () =>
            sortById(
              this.db.execute(`from ${table} filter { grp == $g }`, { g: op.grp })
                .frames[0] as unknown as Item[],
            ),
          () => model.list().filter((row) => row.grp === op.grp),
        );
      case "check":
        return this.checkState(label);
      case "insert":
        return this.both(
          label,
          () => items.insert(op.row),
          () => model.insert(op.row),
        );
      case "update":
        return this.both(
          label,
          () => items.update(op.id, op.patch),
          () => model.update(op.id, op.patch),
        );
      case "set":
        return this.both(
          label,
          () => items.set(op.row),
          () => model.set(op.row),
        );
      case "del":
        return this.both(
          label,
          () => items.del(op.id),
          () => model.del(op.id),
        );
      case "rqlUpdate":
        return this.both(
          label,
          () =>
            this.db.execute(`update ${table} { tag: none, doc: $doc } filter { grp == $g }`, {
              g: op.grp,
              doc: op.doc,
            }).frames,
          () => {
            const rows = model.list().filter((row) => row.grp === op.grp);
            for (const row of rows) model.rows.set(row.id, { ...row, tag: null, doc: op.doc });
            return [[{ namespace: "p", table: "items", updated: rows.length }]];
          },
        );
      case "rqlDelete":
        return this.both(
          label,
          () => this.db.execute(`delete ${table} filter { grp == $g }`, { g: op.grp }).frames,
          () => {
            const rows = model.list().filter((row) => row.grp === op.grp);
            for (const row of rows) model.rows.delete(row.id);
            return [[{ namespace: "p", table: "items", deleted: rows.length }]];
          },
        );
      case "nested":
        return this.runNested(op.ops, op.fail);
    }
  }

  private scanModel(op: Extract<Op, { kind: "scan" }>): Item[] {
    let rows = this.model.list();
    if (op.lower !== undefined) rows = rows.filter((row) => row.id >= op.lower!);
    if (op.upper !== undefined) rows = rows.filter((row) => row.id <= op.upper!);
    if (op.reverse === true) rows.reverse();
    return op.limit === undefined ? rows : rows.slice(0, op.limit);
  }

  /** An ordered index in order: by n (ids among equal n in any order), or by (grp, n). */
  private checkRange(index: "by_n" | "by_grp_n", lower?: number): void {
    this.stats.ops++;
    const items = this.items;
    if (index === "by_n") {
      const rows = this.witness.keep(
        "range by_n",
        items.range("by_n", lower === undefined ? {} : { lower }),
      );
      const expected = this.model.list().filter((row) => lower === undefined || row.n >= lower);
      assert.deepEqual(plain(sortById(rows)), plain(expected), "range by_n: rows");
      const ns = rows.map((row) => row.n);
      assert.deepEqual(
        ns,
        [...ns].sort((a, b) => a - b),
        "range by_n: order",
      );
      return;
    }
    const rows = this.witness.keep("range by_grp_n", items.range("by_grp_n"));
    const expected = this.model
      .list()
      .sort((a, b) => (a.grp < b.grp ? -1 : a.grp > b.grp ? 1 : a.n - b.n));
    assert.deepEqual(plain(rows), plain(expected), "range by_grp_n");
  }

  private runNested(ops: readonly Op[], fail: boolean): void {
    const saved = this.model.copy();
    const marker = new Error("nested rollback");
    try {
      this.db.transact(() => {
        for (const op of ops) this.runOp(op);
        if (fail) throw marker;
      });
    } catch (error) {
      if (error !== marker) throw error;
      this.model.rows = saved;
    }
    this.checkState("after a nested transaction");
  }

  /** The whole state through every read path, and both views against recomputation. */
  checkState(label: string): void {
    const items = this.items;
    const expected = plain(this.model.list());
    assert.deepEqual(
      plain(this.witness.keep(`${label}: scan`, items.scan())),
      expected,
      `${label}: scan`,
    );
    for (let id = 0; id < idsMax; id++) {
      assert.deepEqual(
        plain(items.get(id) ?? null),
        plain(this.model.rows.get(id) ?? null),
        `${label}: get ${id}`,
      );
    }
    for (const tag of tags) {
      if (tag === null) continue;
      const want = idsOf(this.model.list().filter((row) => row.tag === tag));
      assert.deepEqual(idsOf(items.lookup("by_tag", tag)), want, `${label}: by_tag ${tag}`);
    }
    for (const grp of groups) {
      const want = idsOf(this.model.list().filter((row) => row.grp === grp));
      assert.deepEqual(
        idsOf(sortById(items.lookup("by_grp", grp))),
        want,
        `${label}: by_grp ${grp}`,
      );
    }
    this.checkRange("by_n");
    this.checkRange("by_n", 2);
    this.checkRange("by_grp_n");
    for (const [name, query] of views) {
      assertViewMatches(this.db, name, query, label);
      this.witness.keep(`${label}: view ${name}`, this.db.view(name).scan());
    }
  }

  runTransaction(spec: TransactionSpec): void {
    const saved = this.model.copy();
    const seqBefore = this.db.seq;
    const marker = new Error("rollback");
    try {
      this.db.transact(() => {
        for (const op of spec.ops) this.runOp(op);
        if (spec.fail) throw marker;
      });
    } catch (error) {
      if (error !== marker) throw error;
      this.model.rows = saved;
      this.stats.rollbacks++;
    }
    if (this.db.seq !== seqBefore) {
      this.stats.commits++;
      assert.equal(this.db.seq, seqBefore + 1, "one commit per transaction");
      this.states.set(this.db.seq, this.model.list());
    }
    this.checkState(`after transaction ${JSON.stringify(spec).slice(0, 200)}`);
  }
}

// ---- Checks at the end of a run ----

/** Folds the subscription's snapshot and deltas; each state must be the model's at its seq. */
async function checkSubscription(
  messages: AsyncIterator<SubscriptionMessage>,
  run: Run,
  seqLast: number,
): Promise<void> {
  const rows = new Map<number, unknown>();
  for (;;) {
    const next = await messages.next();
    assert.ok(next.done !== true, "the subscription ended early");
    const message = next.value;
    run.witness.keep(`subscription ${message.seq}`, message);
    if (message.type === "snapshot") {
      for (const row of message.rows) rows.set(row.id as number, row);
    } else if (message.type === "delta") {
      for (const change of message.changes) {
        if (change.op === "remove") rows.delete(change.key as number);
        else rows.set(change.key as number, change.row);
      }
      const expected = run.states.get(message.seq);
      assert.ok(expected !== undefined, `a delta at seq ${message.seq} without a commit`);
      const folded = [...rows.entries()].sort((a, b) => a[0] - b[0]).map((entry) => entry[1]);
      assert.deepEqual(plain(folded), plain(expected), `subscription at seq ${message.seq}`);
    } else {
      assert.fail(`subscription ended: ${message.reason}`);
    }
    if (message.seq >= seqLast) return;
  }
}

async function checkPast(db: Database, run: Run, pick: number): Promise<void> {
  const seqs = [...run.states.keys()];
  if (seqs.length === 0) return;
  const seq = seqs[pick % seqs.length]!;
  const past = await db.at(seq);
  try {
    const rows = run.witness.keep(`at ${seq}`, past.table<Item>(table).scan());
    assert.deepEqual(plain(rows), plain(run.states.get(seq)), `db.at(${seq})`);
  } finally {
    await past.close();
  }
}

/** `app::items` with its four indexes and both views, on a new database at `path`. */
async function openItems(path: string): Promise<Database> {
  const db = await open({ path, snapshotLogBytes: 0, snapshotsKept: Infinity });
  db.createNamespace("p");
  db.createTable<Item>(table, {
    columns: { id: "int4", grp: "utf8", n: "int8", tag: "Option(utf8)", doc: "json" },
    primaryKey: "id",
    indexes: [
      { name: "by_tag", columns: ["tag"], unique: true },
      { name: "by_grp", columns: ["grp"] },
      { name: "by_n", columns: ["n"], ordered: true },
      { name: "by_grp_n", columns: ["grp", "n"], ordered: true, unique: true },
    ],
  });
  for (const [name, query] of views) db.createView(name, { query });
  return db;
}

async function runOn(db: Database, specs: readonly TransactionSpec[], pick: number): Promise<Run> {
  const run = new Run(db);
  db.addCommitListener((commit) => run.witness.keep(`commit ${commit.seq}`, commit));
  const subscription = db.subscribe({ table }, { pendingCommitsMax: 1_000 });
  try {
    const messages = subscription[Symbol.asyncIterator]();
    run.states.set(db.seq, []);
    for (const spec of specs) {
      run.runTransaction(spec);
      if (spec.snapshotAfter) await db.snapshot();
    }
    await checkSubscription(messages, run, db.seq);
  } finally {
    subscription.close();
  }
  await checkPast(db, run, pick);
  run.witness.check();
  return run;
}

async function runWorkload(specs: readonly TransactionSpec[], pick: number): Promise<Run["stats"]> {
  const path = mkdtempSync(join(tmpdir(), "statebase-row-snapshots-"));
  try {
    const db = await openItems(path);
    let run: Run;
    try {
      run = await runOn(db, specs, pick);
    } finally {
      await db.close();
    }
    const reopened = await open({ path });
    try {
      const again = new Run(reopened);
      again.model.rows = run.model.copy();
      again.checkState("reopened");
    } finally {
      await reopened.close();
    }
    return run.stats;
  } finally {
    rmSync(path, { recursive: true, force: true });
  }
}

test("no row handed out ever changes; rollback, time travel and recovery stay exact", async (t) => {
  t.diagnostic(`seed ${seed}: rerun with ROW_SNAPSHOTS_SEED=${seed}`);
  const total = { ops: 0, refused: 0, commits: 0, rollbacks: 0 };
  await fc.assert(
    fc.asyncProperty(workloadArb, fc.nat(), async (specs, pick) => {
      const stats = await runWorkload(specs, pick);
      for (const name of Object.keys(total) as Array<keyof typeof total>) {
        total[name] += stats[name];
      }
    }),
    { seed, numRuns: runCount, includeErrorInReport: true },
  );
  t.diagnostic(JSON.stringify(total));
  assert.ok(total.ops > runCount * 5, "the workloads ran operations");
  assert.ok(total.commits > 0 && total.rollbacks > 0 && total.refused > 0, "and all outcomes");
});
