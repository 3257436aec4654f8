/**
 * @module BATCH (specs/rcp.md §2.6, decision 9). `best_effort` runs each op as if sent alone
 * and reports each outcome. `atomic` runs every op in one transaction: the first failure
 * rolls everything back and the BATCH answers BAD_REQUEST naming the failed op. Only
 * transactional ops may be part of an atomic batch.
 */
import type { Tx } from "../../types.ts";
import { badRequest, toWireError } from "./failure.ts";
import { checkAccess, lookupOperation, runOperation, withMachines } from "./dispatch.ts";
import type { DispatchContext } from "./dispatch.ts";
import type { Operation, OperationContext } from "./operation.ts";
import { Params } from "./params.ts";

interface BatchItem {
  op: string;
  operation: Operation;
  params: unknown;
}

interface BatchResult {
  status: "ok" | "error";
  result: unknown;
  error: unknown;
}

/** An atomic batch's failing op, carried out of the transaction that it rolls back. */
class AtomicFailure extends Error {
  constructor(
    readonly index: number,
    readonly op: string,
    override readonly cause: unknown,
  ) {
    super(`atomic batch op ${index} failed`);
  }
}

// BATCH {mode?: "atomic" | "best_effort", ops: [{op, params?}]}
export const batchOperation: Operation = {
  role: "read",
  write: false,
  transactional: false,
  async run(context: OperationContext, raw: unknown) {
    if (context.inBatch) throw badRequest("BATCH cannot be nested in a BATCH");
    const params = new Params(raw, "BatchParams");
    const items = readItems(params.any("ops"), context.core.limits.batchOpsMax);
    const dispatch = { core: context.core, session: context.session, inBatch: true };
    const results =
      params.any("mode") === "atomic"
        ? runAtomic(dispatch, items)
        : await runBestEffort(dispatch, items);
    return { results };
  },
};

function readItems(ops: unknown, batchOpsMax: number): BatchItem[] {
  if (!Array.isArray(ops)) throw badRequest("missing ops");
  if (ops.length > batchOpsMax) {
    throw badRequest(`batch too large: ${ops.length} ops (limit ${batchOpsMax})`);
  }
  return ops.map((item: unknown, index) => {
    const record = (typeof item === "object" && item !== null ? item : {}) as Record<
      string,
      unknown
    >;
    if (typeof record.op !== "string") throw badRequest(`batch op ${index}: missing field \`op\``);
    return { op: record.op, operation: lookupOperation(record.op), params: record.params ?? null };
  });
}

async function runBestEffort(context: DispatchContext, items: BatchItem[]): Promise<BatchResult[]> {
  const results: BatchResult[] = [];
  for (const item of items) {
    const outcome = await runOperation(context, item.op, item.params);
    results.push(
      outcome.ok
        ? { status: "ok", result: outcome.result, error: null }
        : { status: "error", result: null, error: outcome.error },
    );
  }
  return results;
}

function runAtomic(context: DispatchContext, items: BatchItem[]): BatchResult[] {
  items.forEach((item, index) => {
    if (!item.operation.transactional) {
      throw badRequest(`atomic batch failed: op ${index} (${item.op}) cannot run in a transaction`);
    }
  });
  const { role, tokenName, clientName, outputMode } = context.session;
  try {
    const results = context.core.db.transact((tx) => runItems(context, items, tx), {
      origin: { kind: "rcp", detail: { op: "BATCH", ops: items.map((item) => item.op) } },
    });
    return results.map((result) => ({ status: "ok", result, error: null }));
  } catch (error) {
    // Nothing of a failed atomic batch stays, an AUTH or a HELLO in it included.
    Object.assign(context.session, { role, tokenName, clientName, outputMode });
    if (!(error instanceof AtomicFailure)) throw error;
    const wire = toWireError(error.cause);
    throw badRequest(
      `atomic batch failed: op ${error.index} (${error.op}): ${wire.code}: ${wire.message}`,
      { failed_index: error.index, failed_op: error.op, failed_error: wire },
    );
  }
}

function runItems(context: DispatchContext, items: BatchItem[], tx: Tx): unknown[] {
  const opContext = withMachines(context, tx);
  const { session } = context;
  const unwatched = new Set<string>();
  session.unwatchesDeferred = unwatched;
  let results: unknown[];
  try {
    results = items.map((item, index) => {
      try {
        checkAccess(context, item.op, item.operation);
        return item.operation.run(opContext, item.params);
      } catch (error) {
        throw new AtomicFailure(index, item.op, error);
      }
    });
  } finally {
    session.unwatchesDeferred = undefined;
  }
  // Every op succeeded: the UNWATCHes take effect, before the batch's commit is published.
  for (const id of unwatched) session.removeWatch(id);
  return results;
}
