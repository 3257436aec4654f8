/**
 * @module The query deadline: a cost limit for RQL, so that one hostile or careless script (a
 * `distinct` over 200,000 columns, 400,000 chained steps, an `in` of a million items) cannot
 * hold the event loop, and with it every other client of a server, for minutes. The parser,
 * the compiler and the executor call {@link deadlineTick} at bounded intervals with the work
 * they are about to do (rows, steps, expression nodes); the clock is read only once about
 * {@link deadlineCheckCostMax} units have been done, never per row. Past the deadline the
 * tick throws QUERY_TIMEOUT, which the caller's transaction turns into a rollback.
 *
 * This file holds the options (a call's, the database's default) and the costs RQL counts;
 * the active deadline and the tick itself are in src/lib/deadline.ts, where the expression
 * tokenizer reaches them too.
 */
import { DbError, describeValue } from "../lib/errors.ts";
import { QueryDeadline } from "../lib/deadline.ts";
import type { DeadlineClock } from "../lib/deadline.ts";

export {
  deadlineCheckCostMax,
  deadlineTick,
  enterDeadline,
  leaveDeadline,
  QueryDeadline,
  withinDeadline,
} from "../lib/deadline.ts";
export type { DeadlineClock } from "../lib/deadline.ts";

/** The largest deadline open(), a call or the server's config may set: a day, in ms. */
export const queryTimeoutMsMax = 24 * 3_600_000;

const monotonicClock: DeadlineClock = () => performance.now();

/** Options of one call (`db.query(rql, params, { timeoutMs })`, `db.call`). */
export interface DeadlineOptions {
  /** Overrides the database's queryTimeoutMs for this call; 0 means no limit. */
  readonly timeoutMs?: number | undefined;
}

/**
 * The deadline of one call: its own `timeoutMs`, else the database's default (`defaultMs`,
 * checked when the database opened); undefined when neither sets one, or the one in force is
 * 0. `clock` replaces the monotonic clock (tests, simulation).
 */
export function queryDeadlineOf(
  defaultMs: number | undefined,
  options: DeadlineOptions | undefined,
  clock: DeadlineClock = monotonicClock,
): QueryDeadline | undefined {
  if (options !== undefined) checkDeadlineOptions(options);
  const limitMs = options?.timeoutMs ?? defaultMs;
  if (limitMs === undefined || limitMs === 0) return undefined;
  return new QueryDeadline(limitMs, clock);
}

function checkDeadlineOptions(options: DeadlineOptions): void {
  if (options === null || typeof options !== "object" || Array.isArray(options)) {
    throw new DbError("INVALID_ARGUMENT", `options must be an object such as { timeoutMs: 500 }`, {
      value: describeValue(options),
    });
  }
  const unknown = Object.keys(options).find((key) => key !== "timeoutMs");
  if (unknown !== undefined) {
    throw new DbError("INVALID_ARGUMENT", `unknown option ${unknown}; the option is timeoutMs`, {
      field: unknown,
    });
  }
  checkQueryTimeoutMs(options.timeoutMs, "timeoutMs");
}

/** Refuses a timeout that is not a whole number of ms from 0 (none) to queryTimeoutMsMax. */
export function checkQueryTimeoutMs(value: unknown, name: string): void {
  if (value === undefined) return;
  const valid =
    typeof value === "number" &&
    Number.isInteger(value) &&
    value >= 0 &&
    value <= queryTimeoutMsMax;
  if (valid) return;
  throw new DbError(
    "INVALID_ARGUMENT",
    `${name} must be a whole number of ms from 0 (no limit) to ${queryTimeoutMsMax}, got ` +
      describeValue(value),
    { field: name, value: describeValue(value) },
  );
}

/**
 * The work of evaluating an expression once, counted as its nodes (list items included): an
 * `in` of a million literals costs a million units per row, not one.
 */
export function expressionCost(expr: unknown): number {
  let count = 0;
  const pending: unknown[] = [expr];
  while (pending.length > 0) {
    const node = pending.pop();
    if (node === null || typeof node !== "object") continue;
    if (Array.isArray(node)) {
      for (const item of node) pending.push(item);
      continue;
    }
    count++;
    for (const key in node) {
      if (key !== "pos") pending.push((node as Record<string, unknown>)[key]);
    }
  }
  return count;
}
