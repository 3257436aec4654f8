// Goal: a ring buffer keeps the newest `capacity` rows (per partition when partitioned). A push
// into a full buffer evicts the oldest row inside the pushing transaction, so its commit shows a
// `delete` of the evicted row and then the `insert`; rollback of a push that evicted restores
// the evicted row where it was. Rows are typed like table rows, and bad definitions, rows and
// partitions are refused with errors naming the object and column.
// Method: black box through the embedded API: push rows, read scan/latest and the commit's
// changes, and roll transactions back by throwing.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { open } from "../../src/index.ts";
import type { Change, Database, RingBufferHandle } from "../../src/index.ts";
import { throwsDb } from "../support/assertions.ts";

function assertChange(change: Change | undefined, expected: Change): void {
  assert.ok(change !== undefined, "a change was recorded");
  assert.deepEqual(Object.keys(change).sort(), ["after", "before", "key", "kind", "object"]);
  assert.deepEqual({ ...change }, { ...expected });
}

interface Reading {
  sensor: string;
  v: number;
}

async function buffer(
  capacity: number,
  partitioned = false,
): Promise<{ db: Database; rb: RingBufferHandle<Reading> }> {
  const db = await open();
  const rb = db.createRingBuffer<Reading>("recent", {
    columns: { sensor: "utf8", v: "int4" },
    capacity,
    ...(partitioned ? { partitionBy: "sensor" } : {}),
  });
  return { db, rb };
}

const values = (rows: readonly Reading[]): number[] => rows.map((row) => row.v);

describe("capacity and eviction", () => {
  test("below capacity every row is kept, oldest first", async () => {
    const { rb } = await buffer(3);
    rb.push({ sensor: "a", v: 1 });
    rb.push({ sensor: "a", v: 2 });
    assert.equal(rb.size, 2);
    assert.equal(rb.capacity, 3);
    assert.deepEqual(values(rb.scan()), [1, 2]);
  });

  test("a push into a full buffer evicts the oldest row in the same commit", async () => {
    const { db, rb } = await buffer(2);
    rb.push({ sensor: "a", v: 1 });
    rb.push({ sensor: "a", v: 2 });
    const seq = db.seq;
    const pushed = rb.push({ sensor: "a", v: 3 });
    assert.equal(db.seq, seq + 1, "eviction and insert are one commit");
    assert.deepEqual(values(rb.scan()), [2, 3]);
    assert.equal(rb.size, 2);
    const changes = db.lastCommit?.changes ?? [];
    assert.equal(changes.length, 2);
    assertChange(changes[0], {
      object: "default::recent",
      kind: "delete",
      key: 1,
      before: { sensor: "a", v: 1 },
      after: undefined,
    });
    assertChange(changes[1], {
      object: "default::recent",
      kind: "insert",
      key: 3,
      before: undefined,
      after: pushed,
    });
  });

  test("pushing many rows in one transaction may evict rows pushed by it", async () => {
    const { db, rb } = await buffer(2);
    rb.push({ sensor: "a", v: 0 });
    db.transact(() => {
      for (let v = 1; v <= 4; v++) rb.push({ sensor: "a", v });
    });
    assert.deepEqual(values(rb.scan()), [3, 4]);
    assert.deepEqual(
      db.lastCommit?.changes.map((change) => `${change.kind}${String(change.key)}`),
      ["insert2", "delete1", "insert3", "delete2", "insert4", "delete3", "insert5"],
    );
  });

  test("capacity 1 keeps only the newest row", async () => {
    const { rb } = await buffer(1);
    for (let v = 1; v <= 5; v++) rb.push({ sensor: "a", v });
    assert.deepEqual(values(rb.scan()), [5]);
  });

  test("rollback of a push that evicted restores the evicted row in its place", async () => {
    const { db, rb } = await buffer(2);
    rb.push({ sensor: "a", v: 1 });
    rb.push({ sensor: "a", v: 2 });
    const seq = db.seq;
    assert.throws(
      () =>
        db.transact(() => {
          rb.push({ sensor: "a", v: 3 });
          rb.push({ sensor: "a", v: 4 });
          rb.push({ sensor: "a", v: 5 });
          assert.deepEqual(values(rb.scan()), [4, 5], "the transaction sees its evictions");
          throw new Error("undo");
        }),
      /undo/,
    );
    assert.equal(db.seq, seq);
    assert.deepEqual(values(rb.scan()), [1, 2]);
    assert.deepEqual(values(rb.latest(1)), [2]);
    rb.push({ sensor: "a", v: 6 });
    assert.deepEqual(values(rb.scan()), [2, 6], "eviction order survives the rollback");
    assert.equal(db.lastCommit?.changes[1]?.key, 3, "positions rolled back too");
  });

  test("a push whose view fails, caught in the transaction, evicts nothing", async () => {
    const { db, rb } = await buffer(2);
    db.createView("tenths", { query: "from recent map { tenth: 10 / v }" });
    rb.push({ sensor: "a", v: 1 });
    rb.push({ sensor: "a", v: 2 });
    db.transact(() => {
      throwsDb(() => rb.push({ sensor: "a", v: 0 }), { code: "DIVISION_BY_ZERO" });
      assert.deepEqual(values(rb.scan()), [1, 2], "the failed push left the buffer as it was");
      rb.push({ sensor: "a", v: 5 });
    });
    assert.deepEqual(values(rb.scan()), [2, 5], "only the push that succeeded evicted a row");
    const changes = db.lastCommit!.changes.filter((change) => change.object === "default::recent");
    assert.deepEqual(
      changes.map((change) => [change.kind, (change.before ?? change.after) as Reading]),
      [
        ["delete", { sensor: "a", v: 1 }],
        ["insert", { sensor: "a", v: 5 }],
      ],
    );
  });
});

