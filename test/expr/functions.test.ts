// Goal: every library function (math::, text::, date::/datetime::, is::, json::) computes the
// documented result, propagates none where it should, and fails with a named error on bad
// arguments; the registry's aggregate names are recognised.
// Method: a table of (source, expected) per namespace, evaluated with a fixed clock; error
// rows are matched on code.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  aggregateFunctionNames,
  compileExpression,
  isAggregateCall,
  parseExpression,
} from "../../src/expr/index.ts";
import { forEachFunction } from "../../src/expr/functions/index.ts";
import { DbError } from "../../src/lib/errors.ts";
import { Decimal, Duration } from "../../src/values/index.ts";

const nowMs = Date.UTC(2024, 1, 29, 13, 45, 30, 250); // 2024-02-29T13:45:30.250Z

function run(source: string, row: Record<string, unknown> = {}): unknown {
  return compileExpression(parseExpression(source))({ row, now: () => nowMs });
}

/** Normalises values that deepEqual cannot compare by identity. */
function plain(value: unknown): unknown {
  if (value instanceof Decimal || value instanceof Duration)
    return `${value.constructor.name}(${value.toString()})`;
  if (value instanceof Date) return `Date(${value.toISOString()})`;
  return value;
}

function table(rows: readonly [string, unknown][], row: Record<string, unknown> = {}): void {
  for (const [source, expected] of rows) {
    it(`${source} -> ${String(plain(expected))}`, () => {
      assert.deepEqual(plain(run(source, row)), plain(expected));
    });
  }
}

function errorTable(rows: readonly [string, string][], row: Record<string, unknown> = {}): void {
  for (const [source, code] of rows) {
    it(`${source} fails with ${code}`, () => {
      assert.throws(
        () => run(source, row),
        (error: unknown) => error instanceof DbError && error.code === code,
      );
    });
  }
}

const dec = (text: string): Decimal => Decimal.parse(text);

describe("math::", () => {
  table(
    [
      ["math::abs(-3)", 3],
      ["math::abs(2.5)", 2.5],
      ["math::abs(-170141183460469231731687303715884105727)", 2n ** 127n - 1n],
      ["math::abs(d)", dec("1.25")],
      ["math::ceil(1.2)", 2],
      ["math::ceil(-1.2)", -1],
      ["math::ceil(-0.5)", 0],
      ["math::ceil(7)", 7],
      ["math::ceil(d)", dec("-1")],
      ["math::floor(1.8)", 1],
      ["math::floor(-1.2)", -2],
      ["math::floor(d)", dec("-2")],
      ["math::round(2.5)", 3],
      ["math::round(-2.5)", -3],
      ["math::round(1.2345, 2)", 1.23],
      ["math::round(d, 1)", dec("-1.3")],
      ["math::round(e, 2)", dec("2.68")],
      ["math::round(9)", 9],
      ["math::power(2, 10)", 1024],
      ["math::power(2, 64)", 2n ** 64n],
      ["math::power(-1, 1000000000000)", 1],
      ["math::power(0, 0)", 1],
      ["math::power(2, -1)", 0.5],
      ["math::power(4, 0.5)", 2],
      ["math::power(e, 2)", dec("7.1824")],
      ["math::sqrt(16)", 4],
      ["math::sqrt(2.25)", 1.5],
      ["math::min(3, 1, 2)", 1],
      ["math::max(3, 1, 2)", 3],
      ["math::max('a', 'c', 'b')", "c"],
      ["math::min(1, d)", dec("-1.25")],
      ["math::clamp(5, 1, 3)", 3],
      ["math::clamp(-5, 1, 3)", 1],
      ["math::clamp(2, 1, 3)", 2],
      ["math::mod(7, 3)", 1],
      ["math::mod(-7, 3)", -1],
      ["math::abs(x)", null],
      ["math::max(1, x)", null],
    ],
    { d: dec("-1.25"), e: dec("2.68") },
  );
  errorTable([
    ["math::abs('a')", "TYPE_MISMATCH"],
    ["math::sqrt(-1)", "INVALID_ARGUMENT"],
    ["math::power(2, 129)", "ARITHMETIC_OVERFLOW"],
    ["math::power(10.0, 400)", "ARITHMETIC_OVERFLOW"],
    ["math::power(-8, 0.5)", "INVALID_ARGUMENT"],
    ["math::power(0, -1)", "DIVISION_BY_ZERO"],
    ["math::round(1.5, 29)", "INVALID_ARGUMENT"],
    ["math::round(1.5, 0.5)", "TYPE_MISMATCH"],
    ["math::min(1, 'a')", "TYPE_MISMATCH"],
    ["math::clamp(1, 3, 2)", "INVALID_ARGUMENT"],
    ["math::mod(1, 0)", "DIVISION_BY_ZERO"],
  ]);
});

