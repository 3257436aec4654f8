// Goal: a table keeps a whole-number key in its dense array or in its hash map, never both,
// and moves a hashed row into the array when the array grows over its key; a snapshot read
// in chunks while that happens still reads every row once, as of when it started.
// Method: drive `Table` directly on a bare engine (test/support/table-engine.ts): key 100 is
// inserted past the array's end (hashed), then keys 1.. grow the array over it, between two
// chunks of a snapshot; the rows, the size and the snapshot's entries are checked.
import { test } from "node:test";
import assert from "node:assert/strict";
import { tableDenseKeysSkippedMax } from "../../src/lib/limits.ts";
import { cityTableEngine } from "../support/table-engine.ts";

const farKey = 2 * tableDenseKeysSkippedMax;

test("a hashed key the dense array grows over is moved, read and snapshotted once", () => {
  const { engine, table } = cityTableEngine({ unique: false });
  engine.transact((tx) => {
    table.insert(tx, { id: 0, city: "rome" });
    table.insert(tx, { id: farKey, city: "oslo" }); // past the array's end: hashed
  });
  const snapshot = table.snapshot();
  const first = snapshot.readChunk(1);
  assert.deepEqual(
    first.map(([mapKey]) => mapKey),
    [0],
  );
  // Keys 1 .. farKey - 1 grow the array over farKey while the snapshot is half read.
  engine.transact((tx) => {
    for (let id = 1; id < farKey; id++) table.insert(tx, { id, city: "bern" });
  });
  const rest = snapshot.readChunk(10 * farKey);
  const read = [...first, ...rest].map(([mapKey]) => mapKey);
  assert.ok(read.includes(farKey), "the moved row is in the snapshot");
  assert.equal(new Set(read).size, read.length, "no row read twice");
  assert.equal(table.size, farKey + 1);
  assert.deepEqual(table.get(farKey), { id: farKey, city: "oslo" });
  engine.transact((tx) => table.del(tx, farKey));
  assert.equal(table.get(farKey), undefined);
  assert.equal(table.size, farKey);
  assert.deepEqual(
    [...table.scan()].map((row) => row.id),
    Array.from({ length: farKey }, (_, id) => id),
  );
});
