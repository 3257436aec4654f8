// Goal: try to break the in-place row storage of keyed tables (ab1df77): the table overwrites
// its own copy of each row on update and hands out snapshots (a read's is cached in the slot
// until the next write). Every row handed out (get, scan, lookup, range, insert/update/set
// results, change before/after, RQL results, subscription payloads, view rows, history and
// time travel) must keep its values for ever; rollback (a throw, a nested savepoint, a refused
// log append, a refused unique key) must restore rows and every index exactly.
// Method: black box through the embedded API (and the engine for a refused append); every
// row handed out is kept with a deep image of it (test/support/row-witness.ts) and checked
// after later writes and rollbacks; the state is compared with what it must be.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { open, Decimal } from "../../src/index.ts";
import type { Database, TableHandle } from "../../src/index.ts";
import { RowWitness } from "../support/row-witness.ts";
import { cityTableEngine } from "../support/table-engine.ts";

interface Item {
  id: number;
  grp: string;
  n: number;
  tag: string | null;
}

/** The columns of `app::items`, as `Item` types them. */
const itemColumns = { id: "int4", grp: "utf8", n: "int8", tag: "Option(utf8)" } as const;

/** `app::items` with a unique hash, a hash, an ordered and an ordered unique index. */
async function items(): Promise<{ db: Database; table: TableHandle<Item> }> {
  const db = await open();
  db.createNamespace("app");
  const table = db.createTable<Item>("app::items", {
    columns: itemColumns,
    primaryKey: "id",
    indexes: [
      { name: "by_tag", columns: ["tag"], unique: true },
      { name: "by_grp", columns: ["grp"] },
      { name: "by_n", columns: ["n"], ordered: true },
      { name: "by_grp_n", columns: ["grp", "n"], ordered: true, unique: true },
    ],
  });
  table.insertMany([
    { id: 1, grp: "a", n: 10, tag: "t1" },
    { id: 2, grp: "a", n: 20, tag: null },
    { id: 3, grp: "b", n: 30, tag: "t3" },
  ]);
  return { db, table };
}

const ids = (rows: readonly { id?: unknown }[]): unknown[] => rows.map((row) => row.id);
/** The ids of a hash index lookup, whose order is not part of the contract. */
const idSet = (rows: readonly { id?: unknown }[]): unknown[] => ids(rows).sort();

/** Every read path of `app::items`, each row kept by the witness. */
function readAll(table: TableHandle<Item>, witness: RowWitness, label: string): unknown {
  const state = {
    rows: witness.keep(`${label} scan`, table.scan()),
    got: [1, 2, 3, 4].map((id) => witness.keep(`${label} get ${id}`, table.get(id))),
    byTag: ["t1", "t3", "t9"].map((tag) => ids(table.lookup("by_tag", tag))),
    byGrp: ["a", "b", "c"].map((grp) => idSet(witness.keep(label, table.lookup("by_grp", grp)))),
    byN: ids(witness.keep(`${label} range by_n`, table.range("by_n"))),
    byNDown: ids(table.range("by_n", { lower: 15, reverse: true })),
    byGrpN: ids(witness.keep(`${label} range by_grp_n`, table.range("by_grp_n"))),
  };
  return JSON.parse(JSON.stringify(state)) as unknown;
}

/** A data directory removed after the test. */
function tempPath(context: TestContext): string {
  const path = mkdtempSync(join(tmpdir(), "statebase-in-place-"));
  context.after(() => rmSync(path, { recursive: true, force: true }));
  return path;
}

