/**
 * @module `from`: turns a pipeline's source into rows. Every readable kind of object has one
 * row shape here: tables (through the planner), ring buffers (oldest first), series (key
 * order), counters (`{value}` or one row per key), histograms (one summary row), queues (one
 * row per message), `system::*` tables, views (through the view host), inline records, the
 * past (`as of N`) and `system::history`.
 */
import { DbError, describeValue } from "../lib/errors.ts";
import { SystemTable } from "../engine/index.ts";
import type { Catalog, StoredObject } from "../engine/index.ts";
import { compileExpression, printExpression } from "../expr/index.ts";
import type { Expr } from "../expr/index.ts";
import { Counter, Histogram, Queue, RingBuffer, Series, Table } from "../primitives/index.ts";
import type { Row } from "../primitives/index.ts";
import { compareValues, parseType } from "../values/index.ts";
import type { ValueType } from "../values/index.ts";
import type { ObjectSource, Source } from "./ast.ts";
import { scopeOf } from "./context.ts";
import type { Columns, CompileEnv, RunContext } from "./context.ts";
import { planTableAccess } from "./planner.ts";
import { unknownObject } from "./rql-errors.ts";

/** A compiled source: its columns, rows per run, and the access path it uses. */
export interface CompiledSource {
  readonly columns: Columns;
  readonly rows: (ctx: RunContext) => Iterable<Row>;
  readonly plan: string;
  /** True when the rows are stored rows (not to be handed out without a copy). */
  readonly shared: boolean;
}

/** Compiles a source; `predicate` is the filter right after it, for the planner. */
export function compileSource(
  source: Source,
  env: CompileEnv,
  predicate: Expr | undefined,
): CompiledSource {
  if (source.type === "inline") {
    const list = compileExpression(source.rows);
    return {
      columns: undefined,
      plan: "inline rows",
      shared: false,
      rows: (ctx) => inlineRows(list(scopeOf(ctx))),
    };
  }
  if (source.asOf !== undefined) return compilePastSource(source, source.asOf, env);
  if (source.object.name.toLowerCase() === "system::history") return compileHistory(source);
  const object = env.catalog.get(source.object.name);
  if (object === undefined) throw unknownObject(source.object.name, source.object.pos);
  return compileObjectSource(object, env, predicate);
}

function inlineRows(value: unknown): Row[] {
  if (!Array.isArray(value)) {
    throw new DbError("TYPE_MISMATCH", `from [...] needs a list of records`, {
      value: describeValue(value),
    });
  }
  return value.map((item, index) => {
    if (item === null || typeof item !== "object" || Array.isArray(item)) {
      throw new DbError("TYPE_MISMATCH", `from [...]: row ${index + 1} is not a record`, {
        row: index + 1,
        value: describeValue(item),
      });
    }
    return item as Row;
  });
}

function columnsOf(definitions: ReadonlyArray<{ name: string; type: string }>): Columns {
  const map = new Map<string, ValueType | undefined>();
  for (const column of definitions) map.set(column.name, parseType(column.type));
  return map;
}

function untyped(names: readonly string[]): Columns {
  return new Map(names.map((name) => [name, undefined]));
}

/**
 * Rows of one catalog object, with a planned access path for tables. A table's are its stored
 * rows, not copies: a query pipeline writes nothing, and its output is copied (`shared`).
 */
export function compileObjectSource(
  object: StoredObject,
  env: CompileEnv,
  predicate: Expr | undefined,
): CompiledSource {
  const stored = { shared: true };
  if (object instanceof Table) {
    const path = planTableAccess(object, predicate);
    const columns = columnsOf(object.definition.columns);
    return {
      columns,
      plan: path.describe,
      ...stored,
      rows: (ctx) => path.fetch(current(ctx, object, Table), scopeOf(ctx)),
    };
  }
  const plan = `${object.name}: full scan`;
  if (object instanceof RingBuffer) {
    const columns = columnsOf(object.definition.columns);
    return { columns, plan, ...stored, rows: (ctx) => current(ctx, object, RingBuffer).scan() };
  }
  if (object instanceof Series) {
    const columns = columnsOf(object.definition.columns);
    return { columns, plan, ...stored, rows: (ctx) => current(ctx, object, Series).range() };
  }
  if (object instanceof SystemTable) {
    return { columns: untyped(object.columns), plan, shared: false, rows: () => object.scan() };
  }
  if (object instanceof Counter) return counterSource(object, plan);
  if (object instanceof Histogram) {
    const columns = untyped(["count", "min", "max", "mean", "p50", "p90", "p99", "p999"]);
    return {
      columns,
      plan,
      shared: false,
      rows: (ctx) => [{ ...current(ctx, object, Histogram).summary() }],
    };
  }
  if (object instanceof Queue) return queueSource(object, plan);
  const view = env.host.views?.read(object);
  if (view !== undefined) {
    const name = object.name;
    return {
      columns: view.columns,
      plan: `${name}: view`,
      ...stored,
      rows: (ctx) => readView(ctx, name),
    };
  }
  throw new DbError("WRONG_OBJECT_KIND", `${object.name} is a ${object.kind}; it has no rows`, {
    object: object.name,
  });
}

/**
 * The object as of this run: the compiled plan holds the object seen at compile time, but a
 * plan is reused only while the catalog epoch is unchanged, so this is the same object unless
 * the run reads another catalog (time travel).
 */
