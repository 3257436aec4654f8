/**
 * Shared by the view tests: the reference (the same pipeline recomputed from scratch by the
 * RQL executor over the current rows) and a canonical form that compares row multisets.
 */
import assert from "node:assert/strict";
import type { Database } from "../../src/index.ts";

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
