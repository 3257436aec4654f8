/**
 * Keeps every row (or any value) a test was handed, with a deep textual image of it taken at
 * that moment, so that the test can check later that none of them changed. The image is
 * `util.inspect` at full depth: it shows class names (Decimal, Uint8Array), bigints, nested
 * JSON documents and property order, which `structuredClone` plus `deepEqual` would not.
 */
import assert from "node:assert/strict";
import { inspect } from "node:util";

/** A value's deep image: what `RowWitness.check` compares. */
export function imageOf(value: unknown): string {
  return inspect(value, { depth: Infinity, sorted: false, getters: false, showHidden: false });
}

interface Witnessed {
  readonly label: string;
  readonly value: unknown;
  readonly image: string;
}

/** Rows handed out, each with its image when it was handed out. */
export class RowWitness {
  private readonly kept: Witnessed[] = [];

  /** Keeps `value` (a row, a list of rows, a change, a commit) and returns it. */
  keep<T>(label: string, value: T): T {
    this.kept.push({ label, value, image: imageOf(value) });
    return value;
  }

  get size(): number {
    return this.kept.length;
  }

  /** Fails naming the first value whose image is no longer the one it had when kept. */
  check(): void {
    for (const { label, value, image } of this.kept) {
      const now = imageOf(value);
      if (now !== image) {
        assert.fail(`${label} changed after it was handed out:\nthen ${image}\nnow  ${now}`);
      }
    }
  }
}
