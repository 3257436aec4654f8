/**
 * @module The Statebase statements that act on one primitive: `counter X add N [by {key}]`
 * (yields `{value}`, the new value), `histogram X record V`, and `queue X claim N` (yields the
 * claimed messages as rows) / `ack E` / `nack E` (E a message id or a list of ids).
 */
import { DbError, describeValue } from "../lib/errors.ts";
import type { StoredObject } from "../engine/index.ts";
import { compileExpression } from "../expr/index.ts";
import { Counter, Histogram, Queue } from "../primitives/index.ts";
import type { Row } from "../primitives/index.ts";
import type {
  CounterAddStatement,
  HistogramRecordStatement,
  ObjectRef,
  QueueStatement,
} from "./ast.ts";
import { scopeOf } from "./context.ts";
import type { CompileEnv, RunContext } from "./context.ts";
import type { CompiledStatement } from "./dml.ts";
import { unknownObject } from "./rql-errors.ts";

function resolveAs<T extends StoredObject>(
  ref: ObjectRef,
  env: CompileEnv,
  kind: abstract new (...args: never[]) => T,
  word: string,
): T {
  const object = env.catalog.get(ref.name);
  if (object === undefined) throw unknownObject(ref.name, ref.pos);
  if (!(object instanceof kind)) {
    throw new DbError("WRONG_OBJECT_KIND", `${object.name} is a ${object.kind}, not a ${word}`, {
      object: object.name,
    });
  }
  return object;
}

export function compileCounterAdd(
  statement: CounterAddStatement,
  env: CompileEnv,
): CompiledStatement {
  const counter = resolveAs(statement.target, env, Counter, "counter");
  const amount = compileExpression(statement.amount);
  const by = (counter.definition.by ?? []).map((column) => column.name);
  const keyRead = statement.key === undefined ? undefined : compileExpression(statement.key);
  if (by.length > 0 && keyRead === undefined) {
    throw new DbError(
      "INVALID_ARGUMENT",
      `${counter.name} is keyed: write counter ${counter.name} add N by { ${by.join(", ")}: ... }`,
      {
        object: counter.name,
      },
    );
  }
  const run = (ctx: RunContext): Row[] => {
    const scope = scopeOf(ctx);
    let key: unknown;
    if (keyRead !== undefined) {
      const record = keyRead(scope) as Record<string, unknown>;
      const parts = by.map((name) => record[name] ?? null);
      key = by.length === 1 ? parts[0] : parts;
    }
    const value = counter.add(ctx.tx, amount(scope), key);
    return [{ value }];
  };
  return { run, plan: [] };
}

export function compileHistogramRecord(
  statement: HistogramRecordStatement,
  env: CompileEnv,
): CompiledStatement {
  const histogram = resolveAs(statement.target, env, Histogram, "histogram");
  const value = compileExpression(statement.value);
  const run = (ctx: RunContext): undefined => {
    histogram.record(ctx.tx, value(scopeOf(ctx)));
    return undefined;
  };
  return { run, plan: [] };
}

function messageRow(queue: Queue, message: ReturnType<Queue["claim"]>[number]): Row {
  const body =
    queue.definition.columns === undefined
      ? { id: message.id, body: message.body }
      : { ...(message.body as Row) };
  return {
    ...body,
    state: message.state,
    attempts: message.attempts,
    available_at: message.availableAt,
  };
}

export function compileQueueStatement(
  statement: QueueStatement,
  env: CompileEnv,
): CompiledStatement {
  const queue = resolveAs(statement.target, env, Queue, "queue");
  const argument = compileExpression(statement.argument);
  const run = (ctx: RunContext): Row[] | undefined => {
    const value = argument(scopeOf(ctx));
    if (statement.action === "claim") {
      const count = typeof value === "bigint" ? Number(value) : value;
      if (typeof count !== "number") {
        throw new DbError(
          "INVALID_ARGUMENT",
          `queue claim needs a count, got ${describeValue(value)}`,
        );
      }
      return queue.claim(ctx.tx, count).map((message) => messageRow(queue, message));
    }
    const ids = Array.isArray(value) ? value : [value];
    for (const id of ids) {
      if (statement.action === "ack") queue.ack(ctx.tx, id);
      else queue.nack(ctx.tx, id);
    }
    return undefined;
  };
  return { run, plan: [] };
}
