/**
 * Assertions shared by the test files: a DbError with the expected code and details, and a
 * change with exactly the documented shape.
 */
import assert from "node:assert/strict";
import { DbError } from "../../src/index.ts";
import type { Change, ErrorCode } from "../../src/index.ts";

/** What an expected DbError must carry; omitted fields are not checked. */
export interface Expected {
  code: ErrorCode;
  object?: string;
  column?: string;
  /** The value as error details show it (describeValue's spelling). */
  value?: string;
  message?: RegExp;
}

/** Asserts that `fn` throws a DbError with the expected code and details. */
export function throwsDb(fn: () => unknown, expected: Expected): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof DbError, `expected a DbError, got ${String(error)}`);
    assert.equal(error.code, expected.code, error.message);
    if (expected.object !== undefined) assert.equal(error.details.object, expected.object);
    if (expected.column !== undefined) assert.equal(error.details.column, expected.column);
    if (expected.value !== undefined) assert.equal(error.details.value, expected.value);
    if (expected.message !== undefined) assert.match(error.message, expected.message);
    return true;
  });
}

/** Asserts the documented change shape, exactly these five fields. */
export function assertChange(change: Change | undefined, expected: Change): void {
  assert.ok(change !== undefined, "a change was recorded");
  assert.deepEqual(Object.keys(change).sort(), ["after", "before", "key", "kind", "object"]);
  assert.deepEqual({ ...change }, { ...expected });
}

/** Asserts that `promise` rejects with a DbError of `code` (and a message matching). */
export async function rejectsWithCode(
  promise: Promise<unknown>,
  code: string,
  message?: RegExp,
): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof DbError, String(error));
    assert.equal(error.code, code, error.message);
    if (message !== undefined) assert.match(error.message, message);
    return true;
  });
}

/** The DbError `promise` rejects with, for tests that look at more than its code. */
export async function dbErrorOf(promise: Promise<unknown>): Promise<DbError> {
  try {
    await promise;
  } catch (caught) {
    assert.ok(caught instanceof DbError, String(caught));
    return caught;
  }
  assert.fail("expected an error");
}
