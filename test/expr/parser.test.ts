// Goal: the parser builds the right tree for every precedence level and literal form, stops
// where an embedded expression ends (for the RQL parser), and reports errors with line,
// column and fragment, including trailing input and the nesting limit.
// Method: parse, then compare a fully parenthesised rendering of the tree (positions aside);
// errors are matched on code, message and details.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  compileExpression,
  ExpressionParser,
  TokenCursor,
  parseExpression,
  printExpression,
  tokenize,
} from "../../src/expr/index.ts";
import type { Expr } from "../../src/expr/index.ts";
import { DbError } from "../../src/lib/errors.ts";
import { queryDepthMax, functionArgumentsMax } from "../../src/lib/limits.ts";

/** Renders a tree with every operator parenthesised, so the shape is visible in one string. */
function shape(node: Expr): string {
  switch (node.type) {
    case "binary":
      return `(${shape(node.left)} ${node.op} ${shape(node.right)})`;
    case "unary":
      return `(${node.op} ${shape(node.operand)})`;
    case "between":
      return (
        `(${shape(node.operand)} ${node.negated ? "not " : ""}between ` +
        `${shape(node.low)} and ${shape(node.high)})`
      );
    case "in":
      return `(${shape(node.operand)} ${node.negated ? "not " : ""}in ${shape(node.list)})`;
    case "list":
      return `[${node.items.map(shape).join(", ")}]`;
    case "record":
      return `{${node.entries.map((e) => `${e.key}: ${shape(e.value)}`).join(", ")}}`;
    case "call":
      return `${node.namespace}::${node.name}(${node.args.map(shape).join(", ")})`;
    default:
      return printExpression(node);
  }
}

function parsesAs(source: string, expected: string): void {
  assert.equal(shape(parseExpression(source)), expected, source);
}

function parseError(source: string, code = "RQL_PARSE", options = {}): DbError {
  try {
    parseExpression(source, options);
  } catch (error) {
    assert.ok(error instanceof DbError, String(error));
    assert.equal(error.code, code, error.message);
    return error;
  }
  assert.fail(`expected ${code} for ${source}`);
}

describe("parser: precedence", () => {
  const cases: [string, string][] = [
    ["1 + 2 * 3", "(1 + (2 * 3))"],
    ["1 - 2 - 3", "((1 - 2) - 3)"],
    ["8 / 4 / 2", "((8 / 4) / 2)"],
    ["a % b * c", "((a % b) * c)"],
    ["-a * b", "((- a) * b)"],
    ["- - a", "(- (- a))"],
    ["a ?? b + 1", "(a ?? (b + 1))"],
    ["a ?? b ?? c", "((a ?? b) ?? c)"],
    ["a + 1 == b ?? 2", "((a + 1) == (b ?? 2))"],
    ["a == 1 and b != 2", "((a == 1) and (b != 2))"],
    ["a or b and c", "(a or (b and c))"],
    ["a || b && c", "(a or (b and c))"],
    ["a && b || c && d", "((a and b) or (c and d))"],
    ["a xor b or c", "((a xor b) or c)"],
    ["a and b xor c", "((a and b) xor c)"],
    ["not a and b", "((not a) and b)"],
    ["!a == 1", "(not (a == 1))"],
    ["not not a", "(not (not a))"],
    ["!a || b", "((not a) or b)"],
    ["a between 1 and 5 and b", "((a between 1 and 5) and b)"],
    ["a not between 1 + 1 and 5", "(a not between (1 + 1) and 5)"],
    ["a in [1, 2] or b not in [3]", "((a in [1, 2]) or (b not in [3]))"],
    ["(1 + 2) * 3", "((1 + 2) * 3)"],
    ["a < b", "(a < b)"],
    ["a <= b", "(a <= b)"],
    ["a >= b", "(a >= b)"],
    ["a > -1", "(a > (- 1))"],
    ["AND_x and TRUE", "(AND_x and true)"],
    ["a AND b OR NOT c", "((a and b) or (not c))"],
  ];
  for (const [source, expected] of cases) {
    it(`parses ${source}`, () => parsesAs(source, expected));
  }
});