describe("rows handed out keep their values", () => {
  test("a row read in a transaction that rolls back keeps the values it had there", async () => {
    const { db, table } = await items();
    const witness = new RowWitness();
    const before = readAll(table, witness, "before");
    assert.throws(() =>
      db.transact(() => {
        witness.keep("inside, before the update", table.get(1));
        table.update(1, { n: 11, tag: "t9", grp: "c" });
        witness.keep("inside, after the update", table.get(1));
        witness.keep("inside scan", table.scan());
        table.del(2);
        table.insert({ id: 4, grp: "a", n: 10, tag: "t1" });
        readAll(table, witness, "inside");
        throw new Error("roll back");
      }),
    );
    assert.deepEqual(readAll(table, witness, "after"), before);
    witness.check();
  });

  test("a row read twice is two equal snapshots; a write changes neither", async () => {
    const { table } = await items();
    const first = table.get(1)!;
    assert.deepEqual(table.get(1), first, "reads between writes give equal snapshots");
    table.update(2, { n: 21 });
    assert.deepEqual(table.get(1), first, "a write to another row leaves this row's values");
    table.update(1, { n: 12 });
    assert.notEqual(table.get(1), first);
    assert.equal(first.n, 10);
    assert.equal(table.get(1)!.n, 12);
  });

  test("nested savepoints restore each level exactly; rows read keep their values", async () => {
    const { db, table } = await items();
    const witness = new RowWitness();
    const start = readAll(table, witness, "start");
    let afterOuter: unknown;
    db.transact(() => {
      table.update(1, { n: 15, tag: "t5" });
      afterOuter = readAll(table, witness, "outer");
      assert.throws(() =>
        db.transact(() => {
          table.update(1, { n: 16, grp: "b" });
          table.update(3, { grp: "a", n: 16, tag: null });
          assert.throws(() =>
            db.transact(() => {
              table.del(1);
              table.insert({ id: 1, grp: "z", n: 99, tag: "t5" });
              readAll(table, witness, "innermost");
              throw new Error("innermost");
            }),
          );
          readAll(table, witness, "inner");
          throw new Error("inner");
        }),
      );
      assert.deepEqual(readAll(table, witness, "outer again"), afterOuter);
    });
    assert.deepEqual(readAll(table, witness, "end"), afterOuter);
    assert.notDeepEqual(afterOuter, start);
    witness.check();
  });

  test("a row updated many times in one transaction rolls back to each savepoint", async () => {
    const { db, table } = await items();
    const witness = new RowWitness();
    db.transact(() => {
      for (let round = 0; round < 5; round++) {
        const state = readAll(table, witness, `round ${round}`);
        assert.throws(() =>
          db.transact(() => {
            for (let i = 0; i < 4; i++) {
              table.update(1, { n: 100 + round * 10 + i, tag: i % 2 === 0 ? null : "t1" });
              witness.keep(`round ${round} update ${i}`, table.get(1));
            }
            throw new Error("back");
          }),
        );
        assert.deepEqual(readAll(table, witness, `round ${round} after`), state);
        table.update(1, { n: 40 + round });
      }
    });
    assert.deepEqual(table.get(1), { id: 1, grp: "a", n: 44, tag: "t1" });
    assert.deepEqual(ids(table.lookup("by_tag", "t1")), [1]);
    assert.deepEqual(ids(table.range("by_n", { lower: 44, upper: 44 })), [1]);
    witness.check();
  });

  test("insert, update and set results, and the rows of every change, never change", async () => {
    const { db, table } = await items();
    const witness = new RowWitness();
    const commits: unknown[] = [];
    db.addCommitListener((commit) => commits.push(witness.keep(`commit ${commit.seq}`, commit)));
    witness.keep("insert", table.insert({ id: 5, grp: "c", n: 50, tag: null }));
    witness.keep("update", table.update(5, { n: 51 }));
    witness.keep("set", table.set({ id: 5, grp: "d", n: 52, tag: "t52" }));
    db.transact(() => {
      witness.keep("update in tx", table.update(5, { n: 53 }));
      witness.keep("update again", table.update(5, { n: 54 }));
      witness.keep("set in tx", table.set({ id: 5, grp: "d", n: 55, tag: null }));
      table.del(5);
      witness.keep("insert again", table.insert({ id: 5, grp: "e", n: 56, tag: "t52" }));
    });
    assert.throws(() =>
      db.transact(() => {
        table.update(5, { n: 57 });
        table.del(5);
        throw new Error("back");
      }),
    );
    table.update(5, { n: 58 });
    assert.equal(commits.length, 5);
    const last = db.lastCommit!.changes[0]!;
    assert.deepEqual(last.before, { id: 5, grp: "e", n: 56, tag: "t52" });
    witness.check();
  });

  test("the second update of a row in a transaction starts from the first's after", async () => {
    const { db, table } = await items();
    db.transact(() => {
      table.update(1, { n: 70 });
      table.update(1, { tag: "t70" });
    });
    const [first, second] = db.lastCommit!.changes;
    assert.deepEqual(second!.before, first!.after);
    assert.deepEqual(second!.after, { id: 1, grp: "a", n: 70, tag: "t70" });
  });

  test("a refused unique key on update or set leaves the row and its indexes", async () => {
    const { db, table } = await items();
    const witness = new RowWitness();
    const state = readAll(table, witness, "before");
    assert.throws(() => table.update(2, { tag: "t1" }), { code: "CONSTRAINT_VIOLATION" });
    assert.throws(() => table.update(2, { grp: "b", n: 30 }), { code: "CONSTRAINT_VIOLATION" });
    assert.throws(() => table.set({ id: 2, grp: "a", n: 20, tag: "t3" }), {
      code: "CONSTRAINT_VIOLATION",
    });
    db.transact(() => {
      assert.throws(() => table.update(1, { tag: "t3" }), { code: "CONSTRAINT_VIOLATION" });
      table.update(1, { tag: "t4" });
    });
    assert.deepEqual(ids(table.lookup("by_tag", "t4")), [1]);
    table.update(1, { tag: "t1" });
    assert.deepEqual(readAll(table, witness, "after"), state);
    witness.check();
  });

  test("RQL results, view rows and subscription payloads keep their values", async () => {
    const { db, table } = await items();
    const witness = new RowWitness();
    const view = db.createView("app::big", { query: "from app::items filter { n >= 20 }" });
    const counts = db.createView("app::counts", {
      query: "from app::items aggregate { c: math::count(id), s: math::sum(n) } by { grp }",
    });
    const subscription = db.subscribe({ table: "app::items" });
    const messages = subscription[Symbol.asyncIterator]();
    witness.keep("snapshot message", (await messages.next()).value);
    witness.keep("rql", db.execute("from app::items filter { grp == 'a' }").frames);
    witness.keep("view rows", view.scan());
    witness.keep("view get", view.get(2));
    witness.keep("counts", counts.scan());
    await db.command("update app::items { n: n + 5 } filter { grp == 'a' }");
    witness.keep("delta", (await messages.next()).value);
    witness.keep("rql after", (await db.query("from app::items sort { n: desc }")).frames);
    assert.throws(() =>
      db.transact(() => {
        table.update(3, { n: 1 });
        db.execute("delete app::items filter { id == 2 }");
        witness.keep("view inside", view.scan());
        throw new Error("back");
      }),
    );
    table.update(2, { n: 1 });
    witness.keep("delta 2", (await messages.next()).value);
    assert.deepEqual(ids(view.scan()).sort(), [3]);
    assert.deepEqual(
      counts.scan().map((row) => [row.grp, row.c, row.s]),
      [
        ["a", 2, 16],
        ["b", 1, 30],
      ],
    );
    subscription.close();
    witness.check();
  });
});

