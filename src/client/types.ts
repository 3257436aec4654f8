/**
 * @module What the client sends and receives, as data. These mirror the server's contracts
 * (docs/server.md): the client never imports the engine or the server, only these shapes.
 */

/** RQL parameters: named (`$name`) from an object, positional (`$1`) from an array. */
export type QueryParams = Readonly<Record<string, unknown>> | readonly unknown[];

/** One frame per statement that yields rows; each row maps column name to a JSON value. */
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

/** One row-level change of a delta. */
export interface RowDelta {
  op: "insert" | "update" | "remove";
  key: unknown;
  row?: Record<string, unknown>;
  before?: Record<string, unknown>;
}

/**
 * What a subscription delivers: one snapshot, then one delta per commit that touched the
 * target, in seq order. `end` with reason `lagged` means the server cut a slow reader; the
 * client resumes from the last seq it delivered, so no delta is lost or repeated.
 */
export type SubscriptionMessage =
  | { type: "snapshot"; seq: number; rows: Array<Record<string, unknown>> }
  | { type: "delta"; seq: number; changes: RowDelta[] }
  | { type: "end"; seq: number; reason: "lagged" | "closed" };
