/**
 * @module `date::` and `datetime::` functions. Both namespaces accept both kinds of value
 * (a `date` is "YYYY-MM-DD" text, a `datetime` a Date) and work in UTC; they differ only in
 * what `now` returns. `now` reads the clock from the evaluation scope, never the wall clock, so
 * WAL replay and simulation see the time the engine passed in.
 */
import { DbError } from "../../lib/errors.ts";
import { Duration } from "../../values/index.ts";
import {
  argumentTypeError,
  defineFunction,
  expectText,
  fixed,
  invalidArgument,
  sameAsFirst,
} from "./common.ts";
import type { FunctionSpec } from "./common.ts";
import type { Scope } from "../scope.ts";

type Namespace = "date" | "datetime";

const datePattern = /^(\d{4})-(\d{2})-(\d{2})$/;
/** The range of a JavaScript Date, in Unix milliseconds either side of the epoch. */
const dateMsMax = 8.64e15;
const dayMs = 86_400_000;

function temporal(
  namespace: Namespace,
  name: string,
  arity: readonly [number, number],
  returns: FunctionSpec["returns"],
  invoke: FunctionSpec["invoke"],
): FunctionSpec {
  // `now` reads the clock, so calls to it are never folded at compile time.
  return defineFunction(namespace, name, arity, returns, invoke, { pure: name !== "now" });
}

/** Unix ms of a date at midnight UTC; years below 100 stay literal (no 19xx mapping). */
function dateToMs(text: string): number | undefined {
  const match = datePattern.exec(text);
  if (!match) return undefined;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const probe = new Date(0);
  probe.setUTCFullYear(year, month - 1, day);
  const valid = probe.getUTCMonth() === month - 1 && probe.getUTCDate() === day;
  return valid ? probe.getTime() : undefined;
}

/** A date or datetime argument as Unix ms. */
function expectInstant(fn: string, args: readonly unknown[], index: number): number {
  const value = args[index];
  if (value instanceof Date && !Number.isNaN(value.getTime())) return value.getTime();
  const ms = typeof value === "string" ? dateToMs(value) : undefined;
  if (ms === undefined) throw argumentTypeError(fn, index, "a date or datetime", value);
  return ms;
}

function checkRange(fn: string, ms: number): number {
  if (!(Math.abs(ms) <= dateMsMax)) {
    throw new DbError("ARITHMETIC_OVERFLOW", `${fn}: result is outside the datetime range`, {
      value: ms,
    });
  }
  return ms;
}

function pad(value: number, width: number): string {
  return String(value).padStart(width, "0");
}

/** The `date` spelling of an instant: its UTC calendar day. */
function formatDateOf(fn: string, ms: number): string {
  const at = new Date(checkRange(fn, ms));
  const year = at.getUTCFullYear();
  if (year < 0 || year > 9999) {
    throw new DbError("ARITHMETIC_OVERFLOW", `${fn}: year ${year} cannot be a date`, {
      value: year,
    });
  }
  return `${pad(year, 4)}-${pad(at.getUTCMonth() + 1, 2)}-${pad(at.getUTCDate(), 2)}`;
}

function now(namespace: Namespace): FunctionSpec["invoke"] {
  return (_args: readonly unknown[], scope: Scope) => {
    if (scope.now === undefined) {
      throw new DbError(
        "EVAL_ERROR",
        `${namespace}::now: no clock was passed to this evaluation (scope.now)`,
      );
    }
    const ms = scope.now();
    return namespace === "date" ? formatDateOf("date::now", ms) : new Date(ms);
  };
}

function part(namespace: Namespace, name: string, read: (at: Date) => number): FunctionSpec {
  const fn = `${namespace}::${name}`;
  return temporal(namespace, name, [1, 1], fixed("int4"), (args) =>
    read(new Date(expectInstant(fn, args, 0))),
  );
}

function add(namespace: Namespace): FunctionSpec["invoke"] {
  const fn = `${namespace}::add`;
  return (args) => {
    const start = expectInstant(fn, args, 0);
    const amount = args[1];
    if (!(amount instanceof Duration)) throw argumentTypeError(fn, 1, "a duration", amount);
    const ms = checkRange(fn, start + amount.ms);
    // The result keeps the kind of the first argument: a date stays a date.
    return typeof args[0] === "string"
      ? formatDateOf(fn, Math.floor(ms / dayMs) * dayMs)
      : new Date(ms);
  };
}

function diff(namespace: Namespace): FunctionSpec["invoke"] {
  const fn = `${namespace}::diff`;
  return (args) => new Duration(expectInstant(fn, args, 0) - expectInstant(fn, args, 1));
}

/** strftime-style fields, all UTC. */
const formatFields: Readonly<Record<string, (at: Date) => string>> = {
  Y: (at) => pad(at.getUTCFullYear(), 4),
  m: (at) => pad(at.getUTCMonth() + 1, 2),
  d: (at) => pad(at.getUTCDate(), 2),
  H: (at) => pad(at.getUTCHours(), 2),
  M: (at) => pad(at.getUTCMinutes(), 2),
  S: (at) => pad(at.getUTCSeconds(), 2),
  f: (at) => pad(at.getUTCMilliseconds(), 3),
  "%": () => "%",
};

/** `format(x, pattern)`: %Y %m %d %H %M %S %f (milliseconds) and %% are the fields. */
function format(namespace: Namespace): FunctionSpec["invoke"] {
  const fn = `${namespace}::format`;
  return (args) => {
    const at = new Date(expectInstant(fn, args, 0));
    const pattern = expectText(fn, args, 1);
    return pattern.replace(/%(.?)/gsu, (whole: string, field: string) => {
      const render = formatFields[field];
      if (render === undefined) {
        throw invalidArgument(fn, `unknown format field ${JSON.stringify(whole)}`, pattern);
      }
      return render(at);
    });
  };
}

function namespaceFunctions(namespace: Namespace): FunctionSpec[] {
  return [
    temporal(namespace, "now", [0, 0], fixed(namespace), now(namespace)),
    part(namespace, "year", (at) => at.getUTCFullYear()),
    part(namespace, "month", (at) => at.getUTCMonth() + 1),
    part(namespace, "day", (at) => at.getUTCDate()),
    temporal(namespace, "add", [2, 2], sameAsFirst, add(namespace)),
    temporal(namespace, "diff", [2, 2], fixed("duration"), diff(namespace)),
    temporal(namespace, "format", [2, 2], fixed("utf8"), format(namespace)),
  ];
}

export const dateFunctions: readonly FunctionSpec[] = [
  ...namespaceFunctions("date"),
  ...namespaceFunctions("datetime"),
];
