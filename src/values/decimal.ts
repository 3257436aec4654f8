/**
 * @module Exact decimal numbers (`decimal`): a bigint coefficient and a base-10 scale. Money
 * and quantities must not pick up binary floating-point error, so decimal arithmetic is exact
 * for + - * and rounds half-even to {@link decimalDivisionScale} digits for division.
 */
import { assert } from "../lib/assert.ts";
import { DbError } from "../lib/errors.ts";

/** Digits kept after the point by division. */
export const decimalDivisionScale = 28;
/**
 * Longest accepted decimal text, and so the longest spelling (sign and point included) a
 * decimal may have: the log writes a decimal as its spelling and reads it back with `parse`,
 * so a longer one would be a committed value that recovery could not read.
 */
export const decimalTextLengthMax = 512;

/** Which error a decimal too long to spell is: bad input, or a result of arithmetic. */
type DecimalSizeCode = "OUT_OF_RANGE" | "ARITHMETIC_OVERFLOW";

const decimalPattern = /^([+-]?)(\d+)?(?:\.(\d+))?(?:[eE]([+-]?\d{1,4}))?$/;

/** An immutable exact decimal: `coefficient × 10^-scale`. */
export class Decimal {
  readonly coefficient: bigint;
  readonly scale: number;

  private constructor(coefficient: bigint, scale: number) {
    // Normalise trailing zeros so equal values have one representation.
    let c = coefficient;
    let s = scale;
    while (s > 0 && c % 10n === 0n) {
      c /= 10n;
      s -= 1;
    }
    this.coefficient = c;
    this.scale = s;
  }

  /** `coefficient × 10^-scale`; OUT_OF_RANGE if its spelling passes the length limit. */
  static of(coefficient: bigint, scale: number): Decimal {
    return Decimal.sized(coefficient, scale, "OUT_OF_RANGE");
  }

  /**
   * The decimal `coefficient × 10^-scale` if its spelling fits {@link decimalTextLengthMax},
   * else a `code` error. Hopeless scales are refused before any power of ten is computed.
   */
  private static sized(coefficient: bigint, scale: number, code: DecimalSizeCode): Decimal {
    assert(Number.isSafeInteger(scale), "a decimal's scale is a whole number");
    if (coefficient === 0n) return new Decimal(0n, 0);
    const digits = digitCount(coefficient);
    // Normalising removes at most `digits` trailing zeros, so these can never fit.
    if (scale < 0 && digits - scale > decimalTextLengthMax) throw tooLong(code, digits - scale);
    if (scale - digits > decimalTextLengthMax) throw tooLong(code, scale - digits);
    const value =
      scale < 0
        ? new Decimal(coefficient * 10n ** BigInt(-scale), 0)
        : new Decimal(coefficient, scale);
    const length = spelledLength(value);
    if (length > decimalTextLengthMax) throw tooLong(code, length);
    return value;
  }

  /** Parses `-12.50`, `3`, `1e-3`; throws TYPE_MISMATCH on anything else. */
  static parse(text: string): Decimal {
    const match = text.length <= decimalTextLengthMax ? decimalPattern.exec(text.trim()) : null;
    if (!match || (match[2] === undefined && match[3] === undefined)) {
      throw new DbError("TYPE_MISMATCH", `not a decimal: ${JSON.stringify(text.slice(0, 60))}`, {
        value: text,
      });
    }
    const [, sign, whole = "", fraction = "", exponent = "0"] = match;
    const digits = BigInt(whole + fraction || "0");
    return Decimal.of(sign === "-" ? -digits : digits, fraction.length - Number(exponent));
  }

  /** Converts a finite number exactly as its shortest decimal spelling. */
  static fromNumber(value: number): Decimal {
    if (!Number.isFinite(value)) {
      throw new DbError("TYPE_MISMATCH", `not a finite number: ${value}`, { value });
    }
    return Decimal.parse(String(value));
  }

  static fromBigInt(value: bigint): Decimal {
    return Decimal.sized(value, 0, "OUT_OF_RANGE");
  }

