/**
 * @module Data changes: `insert` (records or positional tuples) into tables, ring buffers,
 * series and queues; `update` and `delete` of table rows chosen by a required filter (found
 * through the planner, like a query's rows). Without `returning` each statement yields one
 * row `{namespace, table, inserted|updated|deleted}`. Rows are validated by the primitive's
 * schema, whose errors name the column and the row; a failure throws, and the script's
 * transaction rolls every statement back.
 */
import { DbError, describeValue } from "../lib/errors.ts";
import type { StoredObject, Transaction } from "../engine/index.ts";
import { compileExpression, compilePredicate, printExpression } from "../expr/index.ts";
import type { Evaluator } from "../expr/index.ts";
import { Queue, RingBuffer, Series, Table } from "../primitives/index.ts";
import type { Row } from "../primitives/index.ts";
import { parseType } from "../values/index.ts";
import type { ValueType } from "../values/index.ts";
import type {
  ColumnExpr,
  DeleteStatement,
  InsertStatement,
  ObjectRef,
  UpdateStatement,
} from "./ast.ts";
import { scopeOf } from "./context.ts";
import type { Columns, CompileEnv, RunContext } from "./context.ts";
import { compileColumns } from "./pipeline.ts";
import { planTableAccess } from "./planner.ts";
import { exactLiteral } from "./exact-literal.ts";
import { atSource, unknownObject } from "./rql-errors.ts";
import { deadlineTick, expressionCost } from "./deadline.ts";

/** A compiled statement: what it does per run, and its access paths for explain. */
export interface CompiledStatement {
  readonly run: (ctx: RunContext) => Row[] | undefined;
  readonly plan: readonly string[];
}

function resolve(ref: ObjectRef, env: CompileEnv): StoredObject {
  const object = env.catalog.get(ref.name);
  if (object === undefined) throw unknownObject(ref.name, ref.pos);
  return object;
}

function columnsOfObject(object: StoredObject): Columns {
  const definitions = object.definition.columns as
    ReadonlyArray<{ name: string; type: string }> | undefined;
  if (definitions === undefined) return undefined;
  return new Map<string, ValueType | undefined>(
    definitions.map((c) => [c.name, parseType(c.type)]),
  );
}

function summaryRow(object: StoredObject, verb: string, count: number): Row {
  const [namespace, table] = object.name.split("::");
  return { namespace: namespace ?? null, table: table ?? null, [verb]: count };
}

function compileReturning(list: readonly ColumnExpr[] | undefined, columns: Columns) {
  if (list === undefined) return undefined;
  const names = list.map((column) => column.name);
  const reads = compileColumns(list, columns);
  return (row: Row, ctx: RunContext): Row => {
    const scope = scopeOf(ctx, row);
    const out: Record<string, unknown> = {};
    for (let i = 0; i < names.length; i++) out[names[i]!] = reads[i]!(scope);
    return out;
  };
}

// ---- insert ----

type Writer = (tx: Transaction, input: Record<string, unknown>, rowIndex: number) => Row;

function writerOf(object: StoredObject): Writer {
  if (object instanceof Table) return (tx, input, i) => object.insert(tx, input, i);
  if (object instanceof RingBuffer) return (tx, input) => object.push(tx, input);
  if (object instanceof Series) return (tx, input) => object.insert(tx, input);
  if (object instanceof Queue) {
    return (tx, input) => {
      const { id } = object.enqueue(tx, input);
      return (object.get(id)?.body as Row | undefined) ?? { id };
    };
  }
  throw new DbError("WRONG_OBJECT_KIND", `cannot insert into ${object.name}, a ${object.kind}`, {
    object: object.name,
  });
}

