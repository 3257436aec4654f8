/**
 * @module Exact decimal numbers (`decimal`): a bigint coefficient and a base-10 scale. Money
 * and quantities must not pick up binary floating-point error, so decimal arithmetic is exact
 * for + - * and rounds half-even to {@link decimalDivisionScale} digits for division.
 */
import { DbError } from "../lib/errors.ts";

/** Digits kept after the point by division. */
export const decimalDivisionScale = 28;
/** Longest accepted decimal text. */
export const decimalTextLengthMax = 512;

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

  static of(coefficient: bigint, scale: number): Decimal {
    if (scale < 0) return new Decimal(coefficient * 10n ** BigInt(-scale), 0);
    return new Decimal(coefficient, scale);
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
    return new Decimal(value, 0);
  }

  add(other: Decimal): Decimal {
    const scale = Math.max(this.scale, other.scale);
    return Decimal.of(this.scaledTo(scale) + other.scaledTo(scale), scale);
  }

  sub(other: Decimal): Decimal {
    return this.add(other.negate());
  }

  mul(other: Decimal): Decimal {
    return Decimal.of(this.coefficient * other.coefficient, this.scale + other.scale);
  }

  /** Division rounded half-even to {@link decimalDivisionScale} digits. */
  div(other: Decimal): Decimal {
    if (other.coefficient === 0n) throw new DbError("DIVISION_BY_ZERO", "decimal division by zero");
    const shift = decimalDivisionScale + other.scale - this.scale;
    const numerator = shift >= 0 ? this.coefficient * 10n ** BigInt(shift) : this.coefficient;
    const denominator = shift >= 0 ? other.coefficient : other.coefficient * 10n ** BigInt(-shift);
    return Decimal.of(divideHalfEven(numerator, denominator), decimalDivisionScale);
  }

  /** Remainder with the sign of the dividend, like `%` on integers. */
  mod(other: Decimal): Decimal {
    if (other.coefficient === 0n) throw new DbError("DIVISION_BY_ZERO", "decimal modulo by zero");
    const scale = Math.max(this.scale, other.scale);
    return Decimal.of(this.scaledTo(scale) % other.scaledTo(scale), scale);
  }

  negate(): Decimal {
    return new Decimal(-this.coefficient, this.scale);
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
