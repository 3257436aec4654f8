/**
 * @module The ticking half of the query deadline (src/rql/deadline.ts holds its options): the
 * active deadline and {@link deadlineTick}, which the tokenizer, the parsers, the compiler and
 * the executor call with the work they are about to do. It lives in lib so that the expression
 * tokenizer (src/expr), which RQL uses, can count its tokens too: a 4 MiB script takes seconds
 * to tokenize, past a server's deadline.
 *
 * Everything runs on one thread and a script runs synchronously, so the active deadline is
 * module state, like the engine's current transaction: it is set for the synchronous span of
 * a parse or a run ({@link withinDeadline}) and cleared after it, so no await ever sees it.
 */
import { assert } from "./assert.ts";
import { DbError } from "./errors.ts";

/**
 * Units of work (a row through a step, an expression node evaluated, a sort comparison)
 * between two clock reads. A unit costs some tens of ns, so the clock is read every 0.1 ms or
 * so under load and never during a point query, which does a handful of units.
 */
export const deadlineCheckCostMax = 4096;

/** Where a deadline's limit is changed, for the error's message. */
const changedWhere =
  "raise it with open({ queryTimeoutMs }), a call's { timeoutMs } option, or a server's " +
  "limits.queryTimeoutMs (0 means no limit)";

/** A source of monotonic time in ms. */
export type DeadlineClock = () => number;

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