describe("many rows read among writes", () => {
  // Written for a ring of 256 cached read snapshots per table (3aeda98, since removed: every
  // read now copies); it still pins reads of many rows among updates, deletes, re-inserts
  // and rollbacks.
  test("reads of more than 256 rows, with writes and rollbacks between, stay exact", async () => {
    const db = await open();
    db.createNamespace("app");
    const table = db.createTable<Item>("app::many", {
      columns: itemColumns,
      primaryKey: "id",
      indexes: [{ name: "by_n", columns: ["n"], ordered: true, unique: true }],
    });
    const rowCount = 700;
    const expected = new Map<number, Item>();
    db.transact(() => {
      for (let id = 0; id < rowCount; id++) {
        expected.set(id, table.insert({ id, grp: "g", n: id, tag: null }));
      }
    });
    const witness = new RowWitness();
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < rowCount; i++) {
        const id = (i * 13 + round) % rowCount;
        witness.keep(`round ${round} get ${id}`, table.get(id));
        if (i % 7 === round) {
          const n = rowCount * (round + 1) + id;
          expected.set(id, table.update(id, { n, tag: `r${round}` }));
          witness.keep(`round ${round} after ${id}`, table.get(id));
        }
        if (i % 50 === 0) {
          assert.throws(() =>
            db.transact(() => {
              table.update(id, { n: -1 });
              table.del((id + 1) % rowCount);
              for (let j = 0; j < 300; j++) table.get(j);
              throw new Error("back");
            }),
          );
        }
        if (i % 97 === 0) {
          table.del(id);
          witness.keep(`round ${round} again ${id}`, table.insert(expected.get(id)!));
        }
      }
      assert.deepEqual(table.scan(), [...expected.values()]);
      const byN = [...expected.values()].sort((a, b) => a.n - b.n);
      assert.deepEqual(table.range("by_n"), byN);
    }
    witness.check();
  });
});