describe("partitions", () => {
  test("capacity applies per partition", async () => {
    const { db, rb } = await buffer(2, true);
    rb.push({ sensor: "a", v: 1 });
    rb.push({ sensor: "b", v: 10 });
    rb.push({ sensor: "a", v: 2 });
    rb.push({ sensor: "b", v: 20 });
    assert.equal(rb.size, 4);
    rb.push({ sensor: "a", v: 3 });
    assert.deepEqual(
      db.lastCommit?.changes.map((change) => change.kind),
      ["delete", "insert"],
    );
    assert.deepEqual(values(rb.scan("a")), [2, 3]);
    assert.deepEqual(values(rb.scan("b")), [10, 20]);
    assert.deepEqual(values(rb.scan()), [10, 2, 20, 3], "all partitions in push order");
    assert.deepEqual(rb.scan("c"), []);
  });

  test("latest gives the newest rows first, of one partition or of all", async () => {
    const { rb } = await buffer(3, true);
    for (const [sensor, v] of [
      ["a", 1],
      ["b", 2],
      ["a", 3],
      ["b", 4],
    ] as const) {
      rb.push({ sensor, v });
    }
    assert.deepEqual(values(rb.latest(1, "a")), [3]);
    assert.deepEqual(values(rb.latest(5, "a")), [3, 1]);
    assert.deepEqual(values(rb.latest(3)), [4, 3, 2]);
    assert.deepEqual(rb.latest(0), []);
    // NaN gave every row and 1.5 two: the loop compared whatever it was given.
    for (const count of [Number.NaN, 1.5, -1]) {
      throwsDb(() => rb.latest(count), {
        code: "INVALID_ARGUMENT",
        message: /count must be a whole number >= 0/,
      });
    }
  });

  test("rollback restores a partition that an eviction emptied", async () => {
    const { db, rb } = await buffer(1, true);
    rb.push({ sensor: "a", v: 1 });
    assert.throws(() =>
      db.transact(() => {
        rb.push({ sensor: "a", v: 2 });
        throw new Error("undo");
      }),
    );
    assert.deepEqual(values(rb.scan("a")), [1]);
    rb.push({ sensor: "a", v: 3 });
    assert.deepEqual(values(rb.scan("a")), [3]);
  });

  test("a partition value of the wrong type is refused by column", async () => {
    const { rb } = await buffer(2, true);
    throwsDb(() => rb.scan(5), {
      code: "TYPE_MISMATCH",
      object: "default::recent",
      column: "sensor",
      value: "5",
    });
  });

  test("a partition given to a buffer without partitions is INVALID_ARGUMENT", async () => {
    // It was ignored: scan("a") and latest(1, "a") answered with every row, as if unasked.
    const { rb } = await buffer(2);
    rb.push({ sensor: "a", v: 1 });
    rb.push({ sensor: "b", v: 2 });
    for (const read of [() => rb.scan("a"), () => rb.latest(1, "a")]) {
      throwsDb(read, {
        code: "INVALID_ARGUMENT",
        object: "default::recent",
        message: /default::recent has no partitions; got partition "a"/,
      });
    }
    assert.equal(rb.scan().length, 2);
    assert.equal(rb.latest(1).length, 1);
  });

  test("multi-column partitions take a list", async () => {
    const db = await open();
    const rb = db.createRingBuffer("grid", {
      columns: { x: "int4", y: "int4", v: "int4" },
      capacity: 1,
      partitionBy: ["x", "y"],
    });
    rb.push({ x: 1, y: 1, v: 1 });
    rb.push({ x: 1, y: 2, v: 2 });
    rb.push({ x: 1, y: 1, v: 3 });
    assert.deepEqual(rb.scan([1, 1]), [{ x: 1, y: 1, v: 3 }]);
    assert.deepEqual(rb.scan([1, "2"]), [{ x: 1, y: 2, v: 2 }]);
    throwsDb(() => rb.scan(1), {
      code: "INVALID_ARGUMENT",
      object: "default::grid",
      message: /partition is \(x, y\)/,
    });
  });
});

