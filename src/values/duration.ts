/**
 * @module Durations (`duration`): a length of time in milliseconds. RQL writes them as
 * `30s`, `5m`, `1h30m`, `250ms`, `2d`; ISO 8601 `PT30S` is accepted on input too.
 */
import { DbError } from "../lib/errors.ts";

const unitMs: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};
const compactPattern = /^(-?)((?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+)$/;
const compactPart = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/g;
const isoPattern = /^(-?)P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

/** An immutable length of time. */
export class Duration {
  constructor(readonly ms: number) {
    // Infinity or NaN (`1d * 1e300`, a 400-digit literal) would reach the log, whose decoder
    // refuses non-finite numbers: the database would not open again.
    if (!Number.isFinite(ms)) {
      throw new DbError("ARITHMETIC_OVERFLOW", `duration overflow: ${ms} ms is out of range`, {
        value: `${ms}`,
      });
    }
  }

  /** Parses `1h30m`, `250ms`, `PT30S`; throws TYPE_MISMATCH otherwise. */
  static parse(text: string): Duration {
    const trimmed = text.trim();
    const compact = compactPattern.exec(trimmed);
    if (compact) {
      let total = 0;
      for (const part of compact[2]!.matchAll(compactPart)) {
        total += Number(part[1]) * unitMs[part[2]!]!;
      }
      return new Duration(compact[1] === "-" ? -total : total);
    }
    const iso = isoPattern.exec(trimmed);
    if (iso && trimmed !== "P" && !trimmed.endsWith("T")) {
      const [, sign, w = "0", d = "0", h = "0", m = "0", s = "0"] = iso;
      const total =
        Number(w) * unitMs.w! +
        Number(d) * unitMs.d! +
        Number(h) * unitMs.h! +
        Number(m) * unitMs.m! +
        Number(s) * 1000;
      return new Duration(sign === "-" ? -total : total);
    }
    throw new DbError("TYPE_MISMATCH", `not a duration: ${JSON.stringify(text.slice(0, 60))}`, {
      value: text,
    });
  }

  add(other: Duration): Duration {
    return new Duration(this.ms + other.ms);
  }

  compare(other: Duration): number {
    return this.ms < other.ms ? -1 : this.ms > other.ms ? 1 : 0;
  }

  /** The compact spelling, largest units first: `1h30m`, `250ms`, `0s`. */
  toString(): string {
    if (this.ms === 0) return "0s";
    let rest = Math.abs(this.ms);
    let out = this.ms < 0 ? "-" : "";
    for (const unit of ["d", "h", "m", "s", "ms"] as const) {
      const size = unitMs[unit]!;
      const amount = unit === "ms" ? rest : Math.floor(rest / size);
      if (amount > 0) out += `${amount}${unit}`;
      rest -= amount * size;
    }
    return out;
  }

  toJSON(): string {
    return this.toString();
  }
}
