// Goal: properties that tables cannot cover. (a) Any AST printed with printExpression parses
// back to the same AST, so printer and parser agree on precedence, literals and escapes.
// (b) No input makes the lexer, parser or compiler throw anything but a DbError with an
// expected code (never a TypeError, RangeError or stack overflow). (c) Integer arithmetic is
// exact: random expressions over integers up to 128 bits evaluate to what a BigInt reference
// evaluator computes, including DIVISION_BY_ZERO and ARITHMETIC_OVERFLOW.
// Method: fast-check with recursive arbitraries (fixed seeds would hide nothing here, so runs
// are random; a failure prints its seed and shrunk counterexample).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  compileExpression,
  compilePredicate,
  parseExpression,
  printExpression,
} from "../../src/expr/index.ts";
import type { BinaryOp, Expr } from "../../src/expr/index.ts";
import { forEachFunction } from "../../src/expr/functions/index.ts";
import { DbError } from "../../src/lib/errors.ts";
import { Duration } from "../../src/values/index.ts";

const pos = { offset: 0, line: 1, col: 1 };
const reserved = new Set([
  "true",
  "false",
  "none",
  "null",
  "and",
  "or",
  "xor",
  "not",
  "between",
  "in",
]);

/** Drops positions so trees from different sources compare by shape and values only. */
function strip(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(strip);
  if (value instanceof Duration) return { duration: value.ms };
  if (typeof value !== "object" || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    // Positions and a float's source spelling belong to the text, not to the meaning.
    if (key !== "pos" && key !== "text") out[key] = strip(inner);
  }
  return out;
}

const rootName = fc
  .stringMatching(/^[a-zA-Z_][a-zA-Z0-9_]{0,6}$/)
  .filter((name) => !reserved.has(name.toLowerCase()));
const segment = fc.oneof(
  rootName,
  fc.stringMatching(/^[0-9][a-z0-9]{0,3}$/),
  fc.constantFrom("in", "and", "名前"),
);

const literal: fc.Arbitrary<Expr> = fc.oneof(
  fc.constant<Expr>({ type: "literal", kind: "none", value: null, pos }),
  fc.boolean().map((value): Expr => ({ type: "literal", kind: "bool", value, pos })),
  fc.nat().map((value): Expr => ({ type: "literal", kind: "integer", value, pos })),
  fc
    .bigInt({ min: 2n ** 53n, max: 2n ** 128n - 1n })
    .map((value): Expr => ({ type: "literal", kind: "integer", value, pos })),
  fc.double({ min: 0, max: 1e300, noNaN: true }).map((value): Expr => ({
    type: "literal",
    kind: "float",
    value: value === 0 ? 0 : value,
    pos,
  })),
  fc
    .string({ unit: "binary", maxLength: 8 })
    .map((value): Expr => ({ type: "literal", kind: "string", value, pos })),
  fc
    .integer({ min: 0, max: 10 ** 12 })
    .map((ms): Expr => ({ type: "literal", kind: "duration", value: new Duration(ms), pos })),
);

const leaf: fc.Arbitrary<Expr> = fc.oneof(
  literal,
  fc
    .tuple(rootName, fc.array(segment, { maxLength: 3 }))
    .map(([root, rest]): Expr => ({ type: "field", path: [root, ...rest], pos })),
  fc
    .oneof(rootName, fc.integer({ min: 1, max: 99 }))
    .map((name): Expr => ({ type: "param", name, pos })),
);

const binaryOps: BinaryOp[] = [
  "+",
  "-",
  "*",
  "/",
  "%",
  "==",
  "!=",
  "<",
  "<=",
  ">",
  ">=",
  "and",
  "or",
  "xor",
  "??",
];
const functions: { namespace: string; name: string; min: number; max: number }[] = [];
forEachFunction((spec) => {
  if (spec.arityEven !== true) {
    functions.push({
      namespace: spec.namespace,
      name: spec.name,
      min: spec.arityMin,
      max: Math.min(spec.arityMax, 3),
    });
  }
});