function current<T extends StoredObject>(
  ctx: RunContext,
  object: T,
  kind: abstract new (...args: never[]) => T,
): T {
  const found = ctx.catalog.get(object.name);
  if (found === object) return object;
  if (found === undefined || !(found instanceof kind)) throw unknownObject(object.name);
  return found;
}

function readView(ctx: RunContext, name: string): Iterable<Row> {
  const object = ctx.catalog.get(name);
  const view = object === undefined ? undefined : ctx.host.views?.read(object);
  if (view === undefined) throw unknownObject(name);
  return view.rows;
}

function counterSource(counter: Counter, plan: string): CompiledSource {
  const by = (counter.definition.by ?? []).map((column) => column.name);
  const columns = untyped([...by, "value"]);
  const rows = (ctx: RunContext): Row[] => {
    const object = current(ctx, counter, Counter);
    if (by.length === 0) return [{ value: object.get() }];
    // Keys in value order, as a table lists its primary key: 5 before 10, by date, not text.
    const entries = object.entries().sort((a, b) => compareValues(a.key, b.key));
    return entries.map(({ key, value }) => {
      const row: Record<string, unknown> = {};
      const parts = by.length === 1 ? [key] : (key as unknown[]);
      by.forEach((name, i) => (row[name] = parts[i] ?? null));
      row.value = value;
      return row;
    });
  };
  return { columns, plan, shared: false, rows };
}

function queueSource(queue: Queue, plan: string): CompiledSource {
  const columns = untyped(queue.rowColumns().map((column) => column.name));
  const rows = (ctx: RunContext): Row[] => {
    const object = current(ctx, queue, Queue);
    const messages = [...object.list("ready"), ...object.list("claimed"), ...object.list("dead")];
    messages.sort((a, b) => a.order - b.order);
    return messages.map((message) => object.rowOf(message));
  };
  return { columns, plan, shared: false, rows };
}

// ---- The past and history (resolved before the transaction by the async entry points) ----

function requirePrefetch(
  ctx: RunContext,
  what: string,
): NonNullable<RunContext["host"]["prefetched"]> {
  const prefetched = ctx.host.prefetched;
  if (prefetched === undefined || ctx.synchronous) {
    throw new DbError(
      "INVALID_ARGUMENT",
      `${what} reads the log, which a synchronous transaction cannot wait for; ` +
        "run it through db.query, db.command or db.admin",
    );
  }
  return prefetched;
}

/** Evaluates an `as of` target: a whole commit seq. */
export function asOfSeq(expr: Expr, ctx: RunContext): number {
  const value = compileExpression(expr)(scopeOf(ctx));
  const seq = typeof value === "bigint" ? Number(value) : value;
  if (typeof seq !== "number" || !Number.isSafeInteger(seq) || seq < 0) {
    const { line, col } = expr.pos;
    const shown = describeValue(value);
    const message = `line ${line}, column ${col}: as of needs a commit seq, got ${shown}`;
    const fragment = printExpression(expr);
    throw new DbError("INVALID_ARGUMENT", message, { value: shown, line, col, fragment });
  }
  return seq;
}

function compilePastSource(source: ObjectSource, asOf: Expr, env: CompileEnv): CompiledSource {
  const name = source.object.name;
  const rows = (ctx: RunContext): Iterable<Row> => {
    const prefetched = requirePrefetch(ctx, "as of");
    const seq = asOfSeq(asOf, ctx);
    const catalog: Catalog | undefined = prefetched.asOf.get(seq);
    if (catalog === undefined) throw new DbError("INVALID_ARGUMENT", `as of ${seq} was not loaded`);
    const object = catalog.get(name);
    if (object === undefined) throw unknownObject(name, source.object.pos);
    const past = compileObjectSource(object, { catalog, host: env.host }, undefined);
    return past.rows({ ...ctx, catalog });
  };
  // The past may have other columns than the present: they are known only when it is read.
  return { columns: undefined, plan: `${name}: as of a past commit`, shared: true, rows };
}

/** The key `system::history` results are stored under. */
export function historyKey(object: string, key: unknown): string {
  return `${object}\u0000${describeValue(key)}`;
}

/** Evaluates `{ object: "...", key: K }` of a `system::history` source. */
export function historyArgs(
  source: ObjectSource,
  ctx: RunContext,
): { object: string; key: unknown } {
  const args = source.args;
  if (args === undefined) {
    throw new DbError("INVALID_ARGUMENT", 'system::history needs { object: "ns::name", key: K }');
  }
  const value = compileExpression(args)(scopeOf(ctx)) as Record<string, unknown>;
  if (typeof value.object !== "string") {
    throw new DbError("INVALID_ARGUMENT", "system::history: object must be an object name");
  }
  // Without it the history of the row keyed none was read: empty, for a key left out or
  // misspelt. `key: none` still asks for that row.
  if (!Object.hasOwn(value, "key")) {
    throw new DbError("INVALID_ARGUMENT", "system::history needs the row's key: { key: K }", {
      object: value.object,
    });
  }
  return { object: value.object, key: value.key ?? null };
}

function compileHistory(source: ObjectSource): CompiledSource {
  const columns = untyped(["seq", "ts", "origin", "kind", "before", "after"]);
  const rows = (ctx: RunContext): Iterable<Row> => {
    const prefetched = requirePrefetch(ctx, "system::history");
    const { object, key } = historyArgs(source, ctx);
    const found = prefetched.history.get(historyKey(object, key));
    if (found === undefined)
      throw new DbError("INVALID_ARGUMENT", "system::history was not loaded");
    return found;
  };
  return { columns, plan: "system::history: log scan", shared: false, rows };
}
