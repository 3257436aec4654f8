/**
 * @module The executor: runs a parsed script inside the caller's transaction, statement by
 * statement, and collects one frame per statement that yields rows. Each statement is compiled
 * once per catalog epoch and the result is kept on the cached parse, so a repeated query with
 * new parameters goes straight to its closures. The executor never commits or rolls back:
 * the caller's transaction does, so a throw anywhere undoes the whole script.
 */
import { nowReader } from "../lib/clock.ts";
import { DbError, describeValue } from "../lib/errors.ts";
import type { Catalog, Transaction } from "../engine/index.ts";
import { compileExpression } from "../expr/index.ts";
import type { Row } from "../primitives/index.ts";
import type { CallStatement, Statement } from "./ast.ts";
import { scopeOf } from "./context.ts";
import type { CompileEnv, Params, RunContext } from "./context.ts";
import { compileSchemaStatement } from "./ddl.ts";
import { compileDelete, compileInsert, compileUpdate } from "./dml.ts";
import type { EntryPoint } from "./entry-point.ts";
import type { RqlHost } from "./host.ts";
import type { CachedScript } from "./parser.ts";
import { checkEntryPoint } from "./permissions.ts";
import { compilePipeline } from "./pipeline.ts";
import {
  compileCounterAdd,
  compileHistogramRecord,
  compileQueueStatement,
} from "./primitive-statements.ts";
import { toRqlError } from "./rql-errors.ts";
import { deadlineTick, enterDeadline, leaveDeadline } from "./deadline.ts";
import type { QueryDeadline } from "./deadline.ts";

/** Frames a procedure body produced; `call` adds them to the caller's result. */
export class FramesResult {
  constructor(readonly frames: Array<Array<Record<string, unknown>>>) {}
}

/** A statement ready to run: the frames it adds, and its access paths. */
interface Runner {
  readonly run: (ctx: RunContext) => Array<Array<Record<string, unknown>>>;
  readonly plan: readonly string[];
}

interface PlanSlot {
  readonly catalog: Catalog;
  readonly epoch: number;
  readonly runner: Runner;
}

export interface ExecuteOptions {
  readonly entry: EntryPoint;
  readonly params?: Params | undefined;
  readonly host: RqlHost;
  /** True for `tx.execute`, which cannot wait for the log (time travel, history). */
  readonly synchronous: boolean;
  /**
   * The script's deadline; one already active (a procedure's script inside its caller's)
   * is kept. Undefined: none but an active one.
   */
  readonly deadline?: QueryDeadline | undefined;
}

/** A row as it leaves: a plain object of its own, none as null. */
function outputRow(row: Row): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key in row) out[key] = row[key] ?? null;
  return out;
}

function frameOf(rows: readonly Row[]): Array<Record<string, unknown>> {
  const frame = new Array<Record<string, unknown>>(rows.length);
  for (let i = 0; i < rows.length; i++) frame[i] = outputRow(rows[i]!);
  return frame;
}

/**
 * A statement yielding at most one frame. Stored rows (`shared`) are copied on the way out so
 * that callers can never mutate the database's rows; rows a statement built are handed out.
 */
function singleFrame(
  run: (ctx: RunContext) => Row[] | undefined,
  plan: readonly string[],
  shared = true,
): Runner {
  return {
    plan,
    run: (ctx) => {
      const rows = run(ctx);
      if (rows === undefined) return [];
      return [shared ? frameOf(rows) : rows];
    },
  };
}

/** Compiles one statement against the catalog as it is now. */
function compileStatement(statement: Statement, env: CompileEnv): Runner {
  switch (statement.type) {
    case "query": {
      const pipeline = compilePipeline(statement.pipeline, env);
      return singleFrame(pipeline.run, pipeline.plan, pipeline.shared);
    }
    case "insert": {
      const compiled = compileInsert(statement, env);
      return singleFrame(compiled.run, compiled.plan);
    }
    case "update": {
      const compiled = compileUpdate(statement, env);
      return singleFrame(compiled.run, compiled.plan);
    }
    case "delete": {
      const compiled = compileDelete(statement, env);
      return singleFrame(compiled.run, compiled.plan);
    }
    case "counter_add": {
      const compiled = compileCounterAdd(statement, env);
      return singleFrame(compiled.run, compiled.plan);
    }
    case "histogram_record": {
      const compiled = compileHistogramRecord(statement, env);
      return singleFrame(compiled.run, compiled.plan);
    }
    case "queue": {
      const compiled = compileQueueStatement(statement, env);
      return singleFrame(compiled.run, compiled.plan);
    }
    case "call":
      return compileCall(statement);
    default: {
      const compiled = compileSchemaStatement(statement);
      return singleFrame(compiled.run, compiled.plan);
    }
  }
}

/** `call ns::p(args)`: the procedure runs inside this transaction; its rows become frames. */
function compileCall(statement: CallStatement): Runner {
  const args = statement.args.map((arg) => compileExpression(arg));
  const name = statement.procedure.name;
  return {
    plan: [`call ${name}`],
    run: (ctx) => {
      const scope = scopeOf(ctx);
      const values = args.map((read) => read(scope));
      // One record argument names the parameters: call p({ id: 7 }).
      const single = values.length === 1 ? values[0] : undefined;
      const named =
        single !== null &&
        typeof single === "object" &&
        !Array.isArray(single) &&
        !(single instanceof Date);
      const input = named ? [single] : values;
      let result: unknown;
      try {
        result = ctx.host.procedures.call(ctx.tx, name, input, ctx.entry);
      } catch (error) {
        throw inProcedure(error, statement);
      }
      return framesOfResult(result);
    },
  };
}

