/**
 * @module Transition effects: data changes a transition makes on other objects in the same
 * transaction, declared in the definition (a Statebase extension). One effect is one object:
 *
 *   {"counter": "shop::paid", "add": 1, "key"?: <template>}
 *   {"ringbuffer": "shop::recent", "push": <template>}
 *   {"queue": "shop::jobs", "enqueue": <template>, "delay_ms"?: <template>}
 *   {"table": "shop::orders", "upsert" | "insert" | "delete": <template>}
 *
 * A template is JSON in which every string is an expression (src/expr, RQL semantics) over
 * `ctx` (after the merge), `payload`, `instance_id`, `machine`, `version`, `event`,
 * `from_state` and `to_state`; objects and lists are walked, other values are literals. So
 * `{"id": "instance_id", "total": "ctx.total", "status": "'paid'"}` builds a row. Effects are
 * checked when the machine is defined (shape, names, expressions); the objects they name must
 * exist when the transition runs, else the event fails and nothing of it is applied.
 */
import { DbError, describeValue } from "../lib/errors.ts";
import { compileExpression, parseExpression } from "../expr/index.ts";
import type { Evaluator, Scope } from "../expr/index.ts";
import { qualifyName } from "../engine/index.ts";
import type { Catalog, Transaction } from "../engine/index.ts";
import { Counter, Queue, RingBuffer, Table } from "../primitives/index.ts";
import { assert } from "../lib/assert.ts";
import { setOwnKey } from "../lib/row-object.ts";
import { isMachineNamespace } from "./names.ts";

/** A validated effect, as stored in the normalized definition. */
export type EffectSpec = Readonly<Record<string, unknown>>;

/** Runs one effect in `tx`; `scope.row` holds the roots named above. */
export type CompiledEffect = (tx: Transaction, catalog: Catalog, scope: Scope) => void;

type Target = "counter" | "ringbuffer" | "queue" | "table";

/** Each target kind with its operations and optional keys. */
const shapes: Readonly<Record<Target, { ops: readonly string[]; optional: readonly string[] }>> = {
  counter: { ops: ["add"], optional: ["key"] },
  ringbuffer: { ops: ["push"], optional: [] },
  queue: { ops: ["enqueue"], optional: ["delay_ms"] },
  table: { ops: ["upsert", "insert", "delete"], optional: [] },
};

const effectFields: ReadonlyMap<string, undefined> = new Map(
  ["ctx", "payload", "instance_id", "machine", "version", "event", "from_state", "to_state"].map(
    (name) => [name, undefined],
  ),
);

function invalidEffect(path: string, message: string): DbError {
  return new DbError("INVALID_DEFINITION", `invalid machine definition: ${path}: ${message}`, {
    path,
  });
}

/** Checks one effect's shape, target name and expressions; returns it with keys in order. */
export function normalizeEffect(input: unknown, path: string): EffectSpec {
  if (input === null || typeof input !== "object" || Array.isArray(input)) {
    throw invalidEffect(path, `an effect must be an object, got ${describeValue(input)}`);
  }
  const source = input as Record<string, unknown>;
  const targets = (Object.keys(shapes) as Target[]).filter((t) => source[t] !== undefined);
  if (targets.length !== 1) {
    throw invalidEffect(path, `name exactly one of counter, ringbuffer, queue or table`);
  }
  const target = targets[0]!;
  const shape = shapes[target];
  const ops = shape.ops.filter((op) => source[op] !== undefined);
  if (ops.length !== 1) {
    throw invalidEffect(path, `a ${target} effect needs exactly one of ${shape.ops.join(", ")}`);
  }
  for (const key of Object.keys(source)) {
    if (key !== target && key !== ops[0] && !shape.optional.includes(key)) {
      throw invalidEffect(path, `unknown key '${key}' in a ${target} effect`);
    }
  }
  checkTargetName(source[target], `${path}.${target}`);
  const out: Record<string, unknown> = { [target]: source[target], [ops[0]!]: source[ops[0]!] };
  for (const key of shape.optional) if (source[key] !== undefined) out[key] = source[key];
  for (const [key, value] of Object.entries(out)) {
    if (key !== target) compileTemplate(value, `${path}.${key}`);
  }
  return out;
}

function checkTargetName(name: unknown, path: string): void {
  if (typeof name !== "string") throw invalidEffect(path, "must be an object name");
  let namespace: string;
  try {
    namespace = qualifyName(name).namespace;
  } catch (error) {
    if (!(error instanceof DbError)) throw error;
    throw invalidEffect(path, error.message);
  }
  if (isMachineNamespace(namespace)) {
    throw invalidEffect(path, `effects may not write to the ${namespace} namespace`);
  }
}

/** Compiles a template: strings are expressions, objects and lists are walked. */
export function compileTemplate(value: unknown, path: string): Evaluator {
  if (typeof value === "string") {
    try {
      return compileExpression(parseExpression(value), { fields: effectFields });
    } catch (error) {
      if (!(error instanceof DbError)) throw error;
      throw invalidEffect(path, `invalid expression: ${error.message}`);
    }
  }
  if (Array.isArray(value)) {
    const items = value.map((item, i) => compileTemplate(item, `${path}[${i}]`));
    return (scope) => items.map((item) => item(scope));
  }
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value).map(
      ([key, item]) => [key, compileTemplate(item, `${path}.${key}`)] as const,
    );
    return (scope) => {
      const out: Record<string, unknown> = {};
      // A `__proto__` key (JSON.parse makes it an own key) stays a key, not the prototype.
      for (const [key, item] of entries) setOwnKey(out, key, item(scope));
      return out;
    };
  }
  return () => value;
}

/** Compiles a validated effect into a function that performs it. */
export function compileEffect(spec: EffectSpec): CompiledEffect {
  const target = (Object.keys(shapes) as Target[]).find((t) => spec[t] !== undefined)!;
  const name = spec[target] as string;
  const op = shapes[target].ops.find((o) => spec[o] !== undefined)!;
  const value = compileTemplate(spec[op], op);
  switch (target) {
    case "counter": {
      const key = spec.key === undefined ? undefined : compileTemplate(spec.key, "key");
      return (tx, catalog, scope) => {
        const counter = catalog.require(name, "counter");
        assert(counter instanceof Counter, "a counter object is a Counter");
        counter.add(tx, value(scope), key === undefined ? undefined : key(scope));
      };
    }
    case "ringbuffer":
      return (tx, catalog, scope) => {
        const ringBuffer = catalog.require(name, "ring_buffer");
        assert(ringBuffer instanceof RingBuffer, "a ring buffer object is a RingBuffer");
        ringBuffer.push(tx, value(scope));
      };
    case "queue": {
      const delay = spec.delay_ms === undefined ? undefined : compileTemplate(spec.delay_ms, "");
      return (tx, catalog, scope) => {
        const queue = catalog.require(name, "queue");
        assert(queue instanceof Queue, "a queue object is a Queue");
        const delayMs = delay === undefined ? undefined : delay(scope);
        queue.enqueue(
          tx,
          value(scope),
          delayMs === undefined ? {} : { delayMs: delayMs as number },
        );
      };
    }
    case "table":
      return (tx, catalog, scope) => {
        const table = catalog.require(name, "table");
        assert(table instanceof Table, "a table object is a Table");
        if (op === "upsert") table.set(tx, value(scope));
        else if (op === "insert") table.insert(tx, value(scope));
        else table.del(tx, value(scope));
      };
  }
}
