// Goal: the RQL parser never crashes and always points at its errors, reads any spelling of a
// pipeline the spec allows (keyword case, `|` or newlines between steps, comments, optional
// filter braces) into the same tree, and parses a repeated text once.
// Method: fast-check. (1) Random token soups and random mutations of valid scripts either
// parse or throw a DbError of a parse code whose line and column lie inside the text and
// whose fragment is the text found there. (2) Random pipeline models are printed with random
// spellings, parsed, and the tree is compared with the model. (3) The cache is checked by
// object identity.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { DbError } from "../../src/index.ts";
import { parseScript, parseScriptCached } from "../../src/rql/index.ts";
import type { Step } from "../../src/rql/index.ts";

const parseCodes = new Set(["RQL_PARSE", "UNKNOWN_FUNCTION", "LIMIT_EXCEEDED"]);

/** Parses `text`; on error checks the error is positioned inside the text. */
function parseOrPositionedError(text: string): void {
  try {
    parseScript(text);
  } catch (error) {
    assert.ok(error instanceof DbError, `not a DbError: ${String(error)}`);
    assert.ok(parseCodes.has(error.code), `${error.code}: ${error.message}`);
    const { line, col, fragment } = error.details;
    if (error.code === "LIMIT_EXCEEDED" && line === undefined) return;
    assert.equal(typeof line, "number", error.message);
    assert.equal(typeof col, "number", error.message);
    const lines = text.split("\n");
    assert.ok(line! >= 1 && line! <= lines.length, `line ${line} of ${lines.length}`);
    const lineText = lines[line! - 1]!;
    assert.ok(col! >= 1 && col! <= lineText.length + 1, `col ${col} of ${lineText.length}`);
    if (typeof fragment === "string" && fragment.length > 0 && !fragment.includes("\n")) {
      // Compile-time fragments are printed expressions; token fragments are the text itself.
      if (error.code === "RQL_PARSE") {
        assert.equal(lineText.slice(col! - 1, col! - 1 + fragment.length), fragment, error.message);
      }
    }
  }
}

const words = [
  "from",
  "filter",
  "map",
  "extend",
  "aggregate",
  "by",
  "sort",
  "take",
  "distinct",
  "inner",
  "left",
  "join",
  "as",
  "using",
  "append",
  "insert",
  "update",
  "delete",
  "returning",
  "create",
  "table",
  "namespace",
  "index",
  "unique",
  "view",
  "drop",
  "counter",
  "add",
  "histogram",
  "record",
  "queue",
  "claim",
  "ack",
  "call",
  "of",
  "with",
  "if",
  "not",
  "exists",
  "and",
  "or",
  "desc",
  "shop::orders",
  "math::sum",
  "text::nope",
  "a",
  "b",
  "x.y",
  "$1",
  "$name",
  "1",
  "2.5",
  '"s"',
  "'t'",
  "none",
  "true",
  "{",
  "}",
  "[",
  "]",
  "(",
  ")",
  ",",
  ":",
  ";",
  "|",
  "==",
  "<",
  "+",
  "*",
  "/",
  "--c\n",
  "\n",
  "30s",
  "@",
  '"open',
];

test("random token soups parse or fail with a positioned parse error", () => {
  fc.assert(
    fc.property(fc.array(fc.constantFrom(...words), { maxLength: 40 }), (tokens) => {
      parseOrPositionedError(tokens.join(" "));
    }),
    { numRuns: 1500 },
  );
});

const valid = [
  'from shop::orders filter { status == "open" and total > 100 } map { id, t: total * 2 } sort ' +
    "{ t: desc } take 10",
  'insert shop::orders [{ id: 1, c: "a" }, (2, "b")]; update shop::orders { a: 1 } filter { id ' +
    "== 1 } returning { id }",
  "create table t { id: int8 with { auto_increment }, n: Option(utf8) } with { primary_key: { " +
    "id } }",
  "from a inner join { from b filter x > 1 } as y using (k, y.k) aggregate { n: math::count(k) " +
    "} by { k }",
];

test("random edits of valid scripts parse or fail with a positioned parse error", () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...valid),
      fc.nat(),
      fc.nat(),
      fc.string({ maxLength: 4 }),
      (text, at, cut, insert) => {
        const i = at % (text.length + 1);
        parseOrPositionedError(text.slice(0, i) + insert + text.slice(i + (cut % 5)));
      },
    ),
    { numRuns: 1500 },
  );
});