/** `insert X [rows]`: every row validated by the target's schema; errors name the row. */
export function compileInsert(statement: InsertStatement, env: CompileEnv): CompiledStatement {
  const object = resolve(statement.target, env);
  const write = writerOf(object);
  const names = ((object.definition.columns ?? []) as ReadonlyArray<{ name: string }>).map(
    (c) => c.name,
  );
  const columns = columnsOfObject(object);
  const rowReads = statement.rows.map((row) => compileInsertRow(row, names, object.name, columns));
  const listRead = statement.source === undefined ? undefined : compileExpression(statement.source);
  const returning = compileReturning(statement.returning, columns);
  // The work of writing one row (its columns checked, indexes kept), against the deadline.
  const rowCost = 1 + names.length;
  const run = (ctx: RunContext): Row[] => {
    const scope = scopeOf(ctx);
    const inputs: unknown[] =
      listRead === undefined ? rowReads.map((read) => read(scope)) : toList(listRead(scope));
    const target =
      ctx.catalog.get(object.name) === object ? object : resolve(statement.target, ctx);
    const out: Row[] = [];
    inputs.forEach((input, i) => {
      deadlineTick(rowCost);
      if (input === null || typeof input !== "object" || Array.isArray(input)) {
        throw new DbError("TYPE_MISMATCH", `${object.name}: row ${i + 1} is not a record`, {
          object: object.name,
          row: i + 1,
          value: describeValue(input),
        });
      }
      let stored: Row;
      try {
        stored = (target === object ? write : writerOf(target))(
          ctx.tx,
          input as Record<string, unknown>,
          i + 1,
        );
      } catch (error) {
        throw insertErrorAt(error, statement, names, i);
      }
      if (returning !== undefined) out.push(returning(stored, ctx));
    });
    return returning === undefined ? [summaryRow(object, "inserted", inputs.length)] : out;
  };
  return { run, plan: [] };
}

/**
 * Places an insert's failure at the value it was about: the row's value for the column the
 * error names, else the row, else the list expression the rows came from.
 */
function insertErrorAt(
  error: unknown,
  statement: InsertStatement,
  names: readonly string[],
  rowIndex: number,
): unknown {
  if (!(error instanceof DbError)) return error;
  const row = statement.rows[rowIndex];
  if (row === undefined) {
    const source = statement.source ?? statement.target;
    const text = statement.source ? printExpression(statement.source) : statement.target.name;
    return atSource(error, source.pos, text);
  }
  const column = error.details.column;
  const value =
    row.kind === "tuple"
      ? row.values[names.indexOf(column ?? "")]
      : row.value.type === "record"
        ? row.value.entries.find((entry) => entry.key === column)?.value
        : undefined;
  if (value !== undefined) return atSource(error, value.pos, printExpression(value));
  const text =
    row.kind === "tuple"
      ? `(${row.values.map((item) => printExpression(item)).join(", ")})`
      : printExpression(row.value);
  return atSource(error, row.pos, text);
}

function toList(value: unknown): unknown[] {
  if (Array.isArray(value)) return value;
  return [value];
}

function compileInsertRow(
  row: InsertStatement["rows"][number],
  names: readonly string[],
  object: string,
  columns: Columns,
): Evaluator {
  if (row.kind === "record") {
    const value = row.value;
    if (value.type !== "record" || columns === undefined) return compileExpression(value);
    const entries = value.entries.map((entry) => ({
      ...entry,
      value: exactLiteral(entry.value, columns.get(entry.key)),
    }));
    return compileExpression({ ...value, entries });
  }
  if (row.values.length > names.length) {
    throw new DbError(
      "INVALID_ARGUMENT",
      `line ${row.pos.line}, column ${row.pos.col}: ${object} has ${names.length} columns, ` +
        `the tuple has ${row.values.length} values`,
      { object, line: row.pos.line, col: row.pos.col },
    );
  }
  const reads = row.values.map((value, i) =>
    compileExpression(exactLiteral(value, columns?.get(names[i]!))),
  );
  return (scope) => {
    const record: Record<string, unknown> = {};
    for (let i = 0; i < reads.length; i++) record[names[i]!] = reads[i]!(scope);
    return record;
  };
}

// ---- update and delete ----

function requireTable(object: StoredObject, verb: string): Table {
  if (object instanceof Table) return object;
  throw new DbError(
    "WRONG_OBJECT_KIND",
    `cannot ${verb} ${object.name}, a ${object.kind}; only table rows`,
    {
      object: object.name,
    },
  );
}

/**
 * Rows of `table` matching the filter, read completely before anything changes: the filter
 * reads the stored rows, and the rows it keeps are copies, so a row dropped costs no copy and
 * a row kept is as it was read while the statement writes.
 */
function matchingRows(
  table: Table,
  ctx: RunContext,
  fetch: ReturnType<typeof planTableAccess>,
  keep: (scope: ReturnType<typeof scopeOf>) => boolean,
  rowCost: number,
): Row[] {
  const scope = scopeOf(ctx);
  const out: Row[] = [];
  for (const row of fetch.fetch(table, scope)) {
    deadlineTick(rowCost);
    scope.row = row;
    if (keep(scope)) out.push(table.copyOfStored(row));
  }
  return out;
}

