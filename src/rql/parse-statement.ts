/**
 * @module The grammar of data statements: queries, insert/update/delete with `returning`,
 * the Statebase primitive statements (`counter X add N`, `histogram X record V`,
 * `queue X claim|ack|nack E`) and `call ns::p(args)`. Schema statements are in
 * parse-schema.ts; this file dispatches to them.
 */
import type {
  CallStatement,
  ColumnExpr,
  CounterAddStatement,
  DeleteStatement,
  InsertRow,
  InsertStatement,
  QueueStatement,
  Statement,
  UpdateStatement,
} from "./ast.ts";
import type { Expr } from "../expr/index.ts";
import type { ParseContext } from "./parse-context.ts";
import { positionOf, rqlParseError } from "./parse-context.ts";
import { parseBracedExpression, parsePipeline } from "./parse-pipeline.ts";
import { parseAlter, parseCreate, parseDrop } from "./parse-schema.ts";
import { deadlineTick } from "./deadline.ts";

/** One statement at the cursor; the caller checks what follows it. */
export function parseStatement(p: ParseContext): Statement {
  const token = p.peek();
  if (token.kind !== "identifier") throw p.unexpected("a statement");
  const pos = positionOf(token);
  switch (token.value.toLowerCase()) {
    case "from":
      return { type: "query", pipeline: parsePipeline(p), pos };
    case "insert":
      return parseInsert(p);
    case "update":
      return parseUpdate(p);
    case "delete":
      return parseDelete(p);
    case "create":
      return parseCreate(p, parseStatement);
    case "alter":
      return parseAlter(p);
    case "drop":
      return parseDrop(p);
    case "counter":
      return parseCounterAdd(p);
    case "histogram": {
      p.cursor.next();
      const target = p.objectRef("a histogram name");
      p.cursor.expectKeyword("record", ` after histogram ${target.name}`);
      return { type: "histogram_record", target, value: p.expression(), pos };
    }
    case "queue":
      return parseQueue(p);
    case "call":
      return parseCall(p);
    default:
      throw rqlParseError(
        token,
        `unknown statement ${JSON.stringify(token.text)}; expected from, insert, update, ` +
          "delete, create, alter, drop, counter, histogram, queue or call",
        token.text,
      );
  }
}

// ---- Data changes ----

/** `insert X [rows] [returning {...}]`; rows are records or positional tuples. */
function parseInsert(p: ParseContext): InsertStatement {
  const pos = positionOf(p.cursor.next());
  p.cursor.acceptKeyword("into");
  const target = p.objectRef("the table to insert into");
  let rows: InsertRow[] = [];
  let source: Expr | undefined;
  const open = p.cursor.acceptSymbol("[");
  if (open !== undefined) {
    p.cursor.enter(open);
    while (!p.cursor.atSymbol("]")) {
      deadlineTick(1);
      rows.push(parseInsertRow(p));
      if (!p.cursor.acceptSymbol(",")) break;
    }
    p.cursor.expectSymbol("]", " to close the rows to insert");
    p.cursor.leave();
  } else if (p.cursor.atSymbol("{") || p.cursor.atSymbol("(")) {
    rows = [parseInsertRow(p)];
  } else {
    source = p.expression();
  }
  const returning = parseReturning(p);
  return {
    type: "insert",
    target,
    rows,
    pos,
    ...(source === undefined ? {} : { source }),
    ...(returning === undefined ? {} : { returning }),
  };
}

function parseInsertRow(p: ParseContext): InsertRow {
  const token = p.peek();
  const pos = positionOf(token);
  const open = p.cursor.acceptSymbol("(");
  if (open === undefined) return { kind: "record", value: p.expression(), pos };
  p.cursor.enter(open);
  const values: Expr[] = [];
  while (!p.cursor.atSymbol(")")) {
    values.push(p.expression());
    if (!p.cursor.acceptSymbol(",")) break;
  }
  p.cursor.expectSymbol(")", ` to close the tuple from line ${pos.line}, column ${pos.col}`);
  p.cursor.leave();
  return { kind: "tuple", values, pos };
}

