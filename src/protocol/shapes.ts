/**
 * @module The data shapes every protocol carries and the embedded API returns: RQL results,
 * subscription targets and messages (DESIGN.md, "Contracts that outside tests rely on").
 * They live here, in the protocol layer, so that the embedded types (src/types.ts) and the
 * client (src/client) share one definition without the client importing the engine. Types
 * only: nothing here exists at run time, so browsers never load the RCP client through it.
 */

/** RQL parameters: named (`$name`) from an object, positional (`$1`) from an array. */
export type QueryParams = Readonly<Record<string, unknown>> | readonly unknown[];

/** One frame per statement that yields rows; each row maps column name to value. */
export interface QueryResult {
  frames: Array<Array<Record<string, unknown>>>;
}

/** What a subscription follows. */
export type SubscriptionTarget =
  | { table: string }
  | { view: string }
  | { query: string; params?: QueryParams }
  | { machine: string }
  | { queue: string };

/** One row-level change of a subscription delta. */
export interface RowDelta {
  op: "insert" | "update" | "remove";
  key: unknown;
  row?: Record<string, unknown>;
  before?: Record<string, unknown>;
}

/**
 * What a subscription delivers: one snapshot, then one delta per commit that touched the
 * target, in seq order. `end` with reason `lagged` means a slow reader was cut; it resumes
 * from the last seq it saw, so no delta is lost or repeated.
 */
export type SubscriptionMessage =
  | { type: "snapshot"; seq: number; rows: Array<Record<string, unknown>> }
  | { type: "delta"; seq: number; changes: RowDelta[] }
  | { type: "end"; seq: number; reason: "lagged" | "closed" };
