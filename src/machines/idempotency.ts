/**
 * @module Idempotency keys (rcp.md decision 6). A create, apply or delete that carries a key
 * stores the key with a fingerprint of the request and its result in `machine::_idempotency`,
 * in the same transaction, so keys are in the log and come back on recovery. A retry within the
 * window gets the original result; a different request under the same key is
 * IDEMPOTENCY_MISMATCH. Expiry is decided by commit time (`tx.now`), never by the clock at
 * read time, so replay and followers agree; each write that stores a key also removes a few
 * expired ones, which keeps the table bounded without a background task.
 */
import { createHash } from "node:crypto";
import { assert } from "../lib/assert.ts";
import { DbError } from "../lib/errors.ts";
import { machineIdempotencyPurgeBatchMax } from "../lib/limits.ts";
import type { Transaction } from "../engine/index.ts";
import { canonicalJson } from "./canonical-json.ts";
import { idempotencyTableName } from "./names.ts";
import type { IdempotencyRow, MachineStore } from "./store.ts";

export type IdempotentOp = "create_instance" | "apply_event" | "delete_instance";

/** What identifies one request under a key: the op, its scope and the key itself. */
export interface IdempotencySlot {
  readonly op: IdempotentOp;
  /** The instance id the request names ("" for a create that lets the id be generated). */
  readonly scope: string;
  readonly key: string;
  /** SHA-256 of the canonical JSON of the request's other parameters. */
  readonly fingerprint: string;
}

/** Builds the slot of a request; `request` holds every parameter except the key. */
export function idempotencySlot(
  op: IdempotentOp,
  scope: string,
  key: string,
  request: Record<string, unknown>,
): IdempotencySlot {
  const fingerprint = createHash("sha256").update(canonicalJson(request)).digest("hex");
  return { op, scope, key, fingerprint };
}

/**
 * The stored result of an earlier identical request still inside the window, or undefined.
 * Throws IDEMPOTENCY_MISMATCH when the key was used for a different request.
 */
export function findIdempotentResult(
  store: MachineStore,
  now: number,
  slot: IdempotencySlot,
): Record<string, unknown> | undefined {
  const table = store.table(idempotencyTableName);
  const row = table?.get(slotKey(slot)) as IdempotencyRow | undefined;
  if (row === undefined || row.expires_at <= now) return undefined;
  if (row.fingerprint !== slot.fingerprint) {
    throw new DbError(
      "IDEMPOTENCY_MISMATCH",
      `idempotency key '${slot.key}' was already used for a different ${slot.op} request` +
        (slot.scope === "" ? "" : ` on instance '${slot.scope}'`),
      { value: slot.key, op: slot.op },
    );
  }
  return row.result;
}

/** Stores a request's result under its key (replacing an expired entry), in `tx`. */
export function rememberIdempotentResult(
  store: MachineStore,
  tx: Transaction,
  slot: IdempotencySlot,
  target: string,
  result: Record<string, unknown>,
): void {
  const table = store.requireTable(idempotencyTableName);
  purgeExpired(store, tx);
  table.set(tx, {
    slot: slotKey(slot),
    op: slot.op,
    scope: slot.scope,
    key: slot.key,
    target,
    fingerprint: slot.fingerprint,
    result,
    wal_offset: store.commitSeq(),
    expires_at: tx.now + store.options.idempotencyWindowMs,
  });
}

/** The ops whose keys are scoped to one instance id. */
const instanceOps: readonly IdempotentOp[] = ["create_instance", "apply_event", "delete_instance"];

/**
 * Forgets the keys used on an earlier instance with this id, in `tx`, as the id is created
 * again: a key belongs to the instance it was used on, so reusing it on the new instance is a
 * new request, not a retry to answer with the deleted instance's result.
 */
export function forgetInstanceKeys(store: MachineStore, tx: Transaction, id: string): void {
  assert(id !== "", "only a named instance has keys of its own");
  const table = store.table(idempotencyTableName);
  if (table === undefined) return;
  for (const op of instanceOps) {
    // Slots are the JSON of [op, scope, key]: one scope's slots share this prefix, and the
    // primary key's order keeps them together.
    const prefix = `${JSON.stringify([op, id]).slice(0, -1)},`;
    const slots: string[] = [];
    for (const row of table.scan({ lower: prefix })) {
      const slot = (row as unknown as IdempotencyRow).slot;
      if (!slot.startsWith(prefix)) break;
      slots.push(slot);
    }
    for (const slot of slots) table.del(tx, slot);
    assert(slots.length === 0 || table.get(slots[0]) === undefined, "forgotten keys are gone");
  }
}

function slotKey(slot: IdempotencySlot): string {
  return JSON.stringify([slot.op, slot.scope, slot.key]);
}

/** Removes up to a batch of keys whose window has passed. */
function purgeExpired(store: MachineStore, tx: Transaction): void {
  const table = store.requireTable(idempotencyTableName);
  const range = { upper: tx.now, limit: machineIdempotencyPurgeBatchMax };
  const expired = [...table.range("expiry", range)] as unknown as IdempotencyRow[];
  for (const row of expired) table.del(tx, row.slot);
}