// ---- Printed pipelines read back as their model ----

type StepModel =
  | { type: "filter"; column: string; value: number; braces: boolean }
  | { type: "map"; columns: string[] }
  | { type: "sort"; column: string; descending: boolean }
  | { type: "take"; count: number }
  | { type: "distinct"; columns: string[] };

const column = fc.constantFrom("a", "b", "c", "total");
const stepModel: fc.Arbitrary<StepModel> = fc.oneof(
  fc.record({
    type: fc.constant("filter" as const),
    column,
    value: fc.integer({ min: -5, max: 500 }),
    braces: fc.boolean(),
  }),
  fc.record({
    type: fc.constant("map" as const),
    columns: fc.uniqueArray(column, { minLength: 1 }),
  }),
  fc.record({ type: fc.constant("sort" as const), column, descending: fc.boolean() }),
  fc.record({ type: fc.constant("take" as const), count: fc.nat(100) }),
  fc.record({ type: fc.constant("distinct" as const), columns: fc.uniqueArray(column) }),
);

function spell(word: string, upper: boolean): string {
  return upper ? word.toUpperCase() : word;
}

function printStep(step: StepModel, upper: boolean): string {
  const k = (word: string): string => spell(word, upper);
  switch (step.type) {
    case "filter":
      return step.braces
        ? `${k("filter")} { ${step.column} >= ${step.value} }`
        : `${k("filter")} ${step.column} >= ${step.value}`;
    case "map":
      return `${k("map")} { ${step.columns.join(", ")} }`;
    case "sort":
      return `${k("sort")} { ${step.column}${step.descending ? `: ${k("desc")}` : ""} }`;
    case "take":
      return `${k("take")} ${step.count}`;
    case "distinct":
      return `${k("distinct")} { ${step.columns.join(", ")} }`;
  }
}

function checkStep(step: Step, model: StepModel): void {
  assert.equal(step.type, model.type);
  if (step.type === "filter" && model.type === "filter") {
    assert.equal(step.predicate.type, "binary");
  } else if (step.type === "map" && model.type === "map") {
    assert.deepEqual(
      step.columns.map((c) => c.name),
      model.columns,
    );
  } else if (step.type === "sort" && model.type === "sort") {
    assert.deepEqual(
      step.keys.map((key) => [key.column, key.descending]),
      [[model.column, model.descending]],
    );
  } else if (step.type === "take" && model.type === "take") {
    assert.deepEqual(step.count.type === "literal" && step.count.value, model.count);
  } else if (step.type === "distinct" && model.type === "distinct") {
    assert.deepEqual(step.columns, model.columns);
  }
}

test("printed pipelines read back as their model, whatever the spelling", () => {
  const separator = fc.constantFrom(" ", "\n", " | ", "\n| ", " -- note\n");
  fc.assert(
    fc.property(
      fc.array(fc.tuple(stepModel, separator, fc.boolean()), { maxLength: 8 }),
      fc.boolean(),
      (steps, upper) => {
        let text = `${spell("from", upper)} shop::orders`;
        for (const [step, sep, stepUpper] of steps) text += sep + printStep(step, stepUpper);
        const script = parseScript(text);
        assert.equal(script.statements.length, 1);
        const statement = script.statements[0]!;
        assert.equal(statement.type, "query");
        if (statement.type !== "query") return;
        assert.equal(statement.pipeline.source.type, "object");
        assert.equal(statement.pipeline.steps.length, steps.length);
        statement.pipeline.steps.forEach((step, i) => checkStep(step, steps[i]![0]));
      },
    ),
    { numRuns: 500 },
  );
});

test("scripts: ; separates statements, empty statements are skipped, params are counted", () => {
  const script = parseScript("from a;; from b where_not_a_step; ".replace(" where_not_a_step", ""));
  assert.equal(script.statements.length, 2);
  assert.equal(parseScript("from a filter x == $3 and y == $1").positionalParamsMax, 3);
  assert.equal(parseScript("").statements.length, 0);
});

test("a repeated text is parsed once", () => {
  const text = `from cache::probe filter { id == $id } take ${Date.now() % 1000}`;
  const first = parseScriptCached(text);
  assert.equal(parseScriptCached(text), first);
  assert.equal(parseScriptCached(text).script, first.script);
});