/**
 * An error of a `call`, placed at the `call` in this script. One at a position inside the
 * procedure's body keeps that position in its message, said to be the body's: read as this
 * script's, it pointed at the wrong text.
 */
function inProcedure(error: unknown, statement: CallStatement): unknown {
  if (!(error instanceof DbError)) return error;
  const name = statement.procedure.name;
  const { line, col } = statement.pos;
  const at = { line, col, fragment: `call ${name}` };
  if (typeof error.details.line !== "number") {
    // Arguments, an unknown name, or a failure with no place of its own: said at the call.
    const message = `line ${line}, column ${col}: ${error.message}`;
    const placed = new DbError(error.code, message, { ...error.details, ...at });
    if (error.stack !== undefined) placed.stack = error.stack;
    return placed;
  }
  const message = `line ${line}, column ${col}: ${inBodyMessage(error, name)}`;
  const located = new DbError(error.code, message, { ...error.details, ...at, procedure: name });
  if (error.stack !== undefined) located.stack = error.stack;
  return located;
}

/** The message of an error at a position in procedure `name`'s body, said to be the body's. */
function inBodyMessage(error: DbError, name: string): string {
  const inner = `line ${String(error.details.line)}, column ${String(error.details.col)}: `;
  const rest = error.message.startsWith(inner) ? error.message.slice(inner.length) : error.message;
  return `in procedure ${name}, at ${inner.slice(0, -2)} of its body: ${rest}`;
}

/**
 * An error of a procedure called by name (`db.call`, with no script around it): one at a
 * position says that the line and column are in the procedure's body, which the caller never
 * sent, and names the procedure; others are returned as they are.
 */
export function inProcedureBody(error: unknown, name: string): unknown {
  if (!(error instanceof DbError) || typeof error.details.line !== "number") return error;
  const located = new DbError(error.code, inBodyMessage(error, name), {
    ...error.details,
    procedure: name,
  });
  if (error.stack !== undefined) located.stack = error.stack;
  return located;
}

/** What a procedure returned, as frames: rows, one record, frames of a body, or a value. */
export function framesOfResult(result: unknown): Array<Array<Record<string, unknown>>> {
  if (result === undefined) return [];
  if (result instanceof FramesResult) return result.frames;
  if (
    Array.isArray(result) &&
    result.every((item) => item !== null && typeof item === "object" && !Array.isArray(item))
  ) {
    return [frameOf(result as Row[])];
  }
  if (
    result !== null &&
    typeof result === "object" &&
    !Array.isArray(result) &&
    !(result instanceof Date)
  ) {
    return [[outputRow(result as Row)]];
  }
  return [[{ result: result ?? null }]];
}

/** The runner of statement `index` for this catalog, compiling it when the schema moved on. */
function runnerOf(cached: CachedScript, index: number, env: CompileEnv): Runner {
  const slot = cached.plans[index] as PlanSlot | undefined;
  const catalog = env.catalog;
  if (slot !== undefined && slot.catalog === catalog && slot.epoch === catalog.epoch)
    return slot.runner;
  const runner = compileStatement(cached.script.statements[index]!, env);
  cached.plans[index] = { catalog, epoch: catalog.epoch, runner } satisfies PlanSlot;
  return runner;
}

/**
 * Runs a script inside `tx` (the caller owns the transaction: a throw from here must roll it
 * back). Entry-point permissions are checked for every statement before any runs.
 */
export function executeScript(
  cached: CachedScript,
  tx: Transaction,
  catalog: Catalog,
  options: ExecuteOptions,
): { frames: Array<Array<Record<string, unknown>>> } {
  checkEntryPoint(cached.script, options.entry);
  checkParams(cached, options.params);
  const env: CompileEnv = { catalog, host: options.host };
  const ctx: RunContext = {
    tx,
    catalog,
    params: options.params,
    host: options.host,
    synchronous: options.synchronous,
    entry: options.entry,
    now: nowReader(tx),
  };
  const frames: Array<Array<Record<string, unknown>>> = [];
  const count = cached.script.statements.length;
  const entered = enterDeadline(options.deadline);
  try {
    for (let i = 0; i < count; i++) {
      deadlineTick(1);
      const produced = runnerOf(cached, i, env).run(ctx);
      for (const frame of produced) frames.push(frame);
    }
  } catch (error) {
    throw toRqlError(error);
  } finally {
    if (entered) leaveDeadline();
  }
  return { frames };
}

function checkParams(cached: CachedScript, params: Params | undefined): void {
  if (params === undefined || params === null) return;
  if (typeof params !== "object") {
    throw new DbError(
      "INVALID_ARGUMENT",
      `params must be a record or a list, got ${describeValue(params)}`,
    );
  }
  const needed = cached.script.positionalParamsMax;
  if (needed > 0 && Array.isArray(params) && params.length < needed) {
    throw new DbError(
      "INVALID_ARGUMENT",
      `the script uses $${needed}; ${params.length} params given`,
    );
  }
}

/**
 * The access paths a script's statements would use, one line each (compiling, not running,
 * them). Statements after a schema change are planned against the schema as it is now.
 */
export function explainScript(cached: CachedScript, catalog: Catalog, host: RqlHost): string[] {
  const env: CompileEnv = { catalog, host };
  const lines: string[] = [];
  for (let i = 0; i < cached.script.statements.length; i++) {
    try {
      lines.push(...runnerOf(cached, i, env).plan);
    } catch (error) {
      throw toRqlError(error);
    }
  }
  return lines;
}