describe("writes undone at once", () => {
  test("a write a view refuses, caught, leaves the row, its snapshot and indexes", async () => {
    const { db, table } = await items();
    db.createView("app::ratios", { query: "from app::items map { id, r: 100 / n }" });
    const witness = new RowWitness();
    const state = readAll(table, witness, "before");
    const read = witness.keep("read", table.get(1));
    db.transact(() => {
      assert.throws(() => table.update(1, { n: 0, tag: "t0", grp: "c" }), /view app::ratios/);
      assert.throws(() => table.set({ id: 2, grp: "b", n: 0, tag: "t0" }), /view app::ratios/);
      assert.throws(() => table.insert({ id: 4, grp: "b", n: 0, tag: "t0" }), /view app::ratios/);
      assert.deepEqual(table.get(1), read);
      table.update(3, { n: 31 });
    });
    const changes = db.lastCommit!.changes.filter((change) => change.object === "app::items");
    assert.deepEqual(
      changes.map((change) => [change.kind, change.key]),
      [["update", 3]],
    );
    table.update(3, { n: 30 });
    assert.deepEqual(readAll(table, witness, "after"), state);
    assert.deepEqual(db.view("app::ratios").get(1), { id: 1, r: 10 });
    witness.check();
  });

  test("a write to a read-only database (db.at) is refused and reverted", async (t) => {
    const db = await open({ path: tempPath(t) });
    db.createNamespace("app");
    const table = db.createTable<Item>("app::items", {
      columns: itemColumns,
      primaryKey: "id",
      indexes: [{ name: "by_n", columns: ["n"], ordered: true, unique: true }],
    });
    table.insert({ id: 1, grp: "a", n: 1, tag: null });
    table.update(1, { n: 2 });
    const past = await db.at(db.seq - 1);
    const items = past.table<Item>("app::items");
    const witness = new RowWitness();
    const read = witness.keep("past read", items.get(1));
    assert.throws(() => items.update(1, { n: 3 }), { code: "READ_ONLY" });
    assert.throws(() => items.del(1), { code: "READ_ONLY" });
    assert.throws(() => items.set({ id: 1, grp: "b", n: 5, tag: "x" }), { code: "READ_ONLY" });
    assert.deepEqual(items.get(1), read);
    assert.deepEqual(items.scan(), [{ id: 1, grp: "a", n: 1, tag: null }]);
    assert.deepEqual(ids(items.range("by_n", { lower: 1, upper: 1 })), [1]);
    assert.deepEqual(ids(items.range("by_n", { lower: 3 })), []);
    witness.check();
    await past.close();
    await db.close();
  });
});

