/**
 * @module Small arrays that the change feed keeps (inside commits), made without an allocation
 * site. V8 counts, per object or array literal, how many of its objects one scavenge finds
 * alive; when all of them are (the scavenge came within the last commits the feed keeps), it
 * allocates that literal's later objects straight in the old generation, for the rest of the
 * process, and every later scavenge pays for the young rows they point to (docs/performance.md,
 * "Runs in a slow mode"). An array a builtin copies has no allocation site: it starts young.
 */

/**
 * Reused by {@link youngNumberPair}. It only ever holds numbers, so V8 keeps it (and its
 * copies) as an unboxed double array, and nothing needs clearing.
 */
const numberPairScratch: number[] = [0.5, 0.5];

/** `[first, second]`, as a fresh array that V8 never pretenures. */
export function youngNumberPair(first: number, second: number): [number, number] {
  numberPairScratch[0] = first;
  numberPairScratch[1] = second;
  return numberPairScratch.slice() as [number, number];
}
