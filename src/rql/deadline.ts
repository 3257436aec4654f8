/**
 * @module The query deadline: a cost limit for RQL, so that one hostile or careless script (a
 * `distinct` over 200,000 columns, 400,000 chained steps, an `in` of a million items) cannot
 * hold the event loop, and with it every other client of a server, for minutes. The parser,
 * the compiler and the executor call {@link deadlineTick} at bounded intervals with the work
 * they are about to do (rows, steps, expression nodes); the clock is read only once about
 * {@link deadlineCheckCostMax} units have been done, never per row. Past the deadline the
 * tick throws QUERY_TIMEOUT, which the caller's transaction turns into a rollback.
 *
 * Everything runs on one thread and a script runs synchronously, so the active deadline is
 * module state, like the engine's current transaction: it is set for the synchronous span of
 * a parse or a run ({@link withinDeadline}) and cleared after it, so no await ever sees it.
 */
import { assert } from "../lib/assert.ts";
import { DbError, describeValue } from "../lib/errors.ts";

/**
 * Units of work (a row through a step, an expression node evaluated, a sort comparison)
 * between two clock reads. A unit costs some tens of ns, so the clock is read every 0.1 ms or
 * so under load and never during a point query, which does a handful of units.
 */
export const deadlineCheckCostMax = 4096;

/** The largest deadline open(), a call or the server's config may set: a day, in ms. */
export const queryTimeoutMsMax = 24 * 3_600_000;

/** Where a deadline's limit is changed, for the error's message. */
const changedWhere =
  "raise it with open({ queryTimeoutMs }), a call's { timeoutMs } option, or a server's " +
  "limits.queryTimeoutMs (0 means no limit)";

/** A source of monotonic time in ms. */
export type DeadlineClock = () => number;

const monotonicClock: DeadlineClock = () => performance.now();

/**
 * A limit on the time a script may run on the event loop. Only the spans it is active count
 * (parsing, then the run inside its transaction), not waits for the log between them. Each
 * span starts at its first clock read, which comes after at most one interval of work.
 */
export class QueryDeadline {
  /** Time counted in earlier spans, in ms. */
  spentMs = 0;
  /** Clock reading at the start of the running span; undefined until its first read. */
  spanStartMs: number | undefined = undefined;

  constructor(
    readonly limitMs: number,
    readonly clock: DeadlineClock,
  ) {}
}

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

// ---- The active deadline ----

let active: QueryDeadline | undefined;
/** Units left before the next clock read; with no deadline active it only counts down. */
let costLeft = deadlineCheckCostMax;

/**
 * Runs `run` with `deadline` active. An active deadline is kept (a procedure's script runs
 * under its caller's), so only the outermost call's limit counts; undefined runs `run` as it
 * is. The time of the span is added to the deadline's when it ends.
 */
export function withinDeadline<T>(deadline: QueryDeadline | undefined, run: () => T): T {
  if (!enterDeadline(deadline)) return run();
  try {
    return run();
  } finally {
    leaveDeadline();
  }
}

/**
 * Makes `deadline` the active one unless it is undefined or one is active already; true when
 * it did, and then the caller must call {@link leaveDeadline} (in a `finally`). The closure-free
 * form of withinDeadline, for the executor: a point query allocates nothing for it.
 */
export function enterDeadline(deadline: QueryDeadline | undefined): boolean {
  if (deadline === undefined || active !== undefined) return false;
  active = deadline;
  costLeft = deadlineCheckCostMax;
  return true;
}

/** Ends the active deadline's span, adding its time when its clock was read. */
export function leaveDeadline(): void {
  const deadline = active;
  assert(deadline !== undefined, "a deadline is active");
  active = undefined;
  costLeft = deadlineCheckCostMax;
  if (deadline.spanStartMs !== undefined) {
    deadline.spentMs += deadline.clock() - deadline.spanStartMs;
    deadline.spanStartMs = undefined;
  }
}

/**
 * Counts `cost` units of work about to be done; past the active deadline, throws
 * QUERY_TIMEOUT. Small enough to be inlined into the loops that call it.
 */
export function deadlineTick(cost: number): void {
  costLeft -= cost;
  if (costLeft < 0) deadlineCheck();
}

function deadlineCheck(): void {
  costLeft = deadlineCheckCostMax;
  const deadline = active;
  if (deadline === undefined) return;
  const now = deadline.clock();
  if (deadline.spanStartMs === undefined) {
    deadline.spanStartMs = now;
    return;
  }
  const elapsedMs = deadline.spentMs + (now - deadline.spanStartMs);
  if (elapsedMs <= deadline.limitMs) return;
  throw new DbError(
    "QUERY_TIMEOUT",
    `the script ran past its deadline of ${deadline.limitMs} ms (queryTimeoutMs) and was ` +
      `stopped; nothing it did was kept. Make it cheaper (an index, a filter, a take) or ` +
      changedWhere,
    { limit: "queryTimeoutMs", limitMs: deadline.limitMs },
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
