/**
 * @module What a compiled expression reads when it runs: the row (or guard context), bound
 * parameters and the clock. Time is passed in, never read here, so evaluation is deterministic
 * and replays identically.
 */

export interface Scope {
  /** Field roots are read from here: a row's columns, or `{ctx, payload}` for guards. */
  readonly row: Readonly<Record<string, unknown>>;
  /** `$name` reads a key, `$1` reads index 0 of an array (or key "1" of a record). */
  readonly params?: Readonly<Record<string, unknown>> | readonly unknown[];
  /** Unix milliseconds, for `date::now` and `datetime::now`. */
  readonly now?: () => number;
}

/**
 * A compiled expression. It returns `null` for none and never `undefined`. It is synchronous
 * and keeps no state between calls, so one evaluator may serve many rows and callers.
 */
export type Evaluator = (scope: Scope) => unknown;
