/**
 * @module Reading every row of a view's input object, with its key as its changes name it:
 * how a view is populated, and how a top-k reads its input again.
 */
import { assert } from "../lib/assert.ts";
import { viewPopulateChunkRowsMax } from "../lib/limits.ts";
import type { StoredObject } from "../engine/index.ts";
import type { Row } from "./delta.ts";
import { ViewObject } from "./view-object.ts";

/** Calls `fn` with every `[key, row]` of a row-like object. */
export function forEachRow(object: StoredObject, fn: (key: unknown, row: Row) => void): void {
  if (object instanceof ViewObject) {
    for (const [key, row] of object.entries()) fn(key, row);
    return;
  }
  assert(object.snapshot !== undefined, `${object.name} cannot be read by a view`);
  const source = object.snapshot();
  for (;;) {
    const chunk = source.readChunk(viewPopulateChunkRowsMax);
    if (chunk.length === 0) return;
    for (const [, key, row] of chunk) fn(key, row as Row);
  }
}
