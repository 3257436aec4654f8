/**
 * @module Runs one operation: look it up, check authentication, role and read-only mode,
 * run it (a transactional op inside one transaction with an `rcp` origin, so the log says
 * which request caused each commit), and report the outcome to the metrics hook. Waiting
 * for durability is the session's job (session.ts), so pipelined requests share fsyncs.
 */
import { assertionFailed } from "../../lib/assert.ts";
import { operationOrigin } from "../../lib/origin.ts";
import type { WireError } from "../../protocol/index.ts";
import { roleAllows } from "../auth.ts";
import type { MachinesApi, TransactOptions } from "../../types.ts";
import type { RcpCore } from "./core.ts";
import { RcpFailure, badRequest, toWireError } from "./failure.ts";
import type { Operation, OperationContext } from "./operation.ts";
import { operations } from "./operations.ts";
import type { Session } from "./session.ts";

export type Outcome = { ok: true; result: unknown } | { ok: false; error: WireError };

/** What a caller of {@link runOperation} provides; `machines` is filled in here. */
export interface DispatchContext {
  readonly core: RcpCore;
  readonly session: Session;
  readonly inBatch: boolean;
}

/**
 * Runs `op` with `params`; never throws except for assertion failures (bugs). A synchronous
 * operation (every transactional one) yields its outcome at once, without a promise: the
 * session then answers a pipelined run of requests in one turn of the event loop.
 */
export function runOperation(
  context: DispatchContext,
  op: string,
  params: unknown,
): Outcome | Promise<Outcome> {
  const started = performance.now();
  let result: unknown;
  try {
    const operation = lookupOperation(op);
    checkAccess(context, op, operation);
    // In `sync` mode the caller holds the answer until what it observed is durable.
    result = execute(context, op, operation, params);
  } catch (error) {
    return report(context, op, started, { ok: false, error: toWireError(error) });
  }
  if (!(result instanceof Promise)) return report(context, op, started, { ok: true, result });
  return result.then(
    (value: unknown) => report(context, op, started, { ok: true, result: value }),
    (error: unknown) => report(context, op, started, { ok: false, error: toWireError(error) }),
  );
}

/**
 * Hands the outcome to the metrics hook and returns it. An operation name the server does not
 * know is reported as `unknown`: names a client makes up must not become metric series.
 */
function report(context: DispatchContext, op: string, started: number, outcome: Outcome): Outcome {
  context.core.options.onRequest?.(
    Object.hasOwn(operations, op) ? op : "unknown",
    outcome.ok ? undefined : outcome.error.code,
    performance.now() - started,
  );
  return outcome;
}

export function lookupOperation(op: string): Operation {
  const operation = Object.hasOwn(operations, op) ? operations[op] : undefined;
  if (operation === undefined) throw badRequest(`unknown operation: ${op}`);
  return operation;
}

/** Authentication, the token's role, and read-only mode, in that order. */
export function checkAccess(context: DispatchContext, op: string, operation: Operation): void {
  const { core, session } = context;
  if (operation.role !== "none") {
    if (session.role === undefined) {
      throw new RcpFailure("UNAUTHORIZED", "authentication required");
    }
    if (!roleAllows(session.role, operation.role)) {
      throw new RcpFailure(
        "UNAUTHORIZED",
        `a token with role ${session.role} may not run ${op} (it needs ${operation.role})`,
      );
    }
  }
  if (operation.write && core.readOnly) {
    throw new RcpFailure("READ_ONLY_MODE", "server is in read-only mode");
  }
}

function execute(
  context: DispatchContext,
  op: string,
  operation: Operation,
  params: unknown,
): unknown {
  const db = context.core.db;
  if (!operation.transactional) return operation.run(withMachines(context, db), params);
  return db.transact((tx) => {
    const result = operation.run(withMachines(context, tx), params);
    if (result instanceof Promise) assertionFailed(`${op} is marked transactional but is async`);
    return result;
  }, transactOptionsOf(op));
}

/** The options of an operation's transactions, made once per operation (this runs per request). */
const transactOptions = new Map<string, TransactOptions>();

function transactOptionsOf(op: string): TransactOptions {
  let options = transactOptions.get(op);
  if (options === undefined) {
    // Only names of the operation table get here (lookupOperation refused the others).
    options = { origin: operationOrigin("rcp", op) };
    transactOptions.set(op, options);
  }
  return options;
}

/** What `machines` is read from: the database, or the transaction an operation runs in. */
export interface MachinesSource {
  readonly machines: MachinesApi;
}

/**
 * The context with `machines` read on first use (reads that never touch it stay cheap). A
 * class, not an object literal with a getter: one is made per request, and V8 builds a
 * literal with an accessor far more slowly than an instance whose getter is on the prototype.
 * It holds the source, not a closure reading it: no function is made per request.
 */
class LazyMachinesContext implements OperationContext {
  constructor(
    readonly core: RcpCore,
    readonly session: Session,
    readonly inBatch: boolean,
    private readonly source: MachinesSource,
  ) {}

  get machines(): MachinesApi {
    return this.source.machines;
  }
}

export function withMachines(context: DispatchContext, source: MachinesSource): OperationContext {
  return new LazyMachinesContext(context.core, context.session, context.inBatch, source);
}
