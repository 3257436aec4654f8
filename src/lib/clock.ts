/**
 * @module The only place that reads the wall clock. Time is a parameter everywhere else, so
 * replay and simulation stay deterministic.
 */

/** A source of time in Unix milliseconds. */
export interface Clock {
  now(): number;
}

/** The real wall clock. */
export const systemClock: Clock = { now: () => Date.now() };

/** A clock that only moves when told to: for tests and simulation. */
export interface ManualClock extends Clock {
  set(ms: number): void;
  advance(ms: number): void;
}

/** Creates a {@link ManualClock} starting at `startMs`. */
export function createManualClock(startMs = 1_700_000_000_000): ManualClock {
  let current = startMs;
  return {
    now: () => current,
    set: (ms) => {
      current = ms;
    },
    advance: (ms) => {
      current += ms;
    },
  };
}

/**
 * `source.now` read as a function (a scope's `now` for `datetime::now()`). Per-operation code
 * makes its clock closures here rather than writing `now: () => tx.now` in place: tsx runs our
 * TypeScript with esbuild's keepNames, which names an arrow written as a property value or a
 * variable with an Object.defineProperty each time it is made (~320 ns, more than a point
 * query's whole plan); an arrow returned from a function is left unnamed.
 */
export function nowReader(source: { readonly now: number }): () => number {
  return () => source.now;
}

/** A clock that always reads `ms`; made here for the reason {@link nowReader} gives. */
export function fixedNow(ms: number): () => number {
  return () => ms;
}
