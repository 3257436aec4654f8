/** @module Assertions for programmer errors: a failed assertion is a bug, so it throws loudly. */

/** Thrown when an invariant does not hold. Never caught by the engine: it is a bug, not input. */
export class AssertionError extends Error {
  override name = "AssertionError";
}

/** Asserts `condition`; throws an {@link AssertionError} naming the broken invariant otherwise. */
export function assert(condition: unknown, message?: string): asserts condition {
  if (!condition) throw new AssertionError(message ?? "assertion failed");
}

/** Marks a branch the type system proves unreachable (exhaustive switches). */
export function unreachable(value: never, message = "unreachable"): never {
  throw new AssertionError(`${message}: ${String(value)}`);
}
