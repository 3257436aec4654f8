/**
 * @module The contract every library function implements, and the argument checks they share.
 * A function is data (name, arity, typing, implementation) so that the parser, the compiler and
 * documentation read one table.
 */
import { DbError, describeValue } from "../../lib/errors.ts";
import { Decimal } from "../../values/index.ts";
import type { ValueType } from "../../values/index.ts";
import type { Scope } from "../scope.ts";

export interface FunctionSpec {
  readonly namespace: string;
  readonly name: string;
  readonly arityMin: number;
  /** At most functionArgumentsMax. */
  readonly arityMax: number;
  /** The argument count must be even (key/value pairs). */
  readonly arityEven?: boolean;
  /**
   * The kind of value each argument must be, by position (none past the list: any). An
   * argument whose static type is of another kind fails at compile time, with its position,
   * instead of at the first row.
   */
  readonly argumentFamilies?: readonly ArgumentFamily[];
  /** A none argument makes the result none without calling `invoke` (most functions). */
  readonly propagatesNone: boolean;
  /** Same arguments, same result: calls with constant arguments are folded at compile time. */
  readonly pure: boolean;
  /** The static result type, from the static argument types (kind "any" when unknown). */
  readonly returns: (args: readonly ValueType[]) => ValueType;
  /**
   * Computes the result (none is `null`). `args` is reused by the caller between calls, so an
   * implementation never keeps it. Failures are DbErrors naming the function.
   */
  readonly invoke: (args: readonly unknown[], scope: Scope) => unknown;
}

/** What an argument must be: a number of any kind, or text (utf8, date, time, uuid). */
export type ArgumentFamily = "number" | "text";

export const anyType: ValueType = { kind: "any", optional: true };

/** How a function differs from the usual (none propagates, pure, any argument count). */
export interface FunctionTraits {
  propagatesNone?: boolean;
  pure?: boolean;
  arityEven?: boolean;
  argumentFamilies?: readonly ArgumentFamily[] | undefined;
}

/** The one builder of function specs: every namespace file describes its functions with it. */
export function defineFunction(
  namespace: string,
  name: string,
  arity: readonly [number, number],
  returns: FunctionSpec["returns"],
  invoke: FunctionSpec["invoke"],
  traits: FunctionTraits = {},
): FunctionSpec {
  return {
    namespace,
    name,
    arityMin: arity[0],
    arityMax: arity[1],
    ...(traits.arityEven === true ? { arityEven: true } : {}),
    ...(traits.argumentFamilies === undefined ? {} : { argumentFamilies: traits.argumentFamilies }),
    propagatesNone: traits.propagatesNone ?? true,
    pure: traits.pure ?? true,
    returns,
    invoke,
  };
}

/** The type constant for a result that is never none. */
export function fixed(kind: ValueType["kind"]): () => ValueType {
  const type: ValueType = { kind, optional: false };
  return () => type;
}

/** The type of the first argument, or any. */
export function sameAsFirst(args: readonly ValueType[]): ValueType {
  return args[0] ?? anyType;
}

export function qualifiedName(spec: Pick<FunctionSpec, "namespace" | "name">): string {
  return `${spec.namespace}::${spec.name}`;
}

/** A wrong-kind argument: names the function, the argument and the value. */
export function argumentTypeError(
  fn: string,
  index: number,
  expected: string,
  value: unknown,
): DbError {
  return new DbError(
    "TYPE_MISMATCH",
    `${fn}: argument ${index + 1} must be ${expected}, found ${describeValue(value)}`,
    { value: describeValue(value), argument: index + 1 },
  );
}

export function expectText(fn: string, args: readonly unknown[], index: number): string {
  const value = args[index];
  if (typeof value !== "string") throw argumentTypeError(fn, index, "text", value);
  return value;
}

/** A whole number within the safe range (for counts, positions and digits). */
export function expectSafeInteger(fn: string, args: readonly unknown[], index: number): number {
  const value = args[index];
  const number = typeof value === "bigint" ? Number(value) : value;
  if (typeof number !== "number" || !Number.isSafeInteger(number)) {
    throw argumentTypeError(fn, index, "an integer", value);
  }
  return number;
}

export type Numeric = number | bigint | Decimal;

export function isNumeric(value: unknown): value is Numeric {
  return typeof value === "number" || typeof value === "bigint" || value instanceof Decimal;
}

export function expectNumeric(fn: string, args: readonly unknown[], index: number): Numeric {
  const value = args[index];
  if (!isNumeric(value)) throw argumentTypeError(fn, index, "a number", value);
  return value;
}

export function toFloat(value: Numeric): number {
  return value instanceof Decimal ? value.toNumber() : Number(value);
}

/** An invalid argument value of the right kind (a negative length, an empty pattern). */
export function invalidArgument(fn: string, message: string, value: unknown): DbError {
  return new DbError("INVALID_ARGUMENT", `${fn}: ${message}`, { value: describeValue(value) });
}