function parseReturning(p: ParseContext): ColumnExpr[] | undefined {
  if (p.cursor.acceptKeyword("returning") === undefined) return undefined;
  return p.columnExprs("returning");
}

/** `filter { pred }`, required by update and delete. */
function parseRequiredFilter(p: ParseContext, what: string): Expr {
  if (p.cursor.acceptKeyword("filter") === undefined) {
    const token = p.peek();
    throw rqlParseError(
      token,
      `${what} needs a filter (write "filter { true }" to touch every row), ` +
        `found ${token.kind === "end" ? "end of input" : JSON.stringify(token.text)}`,
      token.text,
    );
  }
  return parseBracedExpression(p);
}

/** `update X { col: expr } filter { pred } [returning {...}]`. */
function parseUpdate(p: ParseContext): UpdateStatement {
  const pos = positionOf(p.cursor.next());
  const target = p.objectRef("the table to update");
  const set = p.columnExprs("update");
  const filter = parseRequiredFilter(p, "update");
  const returning = parseReturning(p);
  return {
    type: "update",
    target,
    set,
    filter,
    pos,
    ...(returning === undefined ? {} : { returning }),
  };
}

/** `delete X filter { pred } [returning {...}]`. */
function parseDelete(p: ParseContext): DeleteStatement {
  const pos = positionOf(p.cursor.next());
  p.cursor.acceptKeyword("from");
  const target = p.objectRef("the table to delete from");
  const filter = parseRequiredFilter(p, "delete");
  const returning = parseReturning(p);
  return { type: "delete", target, filter, pos, ...(returning === undefined ? {} : { returning }) };
}

// ---- Primitive statements ----

/** `counter X add N [by { key: value }]`. */
function parseCounterAdd(p: ParseContext): CounterAddStatement {
  const pos = positionOf(p.cursor.next());
  const target = p.objectRef("a counter name");
  p.cursor.expectKeyword("add", ` after counter ${target.name}`);
  const amount = p.expression();
  if (p.cursor.acceptKeyword("by") === undefined)
    return { type: "counter_add", target, amount, pos };
  if (!p.cursor.atSymbol("{")) throw p.unexpected("a counter key such as { page: $page }");
  const key = p.expression();
  // A "{" always starts a record expression here.
  if (key.type !== "record") throw p.unexpected("a counter key such as { page: $page }");
  return { type: "counter_add", target, amount, key, pos };
}

/** `queue X claim N`, `queue X ack E`, `queue X nack E`. */
function parseQueue(p: ParseContext): QueueStatement {
  const pos = positionOf(p.cursor.next());
  const target = p.objectRef("a queue name");
  const verb = p.cursor.expectIdentifier(`claim, ack or nack after queue ${target.name}`);
  const action = verb.value.toLowerCase();
  if (action !== "claim" && action !== "ack" && action !== "nack") {
    throw rqlParseError(verb, `expected claim, ack or nack, found "${verb.text}"`, verb.text);
  }
  const argument: Expr =
    action === "claim" && p.atStatementEnd()
      ? { type: "literal", kind: "integer", value: 1, pos: positionOf(verb) }
      : p.expression();
  return { type: "queue", target, action, argument, pos };
}

/** `call ns::p(a, b)`: positional arguments, or one record of named ones. */
function parseCall(p: ParseContext): CallStatement {
  const pos = positionOf(p.cursor.next());
  const procedure = p.objectRef("a procedure name");
  const open = p.cursor.expectSymbol("(", ` after ${procedure.name}`);
  p.cursor.enter(open);
  const args: Expr[] = [];
  while (!p.cursor.atSymbol(")")) {
    args.push(p.expression());
    if (!p.cursor.acceptSymbol(",")) break;
  }
  p.cursor.expectSymbol(")", ` to close the arguments of ${procedure.name}`);
  p.cursor.leave();
  return { type: "call", procedure, args, pos };
}
