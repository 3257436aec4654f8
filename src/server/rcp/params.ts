/**
 * @module Reads an operation's params the way rstmdb's serde structs do (specs/rcp.md §2.3):
 * unknown keys are ignored, a missing required field or a wrong type is BAD_REQUEST with a
 * message in serde's words (``invalid request: missing field `machine` ``), and integers
 * must be JSON integers. Absent or null params read as an empty object.
 */
import { badRequest } from "./failure.ts";

/** The largest offset a client may send: every seq stays below 2^53 (decision 4). */
const offsetMax = Number.MAX_SAFE_INTEGER;
const u32Max = 0xffff_ffff;

export class Params {
  private readonly record: Readonly<Record<string, unknown>>;

  constructor(params: unknown, structName: string) {
    if (params === null || params === undefined) {
      this.record = {};
      return;
    }
    if (typeof params !== "object" || Array.isArray(params)) {
      throw badRequest(`invalid type: ${describe(params)}, expected struct ${structName}`);
    }
    this.record = params as Record<string, unknown>;
  }

  has(name: string): boolean {
    return this.record[name] !== undefined && this.record[name] !== null;
  }

  /** The raw value (any JSON), or undefined when absent or null. */
  any(name: string): unknown {
    const value = this.record[name];
    return value === null ? undefined : value;
  }

  string(name: string): string {
    return this.required(name, this.optString(name));
  }

  optString(name: string): string | undefined {
    const value = this.any(name);
    if (value === undefined || typeof value === "string") return value;
    throw mismatch(name, value, "a string");
  }

  u32(name: string): number {
    return this.required(name, this.optU32(name));
  }

  optU32(name: string): number | undefined {
    return this.optInteger(name, u32Max, "u32");
  }

  u64(name: string): number {
    return this.required(name, this.optU64(name));
  }

  optU64(name: string): number | undefined {
    // rstmdb takes any u64; Statebase's offsets stay below 2^53, so the range refused names
    // what is taken (a bare "expected u64" read as wrong for 2^60, which is a u64).
    return this.optInteger(name, offsetMax, "u64", `u64 from 0 to ${offsetMax} (2^53 - 1)`);
  }

  optBool(name: string): boolean | undefined {
    const value = this.any(name);
    if (value === undefined || typeof value === "boolean") return value;
    throw mismatch(name, value, "a boolean");
  }

  object(name: string): Record<string, unknown> {
    const value = this.required(name, this.any(name));
    if (typeof value === "object" && value !== null && !Array.isArray(value)) {
      return value as Record<string, unknown>;
    }
    throw mismatch(name, value, "a map");
  }

  optStringList(name: string): string[] | undefined {
    const value = this.any(name);
    if (value === undefined) return undefined;
    if (!Array.isArray(value)) throw mismatch(name, value, "a sequence of strings");
    // The wrong item is named, not the list: "expected a string for `machines[1]`".
    const wrong = value.findIndex((item) => typeof item !== "string");
    if (wrong >= 0) throw mismatch(`${name}[${wrong}]`, value[wrong], "a string");
    return value as string[];
  }

  /** An integer 0..max; `range` says what is taken when that is less than the whole `type`. */
  private optInteger(name: string, max: number, type: string, range = type): number | undefined {
    const value = this.any(name);
    if (value === undefined) return undefined;
    if (typeof value !== "number" || !Number.isInteger(value)) throw mismatch(name, value, type);
    if (value < 0 || value > max) {
      throw badRequest(`invalid value: integer \`${value}\`, expected ${range} for \`${name}\``);
    }
    return value;
  }

  private required<T>(name: string, value: T | undefined): T {
    if (value === undefined) throw badRequest(`missing field \`${name}\``);
    return value;
  }
}

function mismatch(name: string, value: unknown, expected: string): Error {
  return badRequest(`invalid type: ${describe(value)}, expected ${expected} for \`${name}\``);
}

/** Names a JSON value the way serde's errors do (`string "x"`, `floating point 1.5`). */
function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "string") return `string ${JSON.stringify(value.slice(0, 40))}`;
  if (typeof value === "boolean") return `boolean \`${value}\``;
  if (typeof value === "number") {
    return Number.isInteger(value) ? `integer \`${value}\`` : `floating point \`${value}\``;
  }
  return Array.isArray(value) ? "sequence" : "map";
}
