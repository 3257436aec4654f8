/**
 * @module `text::` functions. Lengths and positions count Unicode code points (not UTF-16
 * units), so a character outside the BMP counts once and is never split. Results are bounded
 * by textLengthMax like any stored text.
 */
import { DbError } from "../../lib/errors.ts";
import { functionArgumentsMax, textLengthMax } from "../../lib/limits.ts";
import { Decimal, Duration } from "../../values/index.ts";
import {
  argumentTypeError,
  defineFunction,
  expectSafeInteger,
  expectText,
  fixed,
  invalidArgument,
} from "./common.ts";
import type { ArgumentFamily, FunctionSpec } from "./common.ts";

function textFunction(
  name: string,
  arity: readonly [number, number],
  returns: FunctionSpec["returns"],
  invoke: FunctionSpec["invoke"],
  argumentFamilies?: readonly ArgumentFamily[],
): FunctionSpec {
  return defineFunction("text", name, arity, returns, invoke, { argumentFamilies });
}

function checkLength(fn: string, text: string): string {
  if (text.length > textLengthMax) {
    throw new DbError("LIMIT_EXCEEDED", `${fn}: result exceeds ${textLengthMax} characters`, {
      limit: textLengthMax,
    });
  }
  return text;
}

/** Counts code points without materialising them (a string of surrogate pairs counts once). */
function codePointCount(text: string): number {
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    // A high surrogate followed by a low one is one code point: skip the low half.
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
    count++;
  }
  return count;
}

/** `text::substring(text, start, length?)`: start is 0-based, both count code points. */
function substring(args: readonly unknown[]): unknown {
  const fn = "text::substring";
  const text = expectText(fn, args, 0);
  const start = expectSafeInteger(fn, args, 1);
  const length = args.length > 2 ? expectSafeInteger(fn, args, 2) : Number.MAX_SAFE_INTEGER;
  if (start < 0) throw invalidArgument(fn, "start must not be negative", start);
  if (length < 0) throw invalidArgument(fn, "length must not be negative", length);
  if (isBasicMultilingual(text)) return text.slice(start, start + Math.min(length, text.length));
  return Array.from(text)
    .slice(start, start + Math.min(length, text.length))
    .join("");
}

function isBasicMultilingual(text: string): boolean {
  return !/[\uD800-\uDFFF]/.test(text);
}

function replace(args: readonly unknown[]): unknown {
  const fn = "text::replace";
  const text = expectText(fn, args, 0);
  const pattern = expectText(fn, args, 1);
  const replacement = expectText(fn, args, 2);
  if (pattern.length === 0) throw invalidArgument(fn, "the text to replace is empty", pattern);
  const estimate = text.length + (replacement.length - pattern.length) * countOf(text, pattern);
  // Refuse before building: a short pattern replaced by a long text can explode in size.
  if (estimate > textLengthMax) {
    throw new DbError("LIMIT_EXCEEDED", `${fn}: result exceeds ${textLengthMax} characters`, {
      limit: textLengthMax,
    });
  }
  return checkLength(
    fn,
    text.replaceAll(pattern, () => replacement),
  );
}

function countOf(text: string, pattern: string): number {
  let count = 0;
  for (let at = text.indexOf(pattern); at >= 0; at = text.indexOf(pattern, at + pattern.length)) {
    count++;
  }
  return count;
}

/** Text for `text::concat`: text as is, numbers, booleans and temporal values spelled out. */
function asText(index: number, value: unknown): string {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "bigint" || typeof value === "boolean") {
    return String(value);
  }
  if (value instanceof Decimal || value instanceof Duration) return value.toString();
  if (value instanceof Date) return value.toISOString();
  throw argumentTypeError("text::concat", index, "text or a scalar", value);
}

function concat(args: readonly unknown[]): unknown {
  let result = "";
  for (let i = 0; i < args.length; i++) {
    result += asText(i, args[i]);
    if (result.length > textLengthMax) checkLength("text::concat", result);
  }
  return result;
}

function predicate(name: string, test: (text: string, part: string) => boolean): FunctionSpec {
  const fn = `text::${name}`;
  const invoke: FunctionSpec["invoke"] = (args) =>
    test(expectText(fn, args, 0), expectText(fn, args, 1));
  return textFunction(name, [2, 2], fixed("bool"), invoke, ["text", "text"]);
}

function mapping(name: string, map: (text: string) => string): FunctionSpec {
  const fn = `text::${name}`;
  const invoke: FunctionSpec["invoke"] = (args) => map(expectText(fn, args, 0));
  return textFunction(name, [1, 1], fixed("utf8"), invoke, ["text"]);
}

export const textFunctions: readonly FunctionSpec[] = [
  textFunction(
    "length",
    [1, 1],
    fixed("int8"),
    (args) => codePointCount(expectText("text::length", args, 0)),
    ["text"],
  ),
  mapping("lower", (text) => text.toLowerCase()),
  mapping("upper", (text) => text.toUpperCase()),
  mapping("trim", (text) => text.trim()),
  predicate("contains", (text, part) => text.includes(part)),
  predicate("starts_with", (text, part) => text.startsWith(part)),
  predicate("ends_with", (text, part) => text.endsWith(part)),
  textFunction("substring", [2, 3], fixed("utf8"), substring, ["text", "number", "number"]),
  textFunction("replace", [3, 3], fixed("utf8"), replace, ["text", "text", "text"]),
  textFunction("concat", [1, functionArgumentsMax], fixed("utf8"), concat),
];
