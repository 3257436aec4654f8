/**
 * @module The grammar of schema statements (DDL): `create` for every object kind, `create
 * primary key`, `create [unique] index`, `alter table ... add column`, views, procedures and
 * `drop`. Option records (`with { ... }`) are kept as expressions; the executor reads them.
 */
import type { RecordExpr } from "../expr/index.ts";
import type {
  CreateProcedureStatement,
  CreateRowObjectStatement,
  CreateViewStatement,
  DropKind,
  DropStatement,
  Statement,
} from "./ast.ts";
import type { ParseContext } from "./parse-context.ts";
import { positionOf, rqlParseError } from "./parse-context.ts";
import { parsePipeline } from "./parse-pipeline.ts";

type StatementReader = (p: ParseContext) => Statement;

const rowObjectKinds: Readonly<Record<string, CreateRowObjectStatement["type"]>> = {
  table: "create_table",
  ringbuffer: "create_ringbuffer",
  ring_buffer: "create_ringbuffer",
  series: "create_series",
  queue: "create_queue",
};

const dropKinds: Readonly<Record<string, DropKind>> = {
  namespace: "namespace",
  table: "table",
  view: "view",
  ringbuffer: "ringbuffer",
  ring_buffer: "ringbuffer",
  series: "series",
  counter: "counter",
  histogram: "histogram",
  queue: "queue",
  procedure: "procedure",
  index: "index",
};

/** `with { ... }` when present. */
function parseOptions(p: ParseContext): RecordExpr | undefined {
  if (p.cursor.acceptKeyword("with") === undefined) return undefined;
  if (!p.cursor.atSymbol("{")) throw p.unexpected('"{" to open the options after "with"');
  const options = p.expression();
  // A "{" always starts a record expression here.
  if (options.type !== "record") throw p.unexpected("{ options }");
  return options;
}

/** `create ...`: dispatches on the kind word. */
export function parseCreate(p: ParseContext, statement: StatementReader): Statement {
  const pos = positionOf(p.cursor.next());
  const kindToken = p.cursor.expectIdentifier("what to create (table, namespace, view, ...)");
  const kind = kindToken.value.toLowerCase();
  const rowKind = rowObjectKinds[kind];
  if (rowKind !== undefined) {
    const ifNotExists = p.ifNotExists();
    const name = p.objectRef();
    // A queue without columns takes JSON bodies; every other kind needs its columns.
    const columns = kind === "queue" && !p.cursor.atSymbol("{") ? [] : p.columnSpecs("column list");
    const options = parseOptions(p);
    return { type: rowKind, name, columns, ifNotExists, pos, ...withOptions(options) };
  }
  switch (kind) {
    case "namespace": {
      const ifNotExists = p.ifNotExists();
      const name = p.objectRef("a namespace name").name;
      return { type: "create_namespace", name, ifNotExists: ifNotExists || p.ifNotExists(), pos };
    }
    case "counter": {
      const ifNotExists = p.ifNotExists();
      const name = p.objectRef("a counter name");
      const keyColumns = p.cursor.acceptKeyword("by") ? p.columnSpecs("counter key") : [];
      const options = parseOptions(p);
      return {
        type: "create_counter",
        name,
        keyColumns,
        ifNotExists,
        pos,
        ...withOptions(options),
      };
    }
    case "histogram": {
      const ifNotExists = p.ifNotExists();
      const name = p.objectRef("a histogram name");
      const options = parseOptions(p);
      return { type: "create_histogram", name, ifNotExists, pos, ...withOptions(options) };
    }
    case "primary": {
      p.cursor.expectKeyword("key", ' after "create primary"');
      p.cursor.expectKeyword("on", ' after "create primary key"');
      const table = p.objectRef("a table name");
      return { type: "create_primary_key", table, columns: p.nameList("primary key"), pos };
    }
    case "unique":
    case "index":
      return parseCreateIndex(p, kind === "unique", pos);
    case "view":
    case "transactional":
    case "deferred":
      return parseCreateView(p, kind, pos);
    case "procedure":
      return parseCreateProcedure(p, statement, pos);
    default:
      throw rqlParseError(
        kindToken,
        `cannot create "${kindToken.text}"; expected namespace, table, ringbuffer, series, ` +
          "counter, histogram, queue, index, unique index, primary key, view or procedure",
        kindToken.text,
      );
  }
}

