// Goal: compiled expressions follow RQL semantics (specs/rql.md "Expressions"): none rules,
// Kleene logic, between/in, ??, integer versus float division, exact integers up to 128 bits,
// errors for overflow and division by zero, compile-time name and type checks with positions,
// and the specialised fast paths agreeing with the general rules.
// Method: evaluate small expressions against rows and parameters; compare values and errors.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  compileExpression,
  compilePredicate,
  inferType,
  parseExpression,
} from "../../src/expr/index.ts";
import type { CompileOptions, Scope } from "../../src/expr/index.ts";
import { DbError } from "../../src/lib/errors.ts";
import { Decimal, Duration, parseType } from "../../src/values/index.ts";
import type { ValueType } from "../../src/values/index.ts";

function evaluate(source: string, row: Record<string, unknown> = {}, options: CompileOptions = {}, params?: Scope["params"]): unknown {
  const scope: Scope = params === undefined ? { row } : { row, params };
  return compileExpression(parseExpression(source), options)(scope);
}

function fails(source: string, code: string, row: Record<string, unknown> = {}, options: CompileOptions = {}): DbError {
  try {
    evaluate(source, row, options);
  } catch (error) {
    assert.ok(error instanceof DbError, String(error));
    assert.equal(error.code, code, error.message);
    return error;
  }
  assert.fail(`expected ${code} from ${source}`);
}

function typed(spec: Record<string, string | undefined>): ReadonlyMap<string, ValueType | undefined> {
  return new Map(Object.entries(spec).map(([name, type]) => [name, type === undefined ? undefined : parseType(type)]));
}

describe("rql: none", () => {
  it("propagates through arithmetic and negation", () => {
    for (const source of ["none + 1", "1 - none", "x * 2", "-x", "x / 0", "x % 2", "'a' + x"]) {
      assert.equal(evaluate(source), null, source);
    }
  });

  it("makes every comparison none", () => {
    const sources = ["x == 1", "x != 1", "x < 1", "x <= 1", "x > 1", "x >= 1", "x == none", "none == none", "1 != none", "x between 1 and 2", "1 between x and 2", "x in [1]", "1 in x", "x not in [1]"];
    for (const source of sources) assert.equal(evaluate(source), null, source);
  });

  it("is replaced by ??", () => {
    assert.equal(evaluate("x ?? 5"), 5);
    assert.equal(evaluate("x ?? 5", { x: 0 }), 0);
    assert.equal(evaluate("x ?? y ?? 'z'"), "z");
    assert.equal(evaluate("x ?? false", { x: false }), false);
  });

  it("is tested with is::none and is::some", () => {
    assert.equal(evaluate("is::none(x)"), true);
    assert.equal(evaluate("is::some(x)", { x: 0 }), true);
    assert.equal(evaluate("is::none(x.y)", { x: { y: 1 } }), false);
  });

  it("makes a filter drop the row", () => {
    const keep = compilePredicate(parseExpression("total > 100"));
    assert.equal(keep({ row: { total: 150 } }), true);
    assert.equal(keep({ row: { total: null } }), false);
    assert.equal(keep({ row: {} }), false);
    const negated = compilePredicate(parseExpression("not (total > 100)"));
    assert.equal(negated({ row: {} }), false);
  });
});

describe("rql: three-valued logic", () => {
  const T = true;
  const F = false;
  const N = null;
  const values = [T, F, N];
  const and = (a: boolean | null, b: boolean | null): boolean | null => (a === F || b === F ? F : a === N || b === N ? N : T);
  const or = (a: boolean | null, b: boolean | null): boolean | null => (a === T || b === T ? T : a === N || b === N ? N : F);
  const xor = (a: boolean | null, b: boolean | null): boolean | null => (a === N || b === N ? N : a !== b);
  for (const a of values) {
    for (const b of values) {
      it(`${a} and/or/xor ${b}`, () => {
        const row = { a, b };
        assert.equal(evaluate("a and b", row), and(a, b));
        assert.equal(evaluate("a && b", row), and(a, b));
        assert.equal(evaluate("a or b", row), or(a, b));
        assert.equal(evaluate("a || b", row), or(a, b));
        assert.equal(evaluate("a xor b", row), xor(a, b));
      });
    }
    it(`not ${a}`, () => {
      assert.equal(evaluate("not a", { a }), a === null ? null : !a);
      assert.equal(evaluate("!a", { a }), a === null ? null : !a);
    });
  }

  it("short-circuits once the left side decides", () => {
    assert.equal(evaluate("false and 1 / 0 == 1"), false);
    assert.equal(evaluate("true or 1 / 0 == 1"), true);
    assert.throws(() => evaluate("none and 1 / 0 == 1"), /division by zero/);
  });

  it("reads non-boolean operands by truthiness", () => {
    assert.equal(evaluate("a and b", { a: 1, b: "x" }), true);
    assert.equal(evaluate("a or b", { a: 0, b: "" }), false);
    assert.equal(evaluate("not a", { a: [] }), true);
  });
});

describe("rql: comparisons", () => {
  it("compares numbers across representations", () => {
    assert.equal(evaluate("a == b", { a: 1, b: new Decimal.fromNumber(1) as never }), true);
  });
});
