/** @module Assertions for programmer errors: a failed assertion is a bug, so it throws loudly. */

/** Thrown when an invariant does not hold. Never caught by the engine: it is a bug, not input. */
export class AssertionError extends Error {
  override name = "AssertionError";
}

/** Asserts `condition`; throws an {@link AssertionError} naming the broken invariant otherwise. */
export function assert(condition: unknown, message?: string): asserts condition {
  if (!condition) throw new AssertionError(message ?? "assertion failed");
}

/**
 * Throws an {@link AssertionError}. For invariants checked on every commit or change, as
 * `if (broken) assertionFailed(\`...\`)`: the message argument of {@link assert} is built
 * on every call, and a template with numbers in it cost two number-to-string conversions and
 * a concatenation per replayed commit (callgrind, recovery).
 */
export function assertionFailed(message: string): never {
  throw new AssertionError(message);
}

/** Marks a branch the type system proves unreachable (exhaustive switches). */
export function unreachable(value: never, message = "unreachable"): never {
  throw new AssertionError(`${message}: ${String(value)}`);
}
