/**
 * @module Chunked readers of primitive state for snapshots. A snapshot reads a few thousand
 * entries at a time between commits; these helpers keep the reading position across chunks
 * for hash maps (whose iterators survive changes) and for B+trees (resumed after the last
 * key read, since their iterators must not outlive a change).
 */
import type { OrderedMap } from "../lib/ordered-map.ts";

export type SnapshotEntry = readonly [unknown, unknown, unknown];

/** Chunks over a Map; `entryOf` turns a map entry into `[mapKey, key, value]`. */
export function mapChunks<K, V>(
  map: Map<K, V>,
  entryOf: (mapKey: K, value: V) => SnapshotEntry,
): (limit: number) => SnapshotEntry[] {
  const iterator = map.entries();
  return (limit) => {
    const out: SnapshotEntry[] = [];
    while (out.length < limit) {
      const next = iterator.next();
      if (next.done === true) break;
      out.push(entryOf(next.value[0], next.value[1]));
    }
    return out;
  };
}

/** Chunks over a B+tree in key order, resuming after the last key read. */
export function orderedChunks<K, V>(
  map: OrderedMap<K, V>,
  entryOf: (key: K, value: V) => SnapshotEntry,
): (limit: number) => SnapshotEntry[] {
  let last: { key: K } | undefined;
  return (limit) => {
    const out: SnapshotEntry[] = [];
    const range = last === undefined ? {} : { lower: last.key, lowerExclusive: true };
    map.forEach((value, key) => {
      out.push(entryOf(key, value));
      last = { key };
      return out.length < limit;
    }, range);
    return out;
  };
}