describe("values inside rows", () => {
  interface Doc {
    id: number;
    doc: unknown;
    bin: Uint8Array;
    amount: Decimal;
    big: bigint;
    any: unknown;
  }

  async function docs(): Promise<{ db: Database; table: TableHandle<Doc> }> {
    const db = await open();
    db.createNamespace("app");
    const table = db.createTable<Doc>("app::docs", {
      columns: {
        id: "int4",
        doc: "json",
        bin: "blob",
        amount: "decimal",
        big: "int16",
        any: "any",
      },
      primaryKey: "id",
    });
    return { db, table };
  }

  test("mutating what was passed to insert, update or set changes no row or change", async () => {
    const { db, table } = await docs();
    const witness = new RowWitness();
    const input = {
      id: 1,
      doc: { a: 1, list: [1, { b: 2 }] },
      bin: new Uint8Array([1, 2, 3]),
      amount: "1.50",
      big: 2n ** 100n,
      any: { x: [1] },
    };
    witness.keep("insert", table.insert(input as unknown as Doc));
    const change = witness.keep("insert change", db.lastCommit!.changes[0]);
    input.doc.a = 9;
    (input.doc.list[1] as { b: number }).b = 9;
    input.bin[0] = 9;
    input.any.x.push(9);
    const patch = { doc: { c: [1] }, any: { y: 1 }, bin: new Uint8Array([4]) };
    witness.keep("update", table.update(1, patch as unknown as Partial<Doc>));
    patch.doc.c.push(2);
    patch.any.y = 2;
    patch.bin[0] = 5;
    const whole = { ...input, doc: { d: 1 }, any: [1], bin: new Uint8Array([4]) };
    witness.keep("set", table.set(whole as unknown as Doc));
    whole.doc.d = 2;
    whole.any.push(2);
    whole.bin[0] = 6;
    const row = table.get(1)!;
    assert.deepEqual(row.doc, { d: 1 });
    assert.deepEqual(row.any, [1]);
    assert.deepEqual([...row.bin], [4]);
    assert.equal(row.big, 2n ** 100n);
    assert.ok(row.amount instanceof Decimal);
    assert.equal(row.amount.toString(), "1.5");
    assert.deepEqual((change!.after as Doc).doc, { a: 1, list: [1, { b: 2 }] });
    witness.check();
  });

  test("decimal, bigint, blob and json values survive updates of other columns", async () => {
    const { table } = await docs();
    const witness = new RowWitness();
    table.insert({
      id: 1,
      doc: { k: "v" },
      bin: new Uint8Array([7]),
      amount: Decimal.of(123n, 2),
      big: -(2n ** 90n),
      any: 5n,
    });
    const read = witness.keep("read", table.get(1));
    for (let i = 0; i < 3; i++) table.update(1, { doc: { k: i } });
    table.update(1, { amount: Decimal.parse("0.01"), big: 1n });
    const now = table.get(1)!;
    assert.deepEqual(now.bin, new Uint8Array([7]));
    assert.equal(now.any, 5n);
    assert.equal(now.amount.toString(), "0.01");
    assert.deepEqual(now.doc, { k: 2 });
    assert.equal(read!.amount.toString(), "1.23");
    witness.check();
  });
});

