// Goal: guards give rstmdb's result for every guard form of rcp.md §3, reject the parse
// quirks Statebase consciously drops (decision 7), and accept our extensions.
// Method: a conformance table of (guard, ctx, expected) rows taken from the spec's rules,
// run through compileGuard; rejected forms are matched on error code and message.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { compileGuard } from "../../src/expr/index.ts";
import { DbError } from "../../src/lib/errors.ts";

type Row = readonly [guard: string, ctx: unknown, expected: boolean];

function runTable(rows: readonly Row[]): void {
  for (const [guard, ctx, expected] of rows) {
    it(`${guard} with ${JSON.stringify(ctx)} is ${expected}`, () => {
      assert.equal(compileGuard(guard)(ctx, {}), expected);
    });
  }
}

describe("guard conformance: truthiness of a bare field", () => {
  runTable([
    ["ctx.v", { v: true }, true],
    ["ctx.v", { v: false }, false],
    ["ctx.v", { v: null }, false],
    ["ctx.v", {}, false],
    ["ctx.v", { v: 0 }, false],
    ["ctx.v", { v: -0 }, false],
    ["ctx.v", { v: 0.0001 }, true],
    ["ctx.v", { v: -1 }, true],
    ["ctx.v", { v: "" }, false],
    ["ctx.v", { v: "0" }, true],
    ["ctx.v", { v: "false" }, true],
    ["ctx.v", { v: [] }, false],
    ["ctx.v", { v: [0] }, true],
    ["ctx.v", { v: {} }, false],
    ["ctx.v", { v: { a: null } }, true],
  ]);
});

describe("guard conformance: field lookup", () => {
  runTable([
    ["ctx.a.b.c == 1", { a: { b: { c: 1 } } }, true],
    ["ctx.a.b.c == null", { a: { b: 5 } }, true],
    ["ctx.a.b.c == null", { a: null }, true],
    ["ctx.missing.deeper == null", {}, true],
    // Arrays are not walked: `.length` and numeric indexes are always null.
    ["ctx.items.length == null", { items: [1, 2, 3] }, true],
    ["ctx.items.length > 0", { items: [1, 2, 3] }, false],
    ["ctx.items.length", { items: [1, 2, 3] }, false],
    ["ctx.a.0 == null", { a: ["x"] }, true],
    ["ctx.a.0 == 5", { a: { "0": 5 } }, true],
    ["ctx.s.length == null", { s: "text" }, true],
    ['ctx.名前 == "x"', { 名前: "x" }, true],
    ["ctx.snake_case_1 == 2", { snake_case_1: 2 }, true],
    // Inherited properties of JavaScript objects are not fields.
    ["ctx.constructor == null", {}, true],
    ["ctx.a.toString == null", { a: {} }, true],
    ["ctx.__proto__ == null", {}, true],
  ]);

  it("reads fields of a non-object context as null", () => {
    assert.equal(compileGuard("ctx.a == null")(null, {}), true);
    assert.equal(compileGuard("ctx.a == null")([1], {}), true);
    assert.equal(compileGuard("ctx.a")("text", {}), false);
  });
});

describe("guard conformance: == and !=", () => {
  runTable([
    ["ctx.missing == null", {}, true],
    ["ctx.n == null", { n: null }, true],
    ["ctx.n == null", { n: 0 }, false],
    ["ctx.n == null", { n: false }, false],
    ["ctx.n == null", { n: "" }, false],
    ["ctx.missing != null", {}, false],
    ['ctx.missing != "x"', {}, true],
    ['ctx.missing == "x"', {}, false],
    ["ctx.missing == false", {}, false],
    ["ctx.b == true", { b: true }, true],
    ["ctx.b == false", { b: false }, true],
    ["ctx.b == true", { b: 1 }, false],
    ["ctx.b == 1", { b: true }, false],
    ["ctx.b != 1", { b: true }, true],
    ["ctx.z == 0", { z: false }, false],
    ['ctx.s == "1"', { s: "1" }, true],
    ["ctx.s == 1", { s: "1" }, false],
    ["ctx.s != 1", { s: "1" }, true],
    ['ctx.s == "Gold"', { s: "gold" }, false],
    ['ctx.s == "gold"', { s: "gold " }, false],
    ['ctx.s == ""', { s: "" }, true],
    ['ctx.s == "a && b || !c"', { s: "a && b || !c" }, true],
    ["ctx.n == 1", { n: 1 }, true],
    ["ctx.n == 1.0", { n: 1 }, true],
    ["ctx.n == 1", { n: 1.0000000000000002 }, false],
    ["ctx.n == 0.3", { n: 0.1 + 0.2 }, true],
    ["ctx.n != 0.3", { n: 0.1 + 0.2 }, false],
    ["ctx.n == 9007199254740993", { n: 9007199254740992 }, true],
    ["ctx.n == 100000000000000000000", { n: 1e20 + 16384 }, false],
    ["ctx.n == -2.5", { n: -2.5 }, true],
    ["ctx.n == -.5", { n: -0.5 }, true],
    ["ctx.n == 5.", { n: 5 }, true],
    ["ctx.n == .5", { n: 0.5 }, true],
    ["ctx.n == 0", { n: -0 }, true],
    ["ctx.obj == null", { obj: {} }, false],
    ["ctx.list == 1", { list: [1] }, false],
    ["ctx.list != 1", { list: [1] }, true],
  ]);
});

