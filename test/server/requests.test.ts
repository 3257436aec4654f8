/**
 * Goal: the nesting bound on a request's params and args (checkRequestDepth) refuses exactly
 * the values whose lists and records nest past jsonDepthMax inside the params' own record or
 * list, whatever their shape, and never overflows the stack itself.
 * Method: property test over random nested values (fast-check), against a recursive model.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { DbError } from "../../src/lib/errors.ts";
import { jsonDepthMax } from "../../src/lib/limits.ts";
import { checkRequestDepth } from "../../src/server/requests.ts";

/** The model: the deepest level holding a list or record (0 for the params themselves). */
function containerDepth(value: unknown): number {
  if (value === null || typeof value !== "object") return -1;
  let deepest = 0;
  for (const child of Object.values(value)) deepest = Math.max(deepest, 1 + containerDepth(child));
  return deepest;
}

/** A value nested `depth` lists deep, with scalars and records along the way. */
const nestedValue = (depth: number) =>
  fc
    .array(fc.oneof(fc.integer(), fc.string(), fc.constant(null)), { maxLength: 3 })
    .map((leaves) => {
      let value: unknown = leaves;
      for (let i = 0; i < depth; i++) value = i % 2 === 0 ? [value, i] : { [`k${i}`]: value };
      return value;
    });

test("params are refused exactly when a list or record nests past jsonDepthMax", () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: jsonDepthMax + 8 }).chain(nestedValue), (params) => {
      const refused = (() => {
        try {
          checkRequestDepth(params, "params");
          return false;
        } catch (error) {
          assert.ok(error instanceof DbError && error.code === "LIMIT_EXCEEDED");
          return true;
        }
      })();
      assert.equal(refused, containerDepth(params) > jsonDepthMax);
    }),
  );
});

test("a value far deeper than the stack allows is refused, not a RangeError", () => {
  let value: unknown = [];
  for (let i = 0; i < 1_000_000; i++) value = [value];
  assert.throws(() => checkRequestDepth(value, "args"), { code: "LIMIT_EXCEEDED" });
  const wide = Array.from({ length: 1_000_000 }, (_, i) => i);
  checkRequestDepth({ ids: wide }, "params");
});
