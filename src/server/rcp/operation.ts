/**
 * @module The shape of one RCP operation: data (the role it needs, whether it writes,
 * whether it can run inside a transaction) plus its handler. The table of all operations is
 * in operations.ts; dispatch.ts runs them.
 */
import type { TokenRole } from "../auth.ts";
import type { MachinesApi } from "../../types.ts";
import type { RcpCore } from "./core.ts";
import type { Session } from "./session.ts";

export interface OperationContext {
  readonly core: RcpCore;
  readonly session: Session;
  /** db.machines, or tx.machines inside a transaction (an atomic BATCH). */
  readonly machines: MachinesApi;
  /** True for a sub-op of BATCH (BYE does not close, BATCH does not nest). */
  readonly inBatch: boolean;
}

export interface Operation {
  /** `none`: allowed before AUTH (HELLO, AUTH, PING, BYE). */
  readonly role: "none" | TokenRole;
  /** Refused with READ_ONLY_MODE on a read-only server. */
  readonly write: boolean;
  /**
   * Runs synchronously inside one transaction, so it may be part of an atomic BATCH. Other
   * operations are async (they read the log, take snapshots, call procedures, subscribe).
   */
  readonly transactional: boolean;
  run(context: OperationContext, params: unknown): unknown;
}

/** `T` with every property that may be undefined made optional instead. */
export type Defined<T> = {
  [K in keyof T as undefined extends T[K] ? never : K]: T[K];
} & {
  [K in keyof T as undefined extends T[K] ? K : never]?: Exclude<T[K], undefined>;
};

/**
 * Drops undefined properties, for options objects under exactOptionalPropertyTypes. A
 * `for…in` loop, not Object.entries: this runs once per request, and entries allocates an
 * array per property.
 */
export function defined<T extends object>(value: T): Defined<T> {
  const out: Record<string, unknown> = {};
  const record = value as Record<string, unknown>;
  for (const key in record) {
    const item = record[key];
    if (item !== undefined) out[key] = item;
  }
  return out as Defined<T>;
}