function withOptions(options: RecordExpr | undefined): { options?: RecordExpr } {
  return options === undefined ? {} : { options };
}

function parseCreateIndex(p: ParseContext, unique: boolean, pos: Statement["pos"]): Statement {
  if (unique) p.cursor.expectKeyword("index", ' after "create unique"');
  const ifNotExists = p.ifNotExists();
  const name = p.objectRef("an index name");
  p.cursor.expectKeyword("on", ` after index ${name.name}`);
  const table = p.objectRef("a table name");
  const columns = p.nameList("index columns");
  if (columns.length === 0) throw rqlParseError(table.pos, "an index needs a column", table.name);
  return { type: "create_index", name, table, columns, unique, ifNotExists, pos };
}

/** `create [transactional|deferred] view X { cols } as { pipeline }`. */
function parseCreateView(
  p: ParseContext,
  kind: string,
  pos: Statement["pos"],
): CreateViewStatement {
  if (kind !== "view") p.cursor.expectKeyword("view", ` after "create ${kind}"`);
  const mode = kind === "deferred" ? "deferred" : "transactional";
  const ifNotExists = p.ifNotExists();
  const name = p.objectRef("a view name");
  const columns = p.columnSpecs("view columns");
  p.cursor.expectKeyword("as", ` before the query of view ${name.name}`);
  const open = p.cursor.expectSymbol("{", ` to open the query of view ${name.name}`);
  p.cursor.enter(open);
  const pipeline = parsePipeline(p);
  const close = p.cursor.expectSymbol("}", ` to close the query of view ${name.name}`);
  p.cursor.leave();
  const text = p.source.slice(open.offset + 1, close.offset).trim();
  return { type: "create_view", name, mode, columns, pipeline, text, ifNotExists, pos };
}

/** `create procedure ns::p { id: int8 } as { statement; ... }`. */
function parseCreateProcedure(
  p: ParseContext,
  statement: StatementReader,
  pos: Statement["pos"],
): CreateProcedureStatement {
  const ifNotExists = p.ifNotExists();
  const name = p.objectRef("a procedure name");
  const params = p.cursor.atSymbol("{") ? p.columnSpecs("procedure parameters") : [];
  p.cursor.expectKeyword("as", ` before the body of procedure ${name.name}`);
  const open = p.cursor.expectSymbol("{", ` to open the body of procedure ${name.name}`);
  p.cursor.enter(open);
  const statements: Statement[] = [];
  while (!p.cursor.atSymbol("}")) {
    if (p.cursor.acceptSymbol(";")) continue;
    statements.push(statement(p));
    p.expectStatementEnd("a statement");
  }
  const close = p.cursor.expectSymbol("}", ` to close the body of procedure ${name.name}`);
  p.cursor.leave();
  const body = p.source.slice(open.offset + 1, close.offset).trim();
  return { type: "create_procedure", name, params, body, statements, ifNotExists, pos };
}

/** `alter table X add column name: type`. */
export function parseAlter(p: ParseContext): Statement {
  const pos = positionOf(p.cursor.next());
  p.cursor.expectKeyword("table", ' after "alter"');
  const table = p.objectRef("a table name");
  p.cursor.expectKeyword("add", ` after alter table ${table.name}`);
  p.cursor.acceptKeyword("column");
  return { type: "alter_table_add_column", table, column: p.columnSpec("new column"), pos };
}

/** `drop <kind> [if exists] X`. */
export function parseDrop(p: ParseContext): DropStatement {
  const pos = positionOf(p.cursor.next());
  const kindToken = p.cursor.expectIdentifier("what to drop (table, view, namespace, ...)");
  const kind = dropKinds[kindToken.value.toLowerCase()];
  if (kind === undefined) {
    throw rqlParseError(kindToken, `cannot drop "${kindToken.text}"`, kindToken.text);
  }
  const ifExists = p.ifExists();
  const name = p.objectRef(`a ${kind} name`);
  return { type: "drop", kind, name, ifExists: ifExists || p.ifExists(), pos };
}