describe("refusals", () => {
  test("capacity must be an integer in [1, 100000000]", async () => {
    const db = await open();
    const columns = { v: "int4" };
    for (const capacity of [0, -1, 1.5, 100_000_001, Number.NaN]) {
      throwsDb(() => db.createRingBuffer("rb", { columns, capacity }), {
        code: "INVALID_SCHEMA",
        object: "default::rb",
        value: String(capacity),
        message: /capacity must be an integer in \[1, 100000000\]/,
      });
    }
    assert.equal(db.createRingBuffer("rb", { columns, capacity: 100_000_000 }).capacity, 1e8);
  });

  test("partitionBy must name a column", async () => {
    const db = await open();
    throwsDb(
      () => db.createRingBuffer("rb", { columns: { v: "int4" }, capacity: 2, partitionBy: "zone" }),
      { code: "UNKNOWN_COLUMN", object: "default::rb", column: "zone" },
    );
  });

  test("rows are typed: wrong types, missing and unknown columns change nothing", async () => {
    const { db, rb } = await buffer(1);
    rb.push({ sensor: "a", v: 1 });
    const seq = db.seq;
    throwsDb(() => rb.push({ sensor: "a", v: 2 ** 31 }), {
      code: "OUT_OF_RANGE",
      object: "default::recent",
      column: "v",
      value: "2147483648",
    });
    throwsDb(() => rb.push({ sensor: 1, v: 1 } as never), {
      code: "TYPE_MISMATCH",
      column: "sensor",
    });
    throwsDb(() => rb.push({ v: 1 } as never), { code: "MISSING_COLUMN", column: "sensor" });
    throwsDb(() => rb.push({ sensor: "a", v: 1, w: 2 } as never), {
      code: "UNKNOWN_COLUMN",
      column: "w",
    });
    assert.equal(db.seq, seq);
    assert.deepEqual(values(rb.scan()), [1], "a refused push evicted nothing");
  });

  test("unknown ring buffers and other kinds are refused by name", async () => {
    const db = await open();
    db.createTable("t", { columns: { a: "int4" } });
    throwsDb(() => db.ringBuffer("nope"), { code: "UNKNOWN_OBJECT", object: "nope" });
    throwsDb(() => db.ringBuffer("t"), {
      code: "WRONG_OBJECT_KIND",
      object: "default::t",
      message: /is a table, not a ring buffer/,
    });
  });

  test("a handle fails once its buffer is dropped", async () => {
    const { db, rb } = await buffer(2);
    db.drop("recent");
    throwsDb(() => rb.push({ sensor: "a", v: 1 }), {
      code: "UNKNOWN_OBJECT",
      object: "recent",
    });
  });
});
