/** @module Public surface of the value system: types, coercion, order, keys and arithmetic. */
export {
  baseKinds,
  integerBounds,
  integerKinds,
  isNumericKind,
  parseType,
  typeName,
  valueType,
} from "./types.ts";
export type { BaseKind, ValueType } from "./types.ts";
export { coerceValue, copyStorable } from "./coerce.ts";
export type { ValueSite } from "./coerce.ts";
export { compareValues, valuesEqual } from "./compare.ts";
export { mapKeyOf, mapKeyOfTuple, sameMapKey, textKey } from "./key.ts";
export type { MapKey } from "./key.ts";
export { arith, negate, normalizeInteger } from "./arith.ts";
export type { ArithOp, ArithMode } from "./arith.ts";
export { RunningSum } from "./running-sum.ts";
export { Decimal, decimalDivisionScale } from "./decimal.ts";
export { Duration } from "./duration.ts";
export { uuid4, uuid7 } from "./uuid.ts";
