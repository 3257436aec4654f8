// Goal: the total behind math::sum and math::avg (values/running-sum.ts) follows RQL
// arithmetic, starts at its first value (durations, decimals), skips none, forgets everything
// when its last value goes, and in float (`double`) mode does not lose small values next to
// large ones, even after the large ones are taken out again.
// Method: fixed cases, then a property test against an exact sum: values are k·2^e, so
// scaling by 2^10 makes every one a BigInt and the exact total is known.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { Decimal, Duration, RunningSum } from "../../src/values/index.ts";
import { throwsDb } from "../support/assertions.ts";

test("integers stay exact, none is skipped, and the last value out leaves no total", () => {
  const sum = new RunningSum("integer");
  assert.equal(sum.total(), null);
  sum.add(-5n); // an int16 value: a sum of one is a number, like any arithmetic result
  assert.equal(sum.total(), -5);
  sum.add(null);
  sum.add(9007199254740991);
  assert.equal(sum.total(), 9007199254740986);
  sum.add(10);
  assert.equal(sum.total(), 9007199254740996n);
  assert.equal(sum.count, 3);
  sum.remove(10);
  sum.remove(9007199254740991);
  assert.equal(sum.average(), -5);
  sum.remove(-5n);
  assert.equal(sum.total(), null);
  assert.equal(sum.average(), null);
});

test("durations and decimals add up as themselves", () => {
  const spans = new RunningSum("integer");
  spans.add(new Duration(1000));
  spans.add(new Duration(2000));
  assert.deepEqual(spans.total(), new Duration(3000));
  assert.deepEqual(spans.average(), new Duration(1500));
  spans.remove(new Duration(1000));
  assert.deepEqual(spans.total(), new Duration(2000));
  const money = new RunningSum("integer");
  money.add(Decimal.parse("0.1"));
  money.add(Decimal.parse("0.2"));
  assert.equal(String(money.total()), "0.3");
});

test("float totals keep what rounding took: small values survive large ones", () => {
  const sum = new RunningSum("double");
  sum.add(0.5);
  sum.add(3.4e38);
  sum.remove(3.4e38);
  assert.equal(sum.total(), 0.5);
  sum.add(2 ** 53);
  sum.add(1);
  sum.add(1);
  assert.equal(sum.total(), 2 ** 53 + 2.5);
  sum.remove(2 ** 53);
  assert.equal(sum.total(), 2.5);
  const overflow = new RunningSum("double");
  overflow.add(1e308);
  throwsDb(() => overflow.add(1e308), { code: "ARITHMETIC_OVERFLOW" });
});

const scaleBits = 10;

/** A double k·2^e that is exactly (k·2^(e+10)) / 2^10. */
const term = fc
  .tuple(fc.integer({ min: -1000, max: 1000 }), fc.integer({ min: -scaleBits, max: 60 }))
  .map(([k, e]) => ({ value: k * 2 ** e, scaled: BigInt(k) * 2n ** BigInt(e + scaleBits) }));

test("a float total after adds and removes is the exact sum of what remains", () => {
  fc.assert(
    fc.property(
      fc.array(term, { minLength: 1, maxLength: 60 }),
      fc.array(fc.boolean()),
      (terms, out) => {
        const sum = new RunningSum("double");
        for (const { value } of terms) sum.add(value);
        let exact = 0n;
        terms.forEach(({ value, scaled }, i) => {
          if (out[i] === true) sum.remove(value);
          else exact += scaled;
        });
        const expected = Number(exact) / 2 ** scaleBits;
        const total = (sum.total() ?? 0) as number;
        // A plain running total is off by up to 2^60·2^-52 here; the compensated one is not.
        const tolerance = Math.abs(expected) * 2 ** -50 + 2 ** -30;
        assert.ok(Math.abs(total - expected) <= tolerance, `${total} vs ${expected}`);
      },
    ),
    { numRuns: 500 },
  );
});