describe("parser: primaries", () => {
  it("parses literals of every kind", () => {
    const literal = (source: string): unknown => {
      const node = parseExpression(source);
      assert.equal(node.type, "literal");
      return node.type === "literal" ? [node.kind, node.value] : undefined;
    };
    assert.deepEqual(literal("true"), ["bool", true]);
    assert.deepEqual(literal("FALSE"), ["bool", false]);
    assert.deepEqual(literal("none"), ["none", null]);
    assert.deepEqual(literal("null"), ["none", null]);
    assert.deepEqual(literal("12"), ["integer", 12]);
    assert.deepEqual(literal("2.0"), ["float", 2]);
    assert.deepEqual(literal("'x'"), ["string", "x"]);
    const duration = parseExpression("1h30m");
    assert.ok(duration.type === "literal" && duration.kind === "duration");
  });

  it("parses field paths, keeping keyword and digit segments as names", () => {
    const node = parseExpression("ctx.customer.in.0");
    assert.ok(node.type === "field");
    assert.deepEqual(node.path, ["ctx", "customer", "in", "0"]);
  });

  it("parses parameters", () => {
    assert.deepEqual(
      [parseExpression("$amount"), parseExpression("$2")].map((n) =>
        n.type === "param" ? n.name : undefined,
      ),
      ["amount", 2],
    );
  });

  it("parses lists and records, with trailing commas and shorthand keys", () => {
    parsesAs("[]", "[]");
    parsesAs("[1, [2, 3],]", "[1, [2, 3]]");
    parsesAs('{a: 1, "b c": x + 1, d}', "{a: 1, b c: (x + 1), d: d}");
    parsesAs("{}", "{}");
    parsesAs("{true: 1}", "{true: 1}");
  });

  it("parses calls with lowercased names", () => {
    parsesAs("MATH::Abs(-1)", "math::abs((- 1))");
    parsesAs("text::concat('a', b, 1 + 2)", 'text::concat("a", b, (1 + 2))');
    parsesAs("date::now()", "date::now()");
  });

  it("records positions of nodes: operators at their token", () => {
    const node = parseExpression("a +\n  b * c");
    assert.ok(node.type === "binary");
    assert.deepEqual(node.pos, { offset: 2, line: 1, col: 3 });
    assert.ok(node.right.type === "binary");
    assert.deepEqual(node.right.pos, { offset: 8, line: 2, col: 5 });
    assert.deepEqual(node.left.pos, { offset: 0, line: 1, col: 1 });
  });
});

describe("parser: errors", () => {
  const cases: [string, number, number, string, RegExp][] = [
    ["math::abs(, 1)", 1, 11, ",", /expected an expression, found ","/],
    ["a + ", 1, 5, "", /expected an expression, found end of input/],
    ["(a + b", 1, 7, "", /expected "\)" to close "\(" from line 1, column 1/],
    ["a + (b * )", 1, 10, ")", /^line 1, column 10: expected an expression, found "\)"$/],
    ["[1, 2", 1, 6, "", /expected "\]"/],
    ["{a 1}", 1, 4, "1", /expected "}" to close "{" from line 1, column 1, found "1"/],
    ['{"a" 1}', 1, 6, "1", /expected ":" after key/],
    ["{a: 1, a: 2}", 1, 8, "a", /duplicate key "a"/],
    ["{1: 2}", 1, 2, "1", /expected a record key/],
    ["a = 1", 1, 3, "=", /unexpected "=" after the expression \(use "==" to compare\)/],
    ["a b", 1, 3, "b", /unexpected "b" after the expression/],
    ["1 < 2 < 3", 1, 7, "<", /comparisons do not chain/],
    ["x between 1 or 2", 1, 13, "or", /expected "and" between the bounds/],
    ["a.", 1, 3, "", /empty field name/],
    ["a. 5", 1, 4, "5", /expected a field name/],
    ["and", 1, 1, "and", /expected an expression, found "and"/],
    ["a == not b", 1, 6, "not", /expected an expression/],
    ["math::", 1, 7, "", /expected a function name/],
    ["math::abs 1", 1, 11, "1", /expected "\(" after math::abs/],
  ];
  for (const [source, line, col, fragment, message] of cases) {
    it(`rejects ${JSON.stringify(source)}`, () => {
      const error = parseError(source);
      assert.equal(error.details.line, line, error.message);
      assert.equal(error.details.col, col, error.message);
      assert.equal(error.details.fragment, fragment, error.message);
      assert.match(error.message, message);
    });
  }
});

