/**
 * Goal: encodeJson, which skips JSON.stringify's replacer for a body of plain JSON parts,
 * gives exactly the text the replacer gives (encodeJsonReplacing) for every value: bigints,
 * blobs, maps, sets, dates, non-finite numbers, undefined, holes, class instances, toJSON
 * objects, null prototypes, and bodies past the size it looks through.
 * Method: property test over random values (fast-check's anything, with every option a
 * server answer could hold), plus the cases at the edges by hand.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { anyValue } from "../support/arbitraries.ts";
import { encodeJson, encodeJsonReplacing, encodeResultAnswer } from "../../src/server/json.ts";

/** What `encode` returns, or the name of the error it threw. */
function outcomeOf(encode: () => string | undefined): string | undefined {
  try {
    return encode();
  } catch (error) {
    return `throws ${(error as Error).name}`;
  }
}

/** The text of `value` by both encoders, or the name of the error each threw. */
function encodeBoth(value: unknown): [string | undefined, string | undefined] {
  return [outcomeOf(() => encodeJson(value)), outcomeOf(() => encodeJsonReplacing(value))];
}

test("encodeJson gives the replacer's text for any value", () => {
  const anything = anyValue(4);
  fc.assert(
    fc.property(anything, (value) => {
      const [fast, reference] = encodeBoth(value);
      assert.equal(fast, reference);
    }),
    { numRuns: 2000 },
  );
});

test("encodeJson of answers at the edges is the replacer's text", () => {
  class Row {
    id = 1;
  }
  const withToJSON = { toJSON: () => 5n, a: 1 };
  const large = Array.from({ length: 5000 }, (_, index) => ({ id: index, name: `n${index}` }));
  const largeLastBig = [...large, { id: 2n ** 60n }];
  const arrayWithToJSON = Object.assign([1, 2], { toJSON: () => "x" });
  const withHole: unknown[] = [1];
  withHole[2] = 3; // index 1 is a hole
  const values: unknown[] = [
    { id: 1, type: "result", result: true },
    { id: "a", type: "result", result: { frames: [[{ a: 1, b: "x", c: null }]] } },
    { id: 1, type: "result", result: undefined },
    { id: 1, type: "result", result: { a: undefined, b: NaN, c: -Infinity, d: -0 } },
    withHole,
    { big: 2n ** 70n, small: 5n, blob: new Uint8Array([1, 255]) },
    { when: new Date(0), map: new Map([["k", 1n]]), set: new Set([1n]) },
    new Row(),
    withToJSON,
    arrayWithToJSON,
    Object.assign(Object.create(null) as object, { a: 1, b: [true] }),
    large,
    largeLastBig,
    undefined,
    () => 1,
    Symbol("s"),
    "text",
    42,
    null,
  ];
  for (const value of values) {
    const [fast, reference] = encodeBoth(value);
    assert.equal(fast, reference);
  }
});

test("a result answer is the text encodeJson gives the whole answer", () => {
  const id = fc.oneof(fc.string(), fc.integer(), fc.double());
  const result = anyValue(3);
  const edges = fc.constantFrom<unknown>(undefined, () => 1, Symbol("s"), NaN, 2n ** 64n);
  fc.assert(
    fc.property(id, fc.oneof(result, edges), (answerId, answerResult) => {
      const whole = outcomeOf(() =>
        encodeJson({ id: answerId, type: "result", result: answerResult }),
      );
      assert.equal(
        outcomeOf(() => encodeResultAnswer(answerId, answerResult)),
        whole,
      );
    }),
    { numRuns: 2000 },
  );
});

test("a body that contains itself still fails as JSON.stringify fails", () => {
  const cycle: Record<string, unknown> = { a: 1 };
  cycle["self"] = cycle;
  assert.throws(() => encodeJson(cycle), TypeError);
});