describe("tables of every shape", () => {
  test("composite keys: snapshots, rollback and indexes", async () => {
    const db = await open();
    db.createNamespace("app");
    const table = db.createTable("app::pairs", {
      columns: { a: "utf8", b: "int4", v: "Option(int4)" },
      primaryKey: ["a", "b"],
      indexes: [{ name: "by_v", columns: ["v"], ordered: true, unique: true }],
    });
    table.insertMany([
      { a: "x", b: 1, v: 1 },
      { a: "x", b: 2, v: null },
      { a: "y", b: 1, v: 3 },
    ]);
    const witness = new RowWitness();
    const before = witness.keep("scan", table.scan());
    const got = witness.keep("get", table.get(["x", 2]));
    assert.throws(() =>
      db.transact(() => {
        table.update(["x", 2], { v: 2 });
        table.del(["x", 1]);
        table.update(["y", 1], { v: 1 });
        witness.keep("inside", table.range("by_v"));
        throw new Error("back");
      }),
    );
    assert.deepEqual(table.scan(), before);
    assert.deepEqual(table.get(["x", 2]), got);
    assert.deepEqual(Object.keys(table.get(["x", 2])!), ["a", "b", "v"], "columns in order");
    assert.deepEqual(
      table.range("by_v").map((row) => row.v),
      [null, 1, 3],
    );
    assert.throws(() => table.update(["x", 2], { a: "z" }), { code: "INVALID_ARGUMENT" });
    witness.check();
  });

  test("auto_increment and optional columns through updates and rollback", async () => {
    const db = await open();
    db.createNamespace("app");
    const table = db.createTable("app::auto", {
      columns: { id: { type: "int8", autoIncrement: true }, note: "Option(utf8)" },
      primaryKey: "id",
      indexes: [{ name: "by_note", columns: ["note"], unique: true }],
    });
    const witness = new RowWitness();
    witness.keep("first", table.insert({}));
    witness.keep("second", table.insert({ note: "n" }));
    assert.throws(() =>
      db.transact(() => {
        witness.keep("third", table.insert({ note: "m" }));
        table.update(1, { note: "o" });
        table.update(2, { note: null });
        throw new Error("back");
      }),
    );
    assert.deepEqual(table.insert({}), { id: 3, note: null });
    assert.deepEqual(table.scan(), [
      { id: 1, note: null },
      { id: 2, note: "n" },
      { id: 3, note: null },
    ]);
    assert.deepEqual(table.lookup("by_note", "n"), [{ id: 2, note: "n" }]);
    assert.deepEqual(table.lookup("by_note", "o"), []);
    witness.check();
  });

  test("a key-less table: RQL updates and deletes still find the rows scanned", async () => {
    const db = await open();
    db.createNamespace("app");
    const table = db.createTable("app::bag", { columns: { v: "int4", w: "Option(utf8)" } });
    table.insertMany([{ v: 1 }, { v: 2 }, { v: 1 }]);
    const witness = new RowWitness();
    witness.keep("scan", table.scan());
    await db.command("update app::bag { w: 'one' } filter { v == 1 }");
    assert.deepEqual(table.scan(), [
      { v: 1, w: "one" },
      { v: 2, w: null },
      { v: 1, w: "one" },
    ]);
    await db.command("delete app::bag filter { v == 1 }");
    assert.deepEqual(table.scan(), [{ v: 2, w: null }]);
    witness.check();
  });
});

