// Goal: `decimal` values are exact. Parsing accepts plain and exponent spellings and nothing
// else; equal values have one representation; + - * are exact; division rounds half-even to
// 28 digits; division and modulo by zero fail with DIVISION_BY_ZERO; and decimal columns store,
// key and order by numeric value, not by spelling.
// Method: black box through the public `Decimal` class and a decimal-keyed table of the
// embedded API, comparing canonical text (toString) with hand-computed results.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { open, DbError, Decimal } from "../../src/index.ts";
import type { ErrorCode } from "../../src/index.ts";

const d = (text: string): Decimal => Decimal.parse(text);

function throwsCode(fn: () => unknown, code: ErrorCode, message?: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof DbError, `expected a DbError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (message !== undefined) assert.match(error.message, message);
    return true;
  });
}

describe("parsing and canonical form", () => {
  test("plain, signed, fractional and exponent spellings", () => {
    const cases: Array<[string, string]> = [
      ["0", "0"],
      ["-12.50", "-12.5"],
      ["+3", "3"],
      [".5", "0.5"],
      ["007.0700", "7.07"],
      ["1e3", "1000"],
      ["1.5E2", "150"],
      ["1e-3", "0.001"],
      ["-2.5e-2", "-0.025"],
      [" 4.20 ", "4.2"],
      ["-0", "0"],
      ["-0.000", "0"],
    ];
    for (const [input, canonical] of cases) assert.equal(d(input).toString(), canonical, input);
  });

  test("equal values have one representation (trailing zeros are normalised)", () => {
    const a = d("1.50");
    const b = d("1.5");
    assert.equal(a.coefficient, 15n);
    assert.equal(a.scale, 1);
    assert.ok(a.equals(b));
    assert.ok(d("100").equals(Decimal.of(1n, -2)));
    assert.ok(Decimal.of(1000n, 3).equals(d("1")));
    assert.equal(Decimal.of(0n, 9).scale, 0);
  });

  test("anything else is TYPE_MISMATCH naming the text", () => {
    for (const bad of [
      "",
      " ",
      "abc",
      "1.",
      ".",
      "+",
      "-",
      "e5",
      "1e",
      "1.2.3",
      "1e12345",
      "0x10",
    ]) {
      assert.throws(
        () => d(bad),
        (error: unknown) =>
          error instanceof DbError && error.code === "TYPE_MISMATCH" && error.details.value === bad,
        JSON.stringify(bad),
      );
    }
    throwsCode(() => d("12abc"), "TYPE_MISMATCH", /not a decimal: "12abc"/);
  });

  test("text longer than 512 characters is refused before parsing", () => {
    assert.equal(d("1".repeat(512)).toString(), "1".repeat(512));
    throwsCode(() => d("1".repeat(513)), "TYPE_MISMATCH");
  });

  test("fromNumber uses the shortest spelling of the number, exactly", () => {
    assert.equal(Decimal.fromNumber(0.1).toString(), "0.1");
    assert.equal(Decimal.fromNumber(0.1 + 0.2).toString(), "0.30000000000000004");
    assert.equal(Decimal.fromNumber(1e21).toString(), "1000000000000000000000");
    assert.equal(Decimal.fromNumber(-0).toString(), "0");
    assert.equal(Decimal.fromNumber(5e-7).toString(), "0.0000005");
    for (const bad of [Number.NaN, Infinity, -Infinity]) {
      throwsCode(() => Decimal.fromNumber(bad), "TYPE_MISMATCH", /not a finite number/);
    }
  });

  test("fromBigInt is exact beyond 2^53; toNumber and toJSON convert", () => {
    assert.equal(Decimal.fromBigInt(2n ** 64n + 1n).toString(), "18446744073709551617");
    assert.equal(d("-2.5").toNumber(), -2.5);
    assert.equal(JSON.stringify({ price: d("19.90") }), '{"price":"19.9"}');
  });
});

describe("arithmetic", () => {
  test("addition and subtraction are exact where floats are not", () => {
    assert.equal(d("0.1").add(d("0.2")).toString(), "0.3");
    assert.equal(d("1").sub(d("0.9")).toString(), "0.1");
    assert.equal(d("1e30").add(d("1e-30")).toString(), `1${"0".repeat(30)}.${"0".repeat(29)}1`);
    assert.equal(d("5").sub(d("7.25")).toString(), "-2.25");
    assert.equal(d("2.50").add(d("-2.5")).toString(), "0");
  });

  test("multiplication is exact", () => {
    assert.equal(d("1.1").mul(d("1.1")).toString(), "1.21");
    assert.equal(d("-0.5").mul(d("0.5")).toString(), "-0.25");
    assert.equal(d("123456789.123456789").mul(d("1000")).toString(), "123456789123.456789");
  });

  test("division rounds half-even to 28 digits", () => {
    const one = d("1");
    assert.equal(one.div(d("3")).toString(), `0.${"3".repeat(28)}`);
    assert.equal(d("2").div(d("-3")).toString(), `-0.${"6".repeat(27)}7`);
    assert.equal(d("1").div(d("8")).toString(), "0.125");
    assert.equal(d("10").div(d("0.5")).toString(), "20");
    // Exact ties at the 29th digit go to the even neighbour, in both signs.
    const ulp = `0.${"0".repeat(27)}`;
    assert.equal(d(`${ulp}05`).div(one).toString(), "0");
    assert.equal(d(`${ulp}15`).div(one).toString(), `${ulp}2`);
    assert.equal(d(`${ulp}25`).div(one).toString(), `${ulp}2`);
    assert.equal(d(`-${ulp}15`).div(one).toString(), `-${ulp}2`);
    assert.equal(d(`-${ulp}25`).div(one).toString(), `-${ulp}2`);
    // Not a tie: rounds to nearest.
    assert.equal(d(`${ulp}251`).div(one).toString(), `${ulp}3`);
    // Finer than 28 digits vanishes.
    assert.equal(d("1e-30").div(one).toString(), "0");
  });

  test("modulo keeps the sign of the dividend", () => {
    assert.equal(d("7").mod(d("2")).toString(), "1");
    assert.equal(d("-7").mod(d("2")).toString(), "-1");
    assert.equal(d("7").mod(d("-2")).toString(), "1");
    assert.equal(d("7.5").mod(d("2")).toString(), "1.5");
  });

  test("division and modulo by zero are DIVISION_BY_ZERO", () => {
    throwsCode(() => d("1").div(d("0")), "DIVISION_BY_ZERO", /division by zero/);
    throwsCode(() => d("1").div(d("0.000")), "DIVISION_BY_ZERO");
    throwsCode(() => d("1").mod(d("-0")), "DIVISION_BY_ZERO", /modulo by zero/);
  });

  test("negate and compare", () => {
    assert.equal(d("2.5").negate().toString(), "-2.5");
    assert.equal(d("0").negate().toString(), "0");
    assert.equal(d("1.10").compare(d("1.1")), 0);
    assert.equal(d("1.09").compare(d("1.1")), -1);
    assert.equal(d("-1").compare(d("-1.5")), 1);
    assert.equal(d("1e3").compare(d("999.999")), 1);
  });
});

describe("decimal columns", () => {
  test("keys are numeric: 2, 2.0 and 2.00 are one key and order is by value", async () => {
    const db = await open();
    const prices = db.createTable("prices", {
      columns: { price: "decimal", label: "utf8" },
      primaryKey: "price",
    });
    for (const [price, label] of [
      ["10", "ten"],
      ["9.99", "almost ten"],
      ["-1", "credit"],
      ["2.00", "two"],
      ["100", "hundred"],
    ]) {
      prices.insert({ price, label });
    }
    assert.deepEqual(
      prices.scan().map((row) => String(row.price)),
      ["-1", "2", "9.99", "10", "100"],
      "ordered by value, not by text",
    );
    assert.equal(prices.get("2")?.label, "two");
    assert.equal(prices.get(2)?.label, "two");
    assert.equal(prices.get(d("2.0"))?.label, "two");
    assert.throws(
      () => prices.insert({ price: 2, label: "dup" }),
      (error: unknown) =>
        error instanceof DbError &&
        error.code === "CONSTRAINT_VIOLATION" &&
        error.details.object === "default::prices",
    );
    assert.deepEqual(
      prices.scan({ lower: "2", upper: 10, upperExclusive: true }).map((row) => row.label),
      ["two", "almost ten"],
    );
  });
});

describe("size", () => {
  // Every decimal that exists is one the log can read back: its spelling is at most 512
  // characters (sign and point included), the length Decimal.parse accepts.
  test("a value whose spelling would pass 512 characters is OUT_OF_RANGE", () => {
    assert.equal(d(`9${"0".repeat(511)}`).toString().length, 512);
    throwsCode(() => d("1e512"), "OUT_OF_RANGE", /513 characters/);
    throwsCode(() => d("1e-511"), "OUT_OF_RANGE", /decimal/);
    throwsCode(() => Decimal.fromBigInt(10n ** 600n), "OUT_OF_RANGE");
    throwsCode(() => Decimal.of(1n, -512), "OUT_OF_RANGE");
  });

  test("arithmetic past 512 characters is ARITHMETIC_OVERFLOW", () => {
    const big = d("1e300");
    throwsCode(() => big.mul(big), "ARITHMETIC_OVERFLOW", /decimal/);
    throwsCode(() => d("1e-300").add(big), "ARITHMETIC_OVERFLOW");
    throwsCode(() => d(`9${"0".repeat(511)}`).negate(), "ARITHMETIC_OVERFLOW");
    throwsCode(() => d(`9${"9".repeat(511)}`).add(d("1")), "ARITHMETIC_OVERFLOW");
  });

  test("every decimal made reads back from its spelling (fast-check)", () => {
    const parts = fc.tuple(fc.bigInt({ min: -(10n ** 520n), max: 10n ** 520n }), fc.nat(530));
    fc.assert(
      fc.property(parts, parts, ([c1, s1], [c2, s2]) => {
        for (const make of [
          () => Decimal.of(c1, s1),
          () => Decimal.of(c1, s1).mul(Decimal.of(c2, s2)),
          () => Decimal.of(c1, s1).add(Decimal.of(c2, s2)),
        ]) {
          let made: Decimal;
          try {
            made = make();
          } catch (error) {
            assert.ok(error instanceof DbError, String(error));
            continue;
          }
          assert.ok(Decimal.parse(made.toString()).equals(made));
        }
      }),
      { numRuns: 200 },
    );
  });

  test("a column's decimal too long to log back is refused, and the log still opens", async () => {
    const path = mkdtempSync(join(tmpdir(), "statebase-decimal-"));
    try {
      const db = await open({ path, durability: "sync" });
      await db.admin(
        "create table default::t { id: int4, d: decimal } with { primary_key: { id } }",
      );
      await db.command("insert default::t [{ id: 1, d: 1e300 }]");
      await assert.rejects(db.command("update default::t { d: d * d } filter { id == 1 }"), {
        code: "ARITHMETIC_OVERFLOW",
      });
      await assert.rejects(db.command(`insert default::t [{ id: 2, d: "1e600" }]`), {
        code: "OUT_OF_RANGE",
      });
      await db.command("insert default::t [{ id: 3, d: 2.5 }]");
      await db.durable();
      await db.close();
      const again = await open({ path });
      const rows = again.table("default::t").scan();
      assert.deepEqual(
        rows.map((row) => [row.id, String(row.d)]),
        [
          [1, `1${"0".repeat(300)}`],
          [3, "2.5"],
        ],
      );
      await again.close();
    } finally {
      rmSync(path, { recursive: true, force: true });
    }
  });
});
