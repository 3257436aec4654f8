/**
 * Goal: a broken invariant throws an AssertionError with its message, whether checked by
 * assert() or by `if (broken) assertionFailed(...)` (the form for per-commit paths, whose
 * message is built only when the invariant is broken).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { AssertionError, assert as check, assertionFailed } from "../../src/lib/assert.ts";

test("assert and assertionFailed throw AssertionError with the message", () => {
  check(true, "never thrown");
  assert.throws(
    () => check(false, "broken"),
    (error: unknown) => {
      return error instanceof AssertionError && error.message === "broken";
    },
  );
  let built = 0;
  const describe = (): string => `seq ${++built}`;
  const seq = 1 as number;
  if (seq !== 1) assertionFailed(describe());
  assert.equal(built, 0, "the message of a holding invariant is never built");
  assert.throws(
    () => assertionFailed(describe()),
    (error: unknown) => {
      return error instanceof AssertionError && error.message === "seq 1";
    },
  );
});