describe("parser: names and limits", () => {
  it("rejects unknown functions at parse time, naming them and their position", () => {
    const error = parseError("1 +\n  shop::frobnicate(1)", "UNKNOWN_FUNCTION");
    assert.equal(error.message, "line 2, column 3: unknown function shop::frobnicate");
    assert.deepEqual([error.details.line, error.details.col], [2, 3]);
    assert.equal(error.details.fragment, "shop::frobnicate");
  });

  it("rejects calls without a namespace as unknown functions", () => {
    const error = parseError("f(1)", "UNKNOWN_FUNCTION");
    assert.match(error.message, /^line 1, column 1: unknown function f: functions are called as/);
  });

  it("accepts aggregate names as calls (the RQL layer evaluates them)", () => {
    parsesAs("math::sum(x) / math::count(x)", "(math::sum(x) / math::count(x))");
  });

  it("limits nesting depth with LIMIT_EXCEEDED at the offending token", () => {
    const ok = "(".repeat(queryDepthMax - 1) + "1" + ")".repeat(queryDepthMax - 1);
    parseExpression(ok);
    const deep = "(".repeat(queryDepthMax + 1) + "1" + ")".repeat(queryDepthMax + 1);
    const error = parseError(deep, "LIMIT_EXCEEDED");
    assert.equal(error.details.line, 1);
    assert.equal(error.details.col, queryDepthMax + 1);
    assert.match(error.message, /^line 1, column \d+: expression nesting exceeds/);
  });

  it("limits left-leaning operator chains too, so no AST is taller than the limit", () => {
    parseExpression(Array.from({ length: queryDepthMax }, (_, i) => `${i}`).join(" + "));
    const long = Array.from({ length: queryDepthMax + 2 }, (_, i) => `${i}`).join(" + ");
    parseError(long, "LIMIT_EXCEEDED");
    parseError("- ".repeat(queryDepthMax + 1) + "1", "LIMIT_EXCEEDED");
    parseError("not ".repeat(queryDepthMax + 1) + "a", "LIMIT_EXCEEDED");
  });

  it("bounds the height of trees built from nested chains, not only the recursion", () => {
    // Each level nests once but adds seven levels of tree: the height is what must be bounded.
    let nested = "1";
    for (let level = 0; level < 40; level++) nested = `(${nested}${" + 1".repeat(7)})`;
    const error = parseError(nested, "LIMIT_EXCEEDED");
    assert.match(error.message, /^line 1, column \d+: expression nesting exceeds 256 levels$/);
  });

  it("compiles and prints a tree of the maximum height", () => {
    const tallest = Array.from({ length: queryDepthMax }, () => "1").join(" + ");
    const ast = parseExpression(tallest);
    assert.equal(compileExpression(ast)({ row: {} }), queryDepthMax);
    assert.equal(printExpression(ast), tallest);
  });

  it("limits function arguments", () => {
    const args = (n: number): string => Array.from({ length: n }, () => "'a'").join(", ");
    parseExpression(`text::concat(${args(functionArgumentsMax)})`);
    parseError(`text::concat(${args(functionArgumentsMax + 1)})`, "LIMIT_EXCEEDED");
  });

  it("limits the source length", () => {
    parseError(" ".repeat(1024 * 1024 + 1), "LIMIT_EXCEEDED");
  });

  it("names a blank guard as empty, and a blank RQL expression as missing", () => {
    assert.match(
      parseError(" \n\t", "RQL_PARSE", { semantics: "guard" }).message,
      /empty guard expression/,
    );
    assert.match(parseError("-- only a comment", "RQL_PARSE").message, /expected an expression/);
  });
});

describe("parser: embedding in RQL", () => {
  it("parses at a shared cursor and stops where the expression ends", () => {
    const cursor = new TokenCursor(
      tokenize('filter { status == "open" and total > 100 } | take 10'),
    );
    cursor.expectKeyword("filter");
    cursor.expectSymbol("{");
    const parser = new ExpressionParser(cursor);
    assert.equal(shape(parser.parseExpression()), '((status == "open") and (total > 100))');
    cursor.expectSymbol("}");
    cursor.expectSymbol("|");
    assert.ok(cursor.atKeyword("take"));
    cursor.next();
    assert.equal(shape(parser.parseExpression()), "10");
    assert.ok(cursor.atEnd());
  });

  it("stops before keywords and commas that do not continue an expression", () => {
    const cursor = new TokenCursor(tokenize("a + 1 take 5, b"));
    const parser = new ExpressionParser(cursor);
    assert.equal(shape(parser.parseExpression()), "(a + 1)");
    assert.ok(cursor.atKeyword("take"));
  });
});