  add(other: Decimal): Decimal {
    const scale = Math.max(this.scale, other.scale);
    const sum = this.scaledTo(scale) + other.scaledTo(scale);
    return Decimal.sized(sum, scale, "ARITHMETIC_OVERFLOW");
  }

  sub(other: Decimal): Decimal {
    return this.add(other.negate());
  }

  mul(other: Decimal): Decimal {
    const product = this.coefficient * other.coefficient;
    return Decimal.sized(product, this.scale + other.scale, "ARITHMETIC_OVERFLOW");
  }

  /** Division rounded half-even to {@link decimalDivisionScale} digits. */
  div(other: Decimal): Decimal {
    if (other.coefficient === 0n) throw new DbError("DIVISION_BY_ZERO", "decimal division by zero");
    const shift = decimalDivisionScale + other.scale - this.scale;
    const numerator = shift >= 0 ? this.coefficient * 10n ** BigInt(shift) : this.coefficient;
    const denominator = shift >= 0 ? other.coefficient : other.coefficient * 10n ** BigInt(-shift);
    const quotient = divideHalfEven(numerator, denominator);
    return Decimal.sized(quotient, decimalDivisionScale, "ARITHMETIC_OVERFLOW");
  }

  /** Remainder with the sign of the dividend, like `%` on integers. */
  mod(other: Decimal): Decimal {
    if (other.coefficient === 0n) throw new DbError("DIVISION_BY_ZERO", "decimal modulo by zero");
    const scale = Math.max(this.scale, other.scale);
    const remainder = this.scaledTo(scale) % other.scaledTo(scale);
    return Decimal.sized(remainder, scale, "ARITHMETIC_OVERFLOW");
  }

  negate(): Decimal {
    // A minus sign lengthens the spelling, so even negation can pass the limit.
    return Decimal.sized(-this.coefficient, this.scale, "ARITHMETIC_OVERFLOW");
  }

  compare(other: Decimal): number {
    const scale = Math.max(this.scale, other.scale);
    const a = this.scaledTo(scale);
    const b = other.scaledTo(scale);
    return a < b ? -1 : a > b ? 1 : 0;
  }

  equals(other: Decimal): boolean {
    return this.coefficient === other.coefficient && this.scale === other.scale;
  }

  toNumber(): number {
    return Number(this.toString());
  }

  toString(): string {
    const negative = this.coefficient < 0n;
    const digits = (negative ? -this.coefficient : this.coefficient).toString();
    if (this.scale === 0) return (negative ? "-" : "") + digits;
    const padded = digits.padStart(this.scale + 1, "0");
    const point = padded.length - this.scale;
    return `${negative ? "-" : ""}${padded.slice(0, point)}.${padded.slice(point)}`;
  }

  toJSON(): string {
    return this.toString();
  }

  private scaledTo(scale: number): bigint {
    return this.coefficient * 10n ** BigInt(scale - this.scale);
  }
}

/** Decimal digits of a bigint's magnitude. */
function digitCount(value: bigint): number {
  return (value < 0n ? -value : value).toString().length;
}

/** The length of `value.toString()`, without building it. */
function spelledLength(value: Decimal): number {
  const digits = digitCount(value.coefficient);
  const sign = value.coefficient < 0n ? 1 : 0;
  return sign + (value.scale === 0 ? digits : Math.max(digits, value.scale + 1) + 1);
}

function tooLong(code: DecimalSizeCode, length: number): DbError {
  return new DbError(
    code,
    `decimal of ${length} characters is longer than ${decimalTextLengthMax}, ` +
      `the most a decimal may have`,
    { value: `${length} characters` },
  );
}

function divideHalfEven(numerator: bigint, denominator: bigint): bigint {
  const quotient = numerator / denominator;
  const remainder = numerator % denominator;
  if (remainder === 0n) return quotient;
  const twice = 2n * (remainder < 0n ? -remainder : remainder);
  const absDen = denominator < 0n ? -denominator : denominator;
  const negative = numerator < 0n !== denominator < 0n;
  const up = twice > absDen || (twice === absDen && quotient % 2n !== 0n);
  if (!up) return quotient;
  return negative ? quotient - 1n : quotient + 1n;
}