/** The key a table's write methods take for a row: the primary key, or the hidden row id. */
function keysOf(table: Table, rows: readonly Row[]): unknown[] {
  if (table.hasPrimaryKey) return rows.map((row) => table.keyOf(row));
  const ids = new Map<Row, unknown>();
  const source = table.snapshot();
  for (let chunk = source.readChunk(4096); chunk.length > 0; chunk = source.readChunk(4096)) {
    for (const [, key, row] of chunk) ids.set(row as Row, key);
  }
  return rows.map((row) => ids.get(row));
}

function errorColumn(error: unknown): string | undefined {
  return error instanceof DbError ? error.details.column : undefined;
}

/** Names the row a failing write was about. */
function atRow(error: unknown, table: Table, key: unknown): unknown {
  if (!(error instanceof DbError)) return error;
  const wrapped = new DbError(error.code, `${error.message} (row with key ${describeValue(key)})`, {
    ...error.details,
    object: table.name,
    key: describeValue(key),
  });
  return wrapped;
}

export function compileUpdate(statement: UpdateStatement, env: CompileEnv): CompiledStatement {
  const table = requireTable(resolve(statement.target, env), "update");
  const columns = columnsOfObject(table);
  for (const column of statement.set) {
    if (!columns!.has(column.name)) {
      throw new DbError(
        "UNKNOWN_COLUMN",
        `line ${column.pos.line}, column ${column.pos.col}: ` +
          `${table.name} has no column "${column.name}"`,
        {
          object: table.name,
          column: column.name,
          line: column.pos.line,
          col: column.pos.col,
          fragment: column.name,
        },
      );
    }
  }
  const keep = compilePredicate(statement.filter, { fields: columns! });
  const access = planTableAccess(table, statement.filter);
  const names = statement.set.map((column) => column.name);
  const set = statement.set.map((column) => ({
    ...column,
    expr: exactLiteral(column.expr, columns?.get(column.name)),
  }));
  const reads = compileColumns(set, columns);
  const returning = compileReturning(statement.returning, columns);
  const filterCost = 1 + expressionCost(statement.filter);
  const rowCost = 1 + expressionCost(set);
  const run = (ctx: RunContext): Row[] => {
    const rows = matchingRows(table, ctx, access, keep, filterCost);
    const keys = keysOf(table, rows);
    const scope = scopeOf(ctx);
    const out: Row[] = [];
    rows.forEach((row, i) => {
      deadlineTick(rowCost);
      scope.row = row;
      const patch: Record<string, unknown> = {};
      for (let c = 0; c < names.length; c++) patch[names[c]!] = reads[c]!(scope);
      let stored: Row;
      try {
        stored = table.update(ctx.tx, keys[i], patch);
      } catch (error) {
        const column = set.find((entry) => entry.name === errorColumn(error));
        const located = atRow(error, table, keys[i]);
        throw column === undefined
          ? located
          : atSource(located, column.expr.pos, printExpression(column.expr));
      }
      if (returning !== undefined) out.push(returning(stored, ctx));
    });
    return returning === undefined ? [summaryRow(table, "updated", rows.length)] : out;
  };
  return { run, plan: [access.describe] };
}

export function compileDelete(statement: DeleteStatement, env: CompileEnv): CompiledStatement {
  const table = requireTable(resolve(statement.target, env), "delete from");
  const columns = columnsOfObject(table);
  const keep = compilePredicate(statement.filter, { fields: columns! });
  const access = planTableAccess(table, statement.filter);
  const returning = compileReturning(statement.returning, columns);
  const filterCost = 1 + expressionCost(statement.filter);
  const run = (ctx: RunContext): Row[] => {
    const rows = matchingRows(table, ctx, access, keep, filterCost);
    const keys = keysOf(table, rows);
    const out: Row[] = [];
    rows.forEach((row, i) => {
      deadlineTick(1);
      table.del(ctx.tx, keys[i]);
      if (returning !== undefined) out.push(returning(row, ctx));
    });
    return returning === undefined ? [summaryRow(table, "deleted", rows.length)] : out;
  };
  return { run, plan: [access.describe] };
}