describe("text::", () => {
  table([
    ["text::length('hello')", 5],
    ["text::length('😀a')", 2],
    ["text::length('')", 0],
    ["text::lower('ÀbC')", "àbc"],
    ["text::upper('straße')", "STRASSE"],
    ["text::trim('  a b \\n')", "a b"],
    ["text::contains('hello', 'ell')", true],
    ["text::contains('hello', 'xyz')", false],
    ["text::starts_with('hello', 'he')", true],
    ["text::ends_with('hello', 'lo')", true],
    ["text::ends_with('hello', 'he')", false],
    ["text::substring('hello', 1, 3)", "ell"],
    ["text::substring('hello', 2)", "llo"],
    ["text::substring('hello', 10)", ""],
    ["text::substring('😀ab', 1, 1)", "a"],
    ["text::replace('a-b-c', '-', '+')", "a+b+c"],
    ["text::replace('aaa', 'a', '$&')", "$&$&$&"],
    ["text::concat('a', 1, true, 2.5)", "a1true2.5"],
    ["text::concat('id-', 9007199254740993)", "id-9007199254740993"],
    ["text::concat('t=', 1h30m)", "t=1h30m"],
    ["text::concat('a', x)", null],
    ["text::length(x)", null],
  ]);
  errorTable([
    ["text::length(1)", "TYPE_MISMATCH"],
    ["text::substring('a', -1)", "INVALID_ARGUMENT"],
    ["text::substring('a', 0, -1)", "INVALID_ARGUMENT"],
    ["text::replace('a', '', 'b')", "INVALID_ARGUMENT"],
    ["text::concat('a', [1])", "TYPE_MISMATCH"],
  ]);
});

describe("date:: and datetime::", () => {
  const row = {
    day: "2024-01-31",
    at: new Date(Date.UTC(2023, 11, 31, 23, 30)),
    bad: "2024-02-30",
  };
  table(
    [
      ["date::now()", "2024-02-29"],
      ["datetime::now()", new Date(nowMs)],
      ["date::year(day)", 2024],
      ["date::month(day)", 1],
      ["date::day(day)", 31],
      ["datetime::year(at)", 2023],
      ["datetime::month(datetime::now())", 2],
      ["date::day(date::now())", 29],
      ["date::add(day, 1d)", "2024-02-01"],
      ["date::add(day, 36h)", "2024-02-01"],
      ["date::add(day, -1d)", "2024-01-30"],
      ["datetime::add(at, 1h)", new Date(Date.UTC(2024, 0, 1, 0, 30))],
      ["date::diff('2024-03-01', day)", new Duration(30 * 86_400_000)],
      ["datetime::diff(datetime::now(), at)", new Duration(nowMs - Date.UTC(2023, 11, 31, 23, 30))],
      [
        "datetime::format(datetime::now(), '%Y-%m-%dT%H:%M:%S.%f 100%%')",
        "2024-02-29T13:45:30.250 100%",
      ],
      ["date::format(day, '%d/%m/%Y')", "31/01/2024"],
      ["date::year(x)", null],
    ],
    row,
  );
  errorTable(
    [
      ["date::year('today')", "TYPE_MISMATCH"],
      ["date::year(bad)", "TYPE_MISMATCH"],
      ["date::add(day, 1)", "TYPE_MISMATCH"],
      ["date::format(day, '%Q')", "INVALID_ARGUMENT"],
      ["date::add('9999-12-31', 1d)", "ARITHMETIC_OVERFLOW"],
    ],
    row,
  );

  it("reads the clock only from the scope", () => {
    assert.throws(
      () => compileExpression(parseExpression("date::now()"))({ row: {} }),
      (error: unknown) => error instanceof DbError && error.code === "EVAL_ERROR",
    );
  });
});