const { expr } = fc.letrec<{ expr: Expr }>((tie) => {
  const child = (): fc.Arbitrary<Expr> => tie("expr");
  return {
    expr: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      leaf,
      fc
        .tuple(fc.constantFrom<"-" | "not">("-", "not"), child())
        .map(([op, operand]): Expr => ({ type: "unary", op, operand, pos })),
      fc
        .tuple(fc.constantFrom(...binaryOps), child(), child())
        .map(([op, left, right]): Expr => ({ type: "binary", op, left, right, pos })),
      fc
        .tuple(fc.boolean(), child(), child(), child())
        .map(([negated, operand, low, high]): Expr => ({
          type: "between",
          negated,
          operand,
          low,
          high,
          pos,
        })),
      fc
        .tuple(fc.boolean(), child(), child())
        .map(([negated, operand, list]): Expr => ({ type: "in", negated, operand, list, pos })),
      fc.array(child(), { maxLength: 3 }).map((items): Expr => ({ type: "list", items, pos })),
      fc
        .uniqueArray(fc.tuple(fc.string({ maxLength: 4 }), child()), {
          maxLength: 3,
          selector: ([key]) => key,
        })
        .map((entries): Expr => ({
          type: "record",
          entries: entries.map(([key, value]) => ({ key, value, pos })),
          pos,
        })),
      fc.constantFrom(...functions).chain((fn) =>
        fc.array(child(), { minLength: fn.min, maxLength: fn.max }).map((args): Expr => ({
          type: "call",
          namespace: fn.namespace,
          name: fn.name,
          args,
          pos,
        })),
      ),
    ),
  };
});

describe("properties: printing then parsing", () => {
  it("gives back an equal AST", () => {
    fc.assert(
      fc.property(expr, (ast) => {
        const source = printExpression(ast);
        assert.deepEqual(strip(parseExpression(source)), strip(ast), source);
      }),
      { numRuns: 2000 },
    );
  });
});

const allowedParseCodes = new Set(["RQL_PARSE", "LIMIT_EXCEEDED", "UNKNOWN_FUNCTION"]);
const allowedCompileCodes = new Set([
  ...allowedParseCodes,
  "TYPE_MISMATCH",
  "UNKNOWN_COLUMN",
  "INVALID_ARGUMENT",
]);

/** Fragments that reach deep into the grammar far more often than random characters do. */
const fragments = [
  "(",
  ")",
  "[",
  "]",
  "{",
  "}",
  ",",
  ":",
  ".",
  "-",
  "+",
  "*",
  "/",
  "%",
  "==",
  "!=",
  "<",
  ">=",
  "!",
  "&&",
  "||",
  "??",
  "=",
  "not",
  "and",
  "or",
  "xor",
  "in",
  "between",
  "none",
  "true",
  "a",
  "ctx",
  "payload",
  "x1",
  "1",
  "0",
  ".5",
  "5.",
  "1e3",
  "1e",
  "30s",
  "1h30m",
  "'s'",
  '"t',
  "\\",
  "$p",
  "$1",
  "$",
  "math::abs",
  "math::min",
  "text::concat",
  "math::sum",
  "::",
  " ",
  "\n",
  "-- c\n",
  "\u3000",
  "😀",
  "'\\u{41}'",
  "'\\q'",
  "9999999999999999999999",
];
const noisy = fc.oneof(
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.array(fc.constantFrom(...fragments), { maxLength: 25 }).map((parts) => parts.join("")),
  fc.array(fc.constantFrom(...fragments), { maxLength: 25 }).map((parts) => parts.join(" ")),
);

function onlyDbErrors(codes: ReadonlySet<string>, action: () => void): void {
  try {
    action();
  } catch (error) {
    if (!(error instanceof DbError) || !codes.has(error.code)) throw error;
  }
}

