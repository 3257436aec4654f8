/**
 * @module Checks of the parameters callers pass to machine operations. The RCP server parses
 * its own params first; these guard the embedded API, naming the parameter that is wrong.
 */
import { DbError, describeValue } from "../lib/errors.ts";
import { machineIdempotencyKeyLengthMax, machineInstanceIdLengthMax } from "../lib/limits.ts";
import { machineIdentifier } from "./names.ts";

const versionMax = 0xffff_ffff;

function invalid(name: string, expected: string, value: unknown): DbError {
  return new DbError(
    "INVALID_ARGUMENT",
    `${name} must be ${expected}, got ${describeValue(value)}`,
    {
      value: describeValue(value),
    },
  );
}

/** A machine name: any text (rstmdb), short enough to name its tables. */
export function checkMachineName(value: unknown, name = "machine"): string {
  if (typeof value !== "string") throw invalid(name, "text", value);
  machineIdentifier(value);
  return value;
}

/** A definition version: rstmdb's u32. */
export function checkVersion(value: unknown, name = "version"): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > versionMax) {
    throw invalid(name, `a whole number in [0, ${versionMax}]`, value);
  }
  return value;
}

/** An instance id: non-empty text up to the limit. */
export function checkInstanceId(value: unknown, name = "instance_id"): string {
  if (value === undefined) {
    throw new DbError("INVALID_ARGUMENT", `missing ${name}`);
  }
  if (typeof value !== "string" || value.length === 0) {
    throw invalid(name, "non-empty text", value);
  }
  if (value.length > machineInstanceIdLengthMax) {
    throw new DbError(
      "LIMIT_EXCEEDED",
      `${name} may have at most ${machineInstanceIdLengthMax} characters`,
      { value: describeValue(value) },
    );
  }
  return value;
}

/** Optional text parameters: undefined or text. */
export function checkOptionalText(value: unknown, name: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") throw invalid(name, "text", value);
  return value;
}

/**
 * An optional idempotency key: text up to the limit. Each is kept as a key of the idempotency
 * table for the whole window, so its size is bounded like an instance id's.
 */
export function checkIdempotencyKey(value: unknown): string | undefined {
  const key = checkOptionalText(value, "idempotency_key");
  if (key !== undefined && key.length > machineIdempotencyKeyLengthMax) {
    throw new DbError(
      "LIMIT_EXCEEDED",
      `idempotency_key may have at most ${machineIdempotencyKeyLengthMax} characters, ` +
        `got ${key.length}`,
      { value: describeValue(key) },
    );
  }
  return key;
}

/** A wal offset (commit seq) given as a condition. */
export function checkOptionalOffset(value: unknown, name: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw invalid(name, "a whole number >= 0", value);
  }
  return value;
}
