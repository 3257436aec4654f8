/**
 * Goal: the client's encodeRequest, which skips JSON.stringify's replacer for a request with
 * no bigint, bytes or toJSON in it, sends exactly the text the replacer gives, or fails the
 * same way (INVALID_ARGUMENT), for every request a caller could pass.
 * Method: property test over random values as a request's args (fast-check's anything, with
 * bigints, typed arrays, dates, maps, sets, boxed values, holes and null prototypes), plus
 * the edges by hand.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { anyValue } from "../support/arbitraries.ts";
import { encodeRequest } from "../../src/client/client.ts";

/** The text by both ways, or the error code each threw. */
function encodeBoth(message: Record<string, unknown>): [string, string] {
  const outcome = (replaceAlways: boolean): string => {
    try {
      return encodeRequest(message, replaceAlways);
    } catch (error) {
      return `throws ${(error as { code?: string }).code ?? (error as Error).name}`;
    }
  };
  return [outcome(false), outcome(true)];
}

test("encodeRequest gives the replacer's text for any args", () => {
  const anything = anyValue(4);
  fc.assert(
    fc.property(anything, (args) => {
      const [fast, reference] = encodeBoth({ procedure: "p", args, id: 1, type: "call" });
      assert.equal(fast, reference);
    }),
    { numRuns: 2000 },
  );
});

test("encodeRequest of requests at the edges is the replacer's text", () => {
  const cycle: Record<string, unknown> = {};
  cycle["self"] = cycle;
  const many = Array.from({ length: 1000 }, (_, index) => index);
  const args: unknown[] = [
    { from: 1, to: 2, amount: 3 },
    { big: 2n ** 70n, small: 5n, bytes: new Uint8Array([0, 255]) },
    { when: new Date(0), toJSON: undefined },
    { custom: { toJSON: () => 7n } },
    Object(1n) as unknown,
    many,
    [...many, 1n],
    cycle,
    undefined,
  ];
  for (const value of args) {
    const [fast, reference] = encodeBoth({ procedure: "p", args: value, id: 1, type: "call" });
    assert.equal(fast, reference);
  }
  assert.match(encodeBoth({ args: cycle })[0], /^throws INVALID_ARGUMENT$/);
});
