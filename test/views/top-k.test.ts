/**
 * Goal: the top-k operator shows exactly the first N rows in sort order under any sequence of
 * inserts, updates and deletes, both holding every row and holding only a few spare rows
 * (reading its input again when they run out), and after changes fed back inverted.
 * Method: fast-check sequences against a model that sorts the whole input each time.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { TopKOperator } from "../../src/views/top-k.ts";
import type { Delta, Row } from "../../src/views/delta.ts";

interface Model {
  input: Map<number, Row>;
  shown: Map<number, Row>;
}

function topK(model: Model, spare: number | undefined, limit: number): TopKOperator {
  const columns = new Map([["v", undefined]]);
  const scan =
    spare === undefined
      ? undefined
      : {
          read: (fn: (key: unknown, row: Row) => void) =>
            model.input.forEach((row, key) => fn(key, row)),
          spare,
        };
  const operator = new TopKOperator([{ column: "v", descending: true }], limit, columns, scan);
  operator.next = {
    push(delta: Delta) {
      const key = delta.key as number;
      if (delta.after === undefined) assert.ok(model.shown.delete(key), `deleted ${key} unseen`);
      else model.shown.set(key, delta.after);
    },
  };
  return operator;
}

function expected(model: Model, limit: number): Array<[number, Row]> {
  return [...model.input]
    .sort((a, b) => (b[1].v as number) - (a[1].v as number) || a[0] - b[0])
    .slice(0, limit);
}

const step = fc.record({
  key: fc.integer({ min: 1, max: 15 }),
  value: fc.option(fc.integer({ min: 0, max: 6 }), { nil: undefined, freq: 4 }),
  undo: fc.boolean(),
});

for (const spare of [undefined, 1, 3]) {
  test(`top-k stays exact (${spare === undefined ? "every row held" : `${spare} spare`})`, () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 4 }),
        fc.array(step, { maxLength: 80 }),
        (limit, steps) => {
          const model: Model = { input: new Map(), shown: new Map() };
          const operator = topK(model, spare, limit);
          for (const { key, value, undo } of steps) {
            const before = model.input.get(key);
            const after = value === undefined ? undefined : { v: value };
            if (before === undefined && after === undefined) continue;
            // Like a table: the input holds the change before the operator sees it.
            if (after === undefined) model.input.delete(key);
            else model.input.set(key, after);
            operator.push({ key, before, after });
            if (undo && spare === undefined) {
              // Fed back inverted (a rollback): the input returns first, as rollback leaves it.
              if (before === undefined) model.input.delete(key);
              else model.input.set(key, before);
              operator.push({ key, before: after, after: before });
            }
            const want = expected(model, limit);
            assert.deepEqual(
              [...model.shown].sort((a, b) => a[0] - b[0]),
              want.sort((a, b) => a[0] - b[0]),
            );
          }
        },
      ),
      { numRuns: 300 },
    );
  });
}