describe("properties: arbitrary input", () => {
  it("never makes the parser throw anything but its three error codes", () => {
    fc.assert(
      fc.property(noisy, fc.constantFrom<"rql" | "guard">("rql", "guard"), (source, semantics) => {
        onlyDbErrors(allowedParseCodes, () => parseExpression(source, { semantics }));
      }),
      { numRuns: 5000 },
    );
  });

  it("survives pathological nesting without a stack overflow", () => {
    for (const source of [
      "(".repeat(100_000),
      "[".repeat(100_000),
      "-".repeat(100_000) + "1",
      "not ".repeat(50_000),
      "1+".repeat(100_000) + "1",
      "{a:".repeat(50_000),
    ]) {
      onlyDbErrors(allowedParseCodes, () => parseExpression(source));
    }
  });

  it("never makes the compiler throw anything but a compile-time DbError", () => {
    fc.assert(
      fc.property(noisy, fc.constantFrom<"rql" | "guard">("rql", "guard"), (source, semantics) => {
        onlyDbErrors(allowedCompileCodes, () => {
          const ast = parseExpression(source, { semantics });
          compilePredicate(ast, { semantics });
        });
      }),
      { numRuns: 5000 },
    );
  });
});

// ---- Exact integer arithmetic against a BigInt reference ----

type IntExpr =
  | { op: "lit"; value: bigint }
  | { op: "neg"; operand: IntExpr }
  | { op: "+" | "-" | "*" | "/" | "%"; left: IntExpr; right: IntExpr };

const wideMin = -(2n ** 127n);
const wideMax = 2n ** 128n - 1n;

class Failure extends Error {
  constructor(readonly code: string) {
    super(code);
  }
}

function reference(node: IntExpr): bigint {
  const checked = (value: bigint): bigint => {
    if (value < wideMin || value > wideMax) throw new Failure("ARITHMETIC_OVERFLOW");
    return value;
  };
  switch (node.op) {
    case "lit":
      return node.value;
    case "neg":
      return checked(-reference(node.operand));
    default: {
      const a = reference(node.left);
      const b = reference(node.right);
      if ((node.op === "/" || node.op === "%") && b === 0n) throw new Failure("DIVISION_BY_ZERO");
      const results = {
        "+": a + b,
        "-": a - b,
        "*": a * b,
        "/": b === 0n ? 0n : a / b,
        "%": b === 0n ? 0n : a % b,
      };
      return checked(results[node.op]);
    }
  }
}

function toAst(node: IntExpr): Expr {
  switch (node.op) {
    case "lit": {
      const value = node.value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(node.value) : node.value;
      return { type: "literal", kind: "integer", value, pos };
    }
    case "neg":
      return { type: "unary", op: "-", operand: toAst(node.operand), pos };
    default:
      return { type: "binary", op: node.op, left: toAst(node.left), right: toAst(node.right), pos };
  }
}

const integerLiteral = fc
  .oneof(
    fc.bigInt({ min: 0n, max: 20n }),
    fc.bigInt({ min: 0n, max: 2n ** 53n + 10n }),
    fc.bigInt({ min: 0n, max: 2n ** 64n }),
    fc.bigInt({ min: 0n, max: wideMax }),
  )
  .map((value): IntExpr => ({ op: "lit", value }));

const { intExpr } = fc.letrec<{ intExpr: IntExpr }>((tie) => ({
  intExpr: fc.oneof(
    { depthSize: "small" },
    integerLiteral,
    tie("intExpr").map((operand): IntExpr => ({ op: "neg", operand })),
    fc
      .tuple(fc.constantFrom("+", "-", "*", "/", "%"), tie("intExpr"), tie("intExpr"))
      .map(([op, left, right]): IntExpr => ({ op: op as "+", left, right })),
  ),
}));

describe("properties: integer arithmetic", () => {
  it("matches a BigInt reference evaluator, errors included", () => {
    fc.assert(
      fc.property(intExpr, (node) => {
        const source = printExpression(toAst(node));
        let expected: unknown;
        try {
          const value = reference(node);
          expected = Number.isSafeInteger(Number(value)) ? Number(value) : value;
        } catch (error) {
          if (!(error instanceof Failure)) throw error;
          expected = error;
        }
        const evaluate = compileExpression(parseExpression(source));
        if (expected instanceof Failure) {
          const code = expected.code;
          assert.throws(
            () => evaluate({ row: {} }),
            (e: unknown) => e instanceof DbError && e.code === code,
            source,
          );
        } else {
          assert.equal(evaluate({ row: {} }), expected, source);
        }
      }),
      { numRuns: 3000 },
    );
  });
});
