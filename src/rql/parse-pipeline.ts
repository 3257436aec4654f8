/**
 * @module The pipeline grammar: `from <source>` followed by steps, one per keyword, optionally
 * separated by `|`. A pipeline ends at the first token that starts no step (`;`, `}`, the end
 * of input), so the same reader serves top-level queries, join and append bodies and views.
 */
import { printExpression } from "../expr/index.ts";
import type {
  AggregateStep,
  JoinKey,
  JoinStep,
  Pipeline,
  SortKey,
  SortStep,
  Source,
  Step,
} from "./ast.ts";
import type { ParseContext } from "./parse-context.ts";
import { positionOf, rqlParseError } from "./parse-context.ts";
import { deadlineTick } from "./deadline.ts";

/** `from X [as of N] [{args}]` or `from [records]`, then steps. */
export function parsePipeline(p: ParseContext): Pipeline {
  const from = p.cursor.expectKeyword("from", " to start a query");
  const source = parseSource(p);
  const steps: Step[] = [];
  for (;;) {
    deadlineTick(1);
    const bar = p.cursor.acceptSymbol("|");
    const step = parseStep(p);
    if (step === undefined) {
      if (bar !== undefined) throw p.unexpected('a pipeline step after "|"');
      return { source, steps, pos: positionOf(from) };
    }
    steps.push(step);
  }
}

function parseSource(p: ParseContext): Source {
  const token = p.peek();
  const pos = positionOf(token);
  if (p.cursor.atSymbol("[")) {
    const rows = p.expression();
    if (rows.type !== "list") throw rqlParseError(pos, "expected a list of records", token.text);
    return { type: "inline", rows, pos };
  }
  const object = p.objectRef("an object name or a list of records after from");
  let asOf;
  if (p.cursor.atKeyword("as") && p.cursor.atKeyword("of", 1)) {
    p.cursor.next();
    p.cursor.next();
    asOf = p.expression();
  }
  let args;
  if (p.cursor.atSymbol("{")) {
    const record = p.expression();
    if (record.type !== "record") throw p.unexpected("an argument record");
    args = record;
  }
  return {
    type: "object",
    object,
    pos,
    ...(asOf === undefined ? {} : { asOf }),
    ...(args === undefined ? {} : { args }),
  };
}

/** One step at the cursor, or undefined when the current token starts none. */
function parseStep(p: ParseContext): Step | undefined {
  const token = p.peek();
  if (token.kind !== "identifier") return undefined;
  const pos = positionOf(token);
  switch (token.value.toLowerCase()) {
    case "filter":
      p.cursor.next();
      return { type: "filter", predicate: parseBracedExpression(p), pos };
    case "map":
      p.cursor.next();
      return { type: "map", columns: p.columnExprs("map"), pos };
    case "extend":
      p.cursor.next();
      return { type: "extend", columns: p.columnExprs("extend"), pos };
    case "aggregate":
      p.cursor.next();
      return parseAggregate(p, pos);
    case "sort":
      p.cursor.next();
      return parseSort(p, pos);
    case "take":
      p.cursor.next();
      return { type: "take", count: p.expression(), pos };
    case "distinct":
      p.cursor.next();
      return {
        type: "distinct",
        columns: p.cursor.atSymbol("{") ? p.nameList("distinct") : [],
        pos,
      };
    case "inner":
    case "left":
    case "join":
      return parseJoin(p);
    case "append":
      p.cursor.next();
      return { type: "append", pipeline: parseBracedPipeline(p, "append"), pos };
    default:
      return undefined;
  }
}

/** `{ expr }` or a bare expression (filter's braces are optional). */
export function parseBracedExpression(p: ParseContext): ReturnType<ParseContext["expression"]> {
  const open = p.cursor.acceptSymbol("{");
  if (open === undefined) return p.expression();
  p.cursor.enter(open);
  const expr = p.expression();
  p.cursor.expectSymbol("}", ` to close "{" from line ${open.line}, column ${open.col}`);
  p.cursor.leave();
  return expr;
}

function parseBracedPipeline(p: ParseContext, what: string): Pipeline {
  const open = p.cursor.expectSymbol("{", ` to open the ${what} query`);
  p.cursor.enter(open);
  const pipeline = parsePipeline(p);
  p.cursor.expectSymbol("}", ` to close the ${what} query`);
  p.cursor.leave();
  return pipeline;
}