describe("is::", () => {
  table([
    ["is::none(x)", true],
    ["is::none(0)", false],
    ["is::some(x)", false],
    ["is::some('')", true],
    ["is::none(none)", true],
  ]);
});

describe("json::", () => {
  table(
    [
      ["json::serialize(json::object('a', 1, 'b', [true, none]))", '{"a":1,"b":[true,null]}'],
      ["json::serialize(json::array(1, 'x', none))", '[1,"x",null]'],
      ["json::serialize(json::object())", "{}"],
      ["json::serialize(x)", "null"],
      ["json::serialize(18446744073709551616)", '"18446744073709551616"'],
      ["json::serialize({d: 1h, n: 1.5})", '{"d":"1h","n":1.5}'],
      ["json::serialize(b)", '"0x010203"'],
      ["json::serialize(dec)", '"1.50"'.replace("1.50", "1.5")],
      ["json::serialize('quote\"')", '"quote\\""'],
    ],
    { b: new Uint8Array([1, 2, 3]), dec: dec("1.50") },
  );

  it("builds objects and arrays", () => {
    assert.deepEqual(run("json::object('a', 1, 'b', x)"), { a: 1, b: null });
    assert.deepEqual(run("json::array(1, [2])"), [1, [2]]);
    const twice = compileExpression(parseExpression("json::array(x)"));
    const first = twice({ row: { x: 1 } });
    twice({ row: { x: 2 } });
    assert.deepEqual(first, [1], "results never share the argument buffer");
  });

  errorTable([
    ["json::object('a', 1, 'a', 2)", "INVALID_ARGUMENT"],
    ["json::object(1, 2)", "TYPE_MISMATCH"],
  ]);
});

describe("registry", () => {
  it("lists the aggregate names", () => {
    assert.deepEqual([...aggregateFunctionNames].sort(), [
      "math::avg",
      "math::count",
      "math::first",
      "math::last",
      "math::max",
      "math::min",
      "math::sum",
    ]);
  });

  it("recognises aggregate calls; two-argument min and max are scalar", () => {
    const cases: [string, boolean][] = [
      ["math::sum(x)", true],
      ["math::count(x)", true],
      ["math::first(x)", true],
      ["math::min(x)", true],
      ["math::max(x, y)", false],
      ["math::abs(x)", false],
      ["x", false],
    ];
    for (const [source, expected] of cases) {
      assert.equal(isAggregateCall(parseExpression(source)), expected, source);
    }
  });

  it("has every function the spec lists", () => {
    const names = new Set<string>();
    forEachFunction((spec) => names.add(`${spec.namespace}::${spec.name}`));
    const required = {
      math: "abs ceil floor round power sqrt min max clamp mod",
      text: "length lower upper trim contains starts_with ends_with substring replace concat",
      date: "now year month day add diff format",
      datetime: "now year month day add diff format",
      is: "none some",
      json: "object array serialize",
    };
    for (const [namespace, list] of Object.entries(required)) {
      for (const name of list.split(" ")) assert.ok(names.has(`${namespace}::${name}`), name);
    }
  });
});