describe("guard conformance: ordering is for numbers only", () => {
  runTable([
    ["ctx.n > 1", { n: 2 }, true],
    ["ctx.n > 1", { n: 1 }, false],
    ["ctx.n >= 1", { n: 1 }, true],
    ["ctx.n < 1", { n: 0.5 }, true],
    ["ctx.n <= -1", { n: -1 }, true],
    ["ctx.n < -1.5", { n: -2 }, true],
    ["ctx.n > .5", { n: 0.6 }, true],
    ["ctx.n >= 5.", { n: 5 }, true],
    ["ctx.n > 1", { n: "5" }, false],
    ["ctx.n < 1", { n: "0" }, false],
    ["ctx.n > 0", { n: true }, false],
    ["ctx.n < 1", { n: false }, false],
    ["ctx.n < 1", { n: null }, false],
    ["ctx.n > 0", {}, false],
    ["ctx.n < 0", {}, false],
    ["ctx.n >= 0", { n: [] }, false],
    ["ctx.n <= 0", { n: {} }, false],
    ["ctx.n > 1", { n: 1e300 }, true],
  ]);
});

describe("guard conformance: logic and precedence", () => {
  runTable([
    ["!ctx.a", { a: false }, true],
    ["!ctx.a", { a: [] }, true],
    ["!ctx.a", { a: 1 }, false],
    ["!!ctx.a", { a: "x" }, true],
    // `!` applies to the whole comparison: !(ctx.a == 1).
    ["!ctx.a == 1", { a: 1 }, false],
    ["!ctx.a == 1", { a: 2 }, true],
    ["!ctx.a == 1", {}, true],
    // && binds tighter than ||.
    ["ctx.a || ctx.b && ctx.c", { a: true, b: false, c: false }, true],
    ["ctx.a || ctx.b && ctx.c", { a: false, b: true, c: false }, false],
    ["ctx.a && ctx.b || ctx.c", { a: false, b: false, c: true }, true],
    ["(ctx.a || ctx.b) && ctx.c", { a: true, b: false, c: false }, false],
    ['ctx.a > 1 && ctx.b == "x"', { a: 2, b: "x" }, true],
    ['ctx.a > 1 && ctx.b == "x"', { a: 2, b: "y" }, false],
    ["!(ctx.a > 1 || ctx.b)", { a: 0, b: 0 }, true],
    ["((ctx.a))", { a: 1 }, true],
    [" \u3000ctx.a\u00a0==\t1\n", { a: 1 }, true],
  ]);
});

describe("guard conformance: raw strings", () => {
  runTable([
    // rstmdb keeps the backslash: the literal below is the four characters a\"b.
    [String.raw`ctx.s == "a\"b"`, { s: String.raw`a\"b` }, true],
    [String.raw`ctx.s == "a\"b"`, { s: 'a"b' }, false],
    [String.raw`ctx.s == "line\n"`, { s: String.raw`line\n` }, true],
    [String.raw`ctx.s == "c:\\dir"`, { s: String.raw`c:\\dir` }, true],
  ]);
});