function parseAggregate(p: ParseContext, pos: AggregateStep["pos"]): AggregateStep {
  const aggregates = p.columnExprs("aggregate");
  const by = p.cursor.acceptKeyword("by") === undefined ? [] : p.columnExprs("aggregate by");
  // Both name output columns: one of each with the same name would leave only one, unless
  // both are the same expression (`aggregate { n: ..., g } by { g }`).
  const byName = new Map(by.map((column) => [column.name, printExpression(column.expr)]));
  const clash = aggregates.find((column) => {
    const grouped = byName.get(column.name);
    return grouped !== undefined && grouped !== printExpression(column.expr);
  });
  if (clash !== undefined) {
    const message = `duplicate column "${clash.name}" in aggregate and its by`;
    throw rqlParseError(clash.pos, message, clash.name);
  }
  return { type: "aggregate", aggregates, by, pos };
}

/** `sort { a, b: desc }` or `sort a [desc]`. */
function parseSort(p: ParseContext, pos: SortStep["pos"]): SortStep {
  const keys: SortKey[] = [];
  const open = p.cursor.acceptSymbol("{");
  if (open === undefined) return { type: "sort", keys: [parseSortKey(p, false)], pos };
  p.cursor.enter(open);
  while (!p.cursor.atSymbol("}")) {
    keys.push(parseSortKey(p, true));
    if (!p.cursor.acceptSymbol(",")) break;
  }
  p.cursor.expectSymbol("}", " to close the sort keys");
  p.cursor.leave();
  if (keys.length === 0) throw rqlParseError(pos, "sort needs at least one column", "sort");
  return { type: "sort", keys, pos };
}

function parseSortKey(p: ParseContext, braced: boolean): SortKey {
  const name = p.name("a column to sort by");
  let direction: { value: string; pos: SortKey["pos"] } | undefined;
  if (braced && p.cursor.acceptSymbol(":")) direction = p.name('"asc" or "desc"');
  else if (p.cursor.atKeyword("asc") || p.cursor.atKeyword("desc")) direction = p.name("asc");
  const lower = direction?.value.toLowerCase() ?? "asc";
  if (direction !== undefined && lower !== "asc" && lower !== "desc") {
    const message = `sort direction must be asc or desc, got "${direction.value}"`;
    throw rqlParseError(direction.pos, message, direction.value);
  }
  return { column: name.value, descending: lower === "desc", pos: name.pos };
}

/** `[inner|left] join { from Y } as y using (a, y.b)[, (c, y.d)]`. */
function parseJoin(p: ParseContext): JoinStep {
  const first = p.cursor.next();
  const pos = positionOf(first);
  const word = first.value;
  const kind = typeof word === "string" && word.toLowerCase() === "left" ? "left" : "inner";
  if (!(typeof word === "string" && word.toLowerCase() === "join")) {
    p.cursor.expectKeyword("join", ` after "${first.text}"`);
  }
  const right = parseBracedPipeline(p, "join");
  p.cursor.expectKeyword("as", " and an alias after the joined query");
  const alias = p.name("an alias for the joined query").value;
  p.cursor.expectKeyword("using", ` after the alias "${alias}"`);
  const using: JoinKey[] = [parseJoinKey(p, alias)];
  while (p.cursor.acceptSymbol(",")) using.push(parseJoinKey(p, alias));
  return { type: "join", kind, right, alias, using, pos };
}

/** `(a, y.b)`: the side prefixed with the alias is the joined query's column. */
function parseJoinKey(p: ParseContext, alias: string): JoinKey {
  const open = p.cursor.expectSymbol("(", " to open a join condition");
  const first = parseJoinColumn(p);
  p.cursor.expectSymbol(",", " between the two columns of a join condition");
  const second = parseJoinColumn(p);
  p.cursor.expectSymbol(")", " to close a join condition");
  const pos = positionOf(open);
  if (first.prefix === alias && second.prefix !== alias) {
    return { left: second.column, right: first.column, pos };
  }
  if (first.prefix !== undefined && first.prefix !== alias) {
    throw rqlParseError(
      first.pos,
      `unknown alias "${first.prefix}" in join condition`,
      first.prefix,
    );
  }
  if (second.prefix !== undefined && second.prefix !== alias) {
    const fragment = second.prefix;
    throw rqlParseError(second.pos, `unknown alias "${fragment}" in join condition`, fragment);
  }
  return { left: first.column, right: second.column, pos };
}

function parseJoinColumn(p: ParseContext): {
  prefix: string | undefined;
  column: string;
  pos: JoinKey["pos"];
} {
  const first = p.name("a column in a join condition");
  if (!p.cursor.acceptSymbol("."))
    return { prefix: undefined, column: first.value, pos: first.pos };
  const column = p.name(`a column after "${first.value}."`).value;
  return { prefix: first.value, column, pos: first.pos };
}
