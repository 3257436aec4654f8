/**
 * @module The value types of RQL (specs/rql.md) and how they are spelled. A column's type is
 * a {@link ValueType}: a base kind plus whether `none` is allowed (`Option(T)`).
 *
 * Runtime representation (what a value of each kind is in JavaScript):
 * - none: `null` (undefined is accepted on input and normalised to null)
 * - bool: boolean
 * - int1 int2 int4 uint1 uint2 uint4 float4 float8: number
 * - int8 uint8: number when a safe integer, else bigint (never a bigint that fits a number)
 * - int16 uint16: bigint
 * - decimal: {@link Decimal}; duration: {@link Duration}
 * - utf8: string; blob: Uint8Array
 * - date: "YYYY-MM-DD" string; datetime: Date
 * - time: "HH:MM:SS[.fffffffff]" string, the fraction without trailing zeros
 * - uuid4 uuid7: lowercase canonical string
 * - json: a plain JSON document (objects, arrays, strings, finite numbers, booleans, null)
 * - any: whatever the expression produced (only for computed columns without a declared type)
 */
import { DbError } from "../lib/errors.ts";

export const baseKinds = [
  "bool",
  "int1",
  "int2",
  "int4",
  "int8",
  "int16",
  "uint1",
  "uint2",
  "uint4",
  "uint8",
  "uint16",
  "float4",
  "float8",
  "decimal",
  "utf8",
  "blob",
  "date",
  "datetime",
  "time",
  "duration",
  "uuid4",
  "uuid7",
  "json",
  "any",
] as const;

export type BaseKind = (typeof baseKinds)[number];

/** A column or expression type. */
export interface ValueType {
  readonly kind: BaseKind;
  /** True for `Option(T)`: the value may be none. */
  readonly optional: boolean;
}

const aliases: Record<string, BaseKind> = { text: "utf8", string: "utf8", float: "float8" };
const kindSet: ReadonlySet<string> = new Set(baseKinds);

export const integerKinds: ReadonlySet<BaseKind> = new Set<BaseKind>([
  "int1",
  "int2",
  "int4",
  "int8",
  "int16",
  "uint1",
  "uint2",
  "uint4",
  "uint8",
  "uint16",
]);

/** Inclusive bounds of every integer kind, as bigints so the wide ones are exact. */
export const integerBounds: Readonly<Record<string, readonly [bigint, bigint]>> = {
  int1: [-(2n ** 7n), 2n ** 7n - 1n],
  int2: [-(2n ** 15n), 2n ** 15n - 1n],
  int4: [-(2n ** 31n), 2n ** 31n - 1n],
  int8: [-(2n ** 63n), 2n ** 63n - 1n],
  int16: [-(2n ** 127n), 2n ** 127n - 1n],
  uint1: [0n, 2n ** 8n - 1n],
  uint2: [0n, 2n ** 16n - 1n],
  uint4: [0n, 2n ** 32n - 1n],
  uint8: [0n, 2n ** 64n - 1n],
  uint16: [0n, 2n ** 128n - 1n],
};

/** Creates a type; `optional` defaults to false. */
export function valueType(kind: BaseKind, optional = false): ValueType {
  return { kind, optional };
}

/** Parses a type spelling such as `int8`, `text` or `Option(utf8)`. */
export function parseType(spelling: string): ValueType {
  const text = spelling.trim();
  const option = /^option\s*\(\s*(.+?)\s*\)$/i.exec(text);
  if (option) {
    const inner = parseType(option[1]!);
    if (inner.optional) {
      throw new DbError("INVALID_SCHEMA", `nested Option in type "${spelling}"`, {
        value: spelling,
      });
    }
    return valueType(inner.kind, true);
  }
  const lower = text.toLowerCase();
  const kind = aliases[lower] ?? lower;
  if (!kindSet.has(kind)) {
    throw new DbError(
      "INVALID_SCHEMA",
      `unknown type "${spelling}"; expected one of ${baseKinds.join(", ")} or Option(T)`,
      { value: spelling },
    );
  }
  return valueType(kind as BaseKind);
}

/** Spells a type the way RQL writes it. */
export function typeName(type: ValueType): string {
  return type.optional ? `Option(${type.kind})` : type.kind;
}

/** True for kinds whose values are numbers or bigints. */
export function isNumericKind(kind: BaseKind): boolean {
  return integerKinds.has(kind) || kind === "float4" || kind === "float8" || kind === "decimal";
}
