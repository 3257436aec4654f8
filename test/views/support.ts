/**
 * Shared by the view tests: the reference (the same pipeline recomputed from scratch by the
 * RQL executor over the current rows) and a canonical form that compares row multisets.
 */
import assert from "node:assert/strict";
import type { Database, Tx } from "../../src/index.ts";
import type { Prng } from "../../src/lib/prng.ts";

/** A row as canonical text: keys sorted, floats rounded to survive summation order. */
export function canonicalRow(row: Record<string, unknown>): string {
  const keys = Object.keys(row).sort();
  return JSON.stringify(keys.map((key) => [key, canonicalValue(row[key])]));
}

function canonicalValue(value: unknown): unknown {
  if (value === undefined) return null;
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "number" && !Number.isInteger(value)) return Number(value.toPrecision(9));
  return value;
}

/** The rows as a sorted multiset. */
export function multiset(rows: ReadonlyArray<Record<string, unknown>>): string[] {
  return rows.map(canonicalRow).sort();
}

/** Asserts that view `name` holds what its query gives when run from scratch now. */
export function assertViewMatches(db: Database, name: string, query: string, context = ""): void {
  const expected = db.execute(query).frames[0] ?? [];
  const actual = db.view(name).scan();
  if (/\bsort\b/.test(query)) {
    // A sorted view is read in its order: compare the sequence, not only the multiset.
    assert.deepEqual(actual.map(canonicalRow), expected.map(canonicalRow), `${name} ${context}`);
    return;
  }
  assert.deepEqual(multiset(actual), multiset(expected), `${name} (${query}) ${context}`);
}

/**
 * Runs one random transaction of 1 to `writesMax` steps: most steps are one `write`, some a
 * savepoint of two that rolls back half the time; one transaction in six rolls back whole.
 */
export function randomTransaction(
  db: Database,
  prng: Prng,
  write: (tx: Tx, prng: Prng) => void,
  writesMax: number,
): void {
  const fails = prng.int(6) === 0;
  try {
    db.transact((tx) => {
      const count = 1 + prng.int(writesMax);
      for (let i = 0; i < count; i++) {
        if (prng.int(5) !== 0) {
          write(tx, prng);
          continue;
        }
        try {
          db.transact((nested) => {
            write(nested, prng);
            write(nested, prng);
            if (prng.int(2) === 0) throw new Error("savepoint rolled back");
          });
        } catch (error) {
          assert.equal((error as Error).message, "savepoint rolled back");
        }
      }
      if (fails) throw new Error("transaction rolled back");
    });
  } catch (error) {
    assert.equal((error as Error).message, "transaction rolled back");
  }
}
