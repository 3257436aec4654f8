// Goal: a patch says which columns it changed (one bit per column position, compared by
// identity), so views can skip updates of columns they do not read; a schema wider than
// changedColumnsTrackedMax says "unknown", and columnBits names read columns the same way.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Schema } from "../../src/primitives/index.ts";
import { changedColumnsUnknown } from "../../src/engine/index.ts";
import { changedColumnsTrackedMax } from "../../src/lib/limits.ts";

const narrow = new Schema("t::narrow", [
  { name: "id", type: "int8" },
  { name: "a", type: "utf8" },
  { name: "b", type: "float8" },
]);

test("a patch sets the bit of each column whose value it changed, and no other", () => {
  const row = narrow.normalizeRow({ id: 1, a: "x", b: 1.5 });
  const same = narrow.patchRow(row, { a: "x" });
  assert.deepEqual(same, row);
  assert.equal(narrow.patchChangedColumns, 0);
  narrow.patchRow(row, { b: 2, a: "x" });
  assert.equal(narrow.patchChangedColumns, 0b100);
  narrow.patchRow(row, { id: 1, a: "y", b: 2 });
  assert.equal(narrow.patchChangedColumns, 0b110);
  assert.equal(narrow.columnBits(["a", "b"]), 0b110);
  assert.equal(narrow.columnBits([]), 0);
  assert.equal(narrow.columnBits(["a", "nope"]), undefined);
});

test("a schema wider than the tracked columns says unknown", () => {
  const width = changedColumnsTrackedMax + 1;
  const wide = new Schema(
    "t::wide",
    Array.from({ length: width }, (_, i) => ({ name: `c${i}`, type: "int8" })),
  );
  const row = wide.normalizeRow(
    Object.fromEntries(Array.from({ length: width }, (_, i) => [`c${i}`, i])),
  );
  wide.patchRow(row, { c0: 5 });
  assert.equal(wide.patchChangedColumns, changedColumnsUnknown);
  assert.equal(wide.columnBits(["c0"]), undefined);
});

test("a patch that fails leaves nothing behind for the next one", () => {
  const row = narrow.normalizeRow({ id: 1, a: "x", b: 1.5 });
  // The known column is read before the unknown one fails, and before the bad value fails.
  assert.throws(() => narrow.patchRow(row, { a: "lost", nope: 1 }), /no column "nope"/);
  assert.throws(() => narrow.patchRow(row, { a: "lost", b: "not a number" }));
  assert.deepEqual(narrow.patchRow(row, {}), row);
  assert.equal(narrow.patchChangedColumns, 0);
  assert.deepEqual(narrow.patchRow(row, { b: 3 }), { id: 1, a: "x", b: 3 });
});

test("a row whose keys are not the schema's columns in order is patched by name", () => {
  const expected = { id: 1, a: "y", b: 1.5 };
  for (const row of [
    { b: 1.5, a: "x", id: 1 }, // another order
    { id: 1, a: "x" }, // a column missing (reads as none)
    { id: 1, a: "x", b: 1.5, extra: true }, // a key the schema lacks
  ]) {
    const after = narrow.patchRow(row, { a: "y" });
    assert.deepEqual(Object.keys(after), ["id", "a", "b"]);
    assert.deepEqual(after, { ...expected, b: row.b });
    assert.equal(narrow.patchChangedColumns, 0b10);
  }
});