describe("log, recovery and time travel", () => {
  /** An engine with `app::t` (id, city; a unique index by city). */
  const tableEngine = (): ReturnType<typeof cityTableEngine> => cityTableEngine({ unique: true });

  test("a refused log append rolls the in-place writes back, indexes included", () => {
    const { engine, table } = tableEngine();
    engine.transact((tx) => table.insert(tx, { id: 1, city: "x" }));
    const witness = new RowWitness();
    const read = witness.keep("read", table.get(1));
    engine.setCommitPreparer(() => {
      throw new Error("disk full");
    });
    assert.throws(
      () =>
        engine.transact((tx) => {
          table.update(tx, 1, { city: "y" });
          witness.keep("inside", table.get(1));
          table.insert(tx, { id: 2, city: "x" });
        }),
      /disk full/,
    );
    engine.setCommitPreparer(undefined);
    assert.deepEqual(table.get(1), read);
    assert.deepEqual(Object.keys(table.get(1)!), ["id", "city"], "columns in order");
    assert.equal(table.get(2), undefined);
    assert.deepEqual([...table.lookup("by_city", "x")], [{ id: 1, city: "x" }]);
    assert.deepEqual([...table.lookup("by_city", "y")], []);
    engine.transact((tx) => table.insert(tx, { id: 2, city: "y" }));
    witness.check();
  });

  test("a snapshot written while rows change in place holds the rows as of its seq", async (t) => {
    const path = tempPath(t);
    const db = await open({ path, snapshotLogBytes: 0, snapshotsKept: Infinity });
    db.createNamespace("app");
    const table = db.createTable<Item>("app::items", {
      columns: itemColumns,
      primaryKey: "id",
      indexes: [{ name: "by_n", columns: ["n"], ordered: true }],
    });
    const rowCount = 3_000; // several of the snapshot writer's chunks, so commits run between
    db.transact(() => {
      for (let id = 0; id < rowCount; id++) table.insert({ id, grp: "g", n: id, tag: null });
    });
    const expected = table.scan();
    const seq = db.seq;
    const writing = db.snapshot();
    let settled = false;
    void writing.then(() => (settled = true));
    for (let round = 0; !settled; round++) {
      const id = (round * 997) % rowCount;
      table.update(id, { n: -round, tag: `r${round}` });
      if (round % 3 === 0) table.del((id + 1) % rowCount);
      if (round % 5 === 0) table.insert({ id: rowCount + round, grp: "h", n: 0, tag: null });
      assert.throws(() =>
        db.transact(() => {
          table.update((id + 2) % rowCount, { n: 1e6 });
          throw new Error("back");
        }),
      );
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal((await writing).seq, seq);
    assert.ok(db.seq > seq + 3, "commits ran while the snapshot was written");
    const past = await db.at(seq);
    const items = past.table<Item>("app::items");
    assert.deepEqual(items.scan(), expected);
    assert.deepEqual(ids(items.range("by_n", { upper: 2 })), [0, 1, 2]);
    await past.close();
    await db.close();
  });

  test("recovery from the log and from a snapshot plus the log gives the same rows", async (t) => {
    const path = tempPath(t);
    const db = await open({ path, snapshotLogBytes: 0 });
    db.createNamespace("app");
    const table = db.createTable<Item>("app::items", {
      columns: itemColumns,
      primaryKey: "id",
      indexes: [
        { name: "by_tag", columns: ["tag"], unique: true },
        { name: "by_n", columns: ["n"], ordered: true },
      ],
    });
    const witness = new RowWitness();
    for (let id = 0; id < 20; id++) table.insert({ id, grp: `g${id % 3}`, n: id, tag: `t${id}` });
    const history: unknown[] = [];
    for (let round = 0; round < 30; round++) {
      const id = (round * 7) % 20;
      witness.keep(`read ${round}`, table.get(id));
      table.update(id, { n: round * 100, tag: round % 4 === 0 ? null : `r${round}` });
      assert.throws(() =>
        db.transact(() => {
          table.update(id, { n: -1 });
          table.del((id + 1) % 20);
          throw new Error("back");
        }),
      );
      if (round === 12) await db.snapshot();
      history.push(table.scan());
    }
    const expected = {
      rows: table.scan(),
      n: table.range("by_n"),
      tag: table.lookup("by_tag", "r5"),
    };
    const versions = witness.keep("history", await db.history("app::items", 7));
    assert.ok(versions.length >= 2);
    const past = await db.at(db.seq - 10);
    witness.keep("past rows", past.table("app::items").scan());
    assert.deepEqual(past.table("app::items").scan(), history[history.length - 11]);
    await past.close();
    await db.close();
    const reopened = await open({ path });
    const again = reopened.table<Item>("app::items");
    const actual = {
      rows: again.scan(),
      n: again.range("by_n"),
      tag: again.lookup("by_tag", "r5"),
    };
    assert.deepEqual(actual, expected);
    again.update(7, { n: 1 });
    witness.check();
    await reopened.close();
  });
});