describe("guard: rejected rstmdb quirks and errors", () => {
  const rejected: [string, string, RegExp][] = [
    // rstmdb ignores trailing input; Statebase rejects it (decision 7).
    ["ctx.a > 1 ctx.b", "RQL_PARSE", /line 1, column 11: unexpected "ctx" after the expression/],
    ["ctx.a == 1 )", "RQL_PARSE", /unexpected "\)" after the expression/],
    ['ctx.a == "x" garbage', "RQL_PARSE", /unexpected "garbage"/],
    ["ctx.a = 1", "RQL_PARSE", /use "==" to compare/],
    // rstmdb reads `== trueish` as `== true`; here it names a field outside ctx.
    ["ctx.flag == trueish", "UNKNOWN_COLUMN", /field must start with 'ctx.'/],
    ["ctx.", "RQL_PARSE", /line 1, column 5: .*empty field name/],
    ["ctx.a.", "RQL_PARSE", /empty field name/],
    ["foo.a == 1", "UNKNOWN_COLUMN", /line 1, column 1: field must start with 'ctx.'/],
    ["ctxx.a", "UNKNOWN_COLUMN", /field must start with 'ctx.'/],
    ["ctx", "UNKNOWN_COLUMN", /field must start with 'ctx.'/],
    ["payload", "UNKNOWN_COLUMN", /field must start with 'ctx.'/],
    ["a", "UNKNOWN_COLUMN", /field must start with 'ctx.'/],
    ["", "RQL_PARSE", /empty guard expression/],
    ["   ", "RQL_PARSE", /empty guard expression/],
    ["\n\t\u3000", "RQL_PARSE", /empty guard expression/],
    ['ctx.a == "open', "RQL_PARSE", /unterminated string/],
    ["(ctx.a == 1", "RQL_PARSE", /expected "\)"/],
    ["ctx.a > -", "RQL_PARSE", /expected an expression/],
    ["ctx.a > .", "RQL_PARSE", /expected an expression/],
    ["ctx.a > 1.2.3", "RQL_PARSE", /unexpected/],
    ["ctx.a > 5x", "RQL_PARSE", /invalid number/],
    ["ctx.a &", "RQL_PARSE", /unexpected character/],
    ["ctx.a == ", "RQL_PARSE", /found end of input/],
    ["ctx.a == nope::f(1)", "UNKNOWN_FUNCTION", /unknown function nope::f/],
  ];
  for (const [guard, code, message] of rejected) {
    it(`rejects ${JSON.stringify(guard)}`, () => {
      try {
        compileGuard(guard);
      } catch (error) {
        assert.ok(error instanceof DbError, String(error));
        assert.equal(error.code, code, error.message);
        assert.match(error.message, message);
        assert.equal(typeof error.details.line, "number");
        assert.equal(typeof error.details.col, "number");
        return;
      }
      assert.fail(`${guard} was accepted`);
    });
  }
});

describe("guard: Statebase extensions", () => {
  it("reads the event payload", () => {
    const guard = compileGuard("payload.amount <= ctx.limit");
    assert.equal(guard({ limit: 10 }, { amount: 5 }), true);
    assert.equal(guard({ limit: 10 }, { amount: 50 }), false);
    assert.equal(guard({ limit: 10 }, null), false);
  });

  it("accepts word operators, in, between, arithmetic and functions", () => {
    const ctx = { a: 2, b: "x", tags: ["vip"], s: "Hello" };
    const cases: [string, boolean][] = [
      ["ctx.a > 1 and ctx.b == 'x'", true],
      ["not ctx.a > 1 or ctx.b == 'y'", false],
      ["ctx.a > 1 xor ctx.b == 'x'", false],
      ["ctx.b in ['x', 'y']", true],
      ["ctx.b not in ['x', 'y']", false],
      ["ctx.a in [1.0, 2.0]", true],
      ["ctx.missing in [null]", true],
      ["ctx.a between 1 and 3", true],
      ["ctx.b between 1 and 3", false],
      ["ctx.a * 2 + 1 == 5", true],
      ["ctx.missing + 1 == null", true],
      ["ctx.missing ?? 7 == 7", true],
      ["text::lower(ctx.s) == 'hello'", true],
      ["text::length(ctx.s) > 4", true],
      ["ctx.tags == ctx.tags", true],
      ["ctx.a > 1e0", true],
      ["1 < ctx.a", true],
      ["'x' == ctx.b", true],
    ];
    for (const [source, expected] of cases) {
      assert.equal(compileGuard(source)(ctx, {}), expected, source);
    }
  });

  it("reads exponents (rstmdb would read `1e5` as `1` and ignore the rest)", () => {
    assert.equal(compileGuard("ctx.a > 1e5")({ a: 50 }, {}), false);
  });

  it("treats integer literals beyond 2^53 as f64", () => {
    assert.equal(compileGuard("ctx.n == 18446744073709551616")({ n: 2 ** 64 }, {}), true);
  });

  it("passes the clock to date functions", () => {
    const guard = compileGuard("datetime::year(datetime::now()) == 2023");
    assert.equal(
      guard({}, {}, () => Date.UTC(2023, 5, 1)),
      true,
    );
    assert.throws(
      () => guard({}, {}),
      (error: unknown) => error instanceof DbError && error.code === "EVAL_ERROR",
    );
  });

  it("does not keep the last context alive after a call", () => {
    const guard = compileGuard("ctx.a");
    assert.equal(guard({ a: 1 }, {}), true);
    assert.equal(guard({}, {}), false);
  });
});
