/**
 * Goal: a row made by a row constructor is a plain object to every caller: its prototype is
 * Object.prototype, it equals the same literal under deepStrictEqual, and JSON, spread and key
 * order see exactly the columns assigned, whatever their number.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { rowConstructor } from "../../src/lib/row-object.ts";

test("rows from a row constructor are plain objects of exactly their columns", () => {
  for (const width of [0, 1, 2, 4, 10, 11, 40]) {
    const RowObject = rowConstructor();
    const literal: Record<string, unknown> = {};
    let row: Record<string, unknown> = {};
    // Enough rows to end V8's slack tracking, so the last one has the final shape.
    for (let n = 0; n < 20; n++) {
      row = new RowObject();
      for (let i = 0; i < width; i++) row[`c${i}`] = n * width + i;
    }
    for (let i = 0; i < width; i++) literal[`c${i}`] = 19 * width + i;
    assert.equal(Object.getPrototypeOf(row), Object.prototype);
    assert.deepStrictEqual(row, literal, `width ${width}`);
    assert.deepStrictEqual(Object.keys(row), Object.keys(literal));
    assert.equal(JSON.stringify(row), JSON.stringify(literal));
    assert.deepStrictEqual({ ...row }, literal);
    assert.ok(row instanceof Object);
  }
});

test("each constructor is its own; objects of two constructors compare equal", () => {
  const A = rowConstructor();
  const B = rowConstructor();
  assert.notEqual(A, B);
  const a = new A();
  const b = new B();
  a.x = 1;
  b.x = 1;
  assert.deepStrictEqual(a, b);
});
