/**
 * @module Small arrays that the change feed keeps (inside commits), made without an allocation
 * site. V8 counts, per object or array literal, how many of its objects one scavenge finds
 * alive; when all of them are (the scavenge came within the last commits the feed keeps), it
 * allocates that literal's later objects straight in the old generation, for the rest of the
 * process, and every later scavenge pays for the young rows they point to (docs/performance.md,
 * "Runs in a slow mode"). An array a builtin copies has no allocation site: it starts young.
 */

/** Reused by {@link youngPair}; emptied after each copy so it holds nothing alive. */
const pairScratch: unknown[] = [undefined, undefined];

/** `[first, second]`, as a fresh array that V8 never pretenures. */
export function youngPair<A, B>(first: A, second: B): [A, B] {
  pairScratch[0] = first;
  pairScratch[1] = second;
  const pair = pairScratch.slice() as [A, B];
  pairScratch[0] = pairScratch[1] = undefined;
  return pair;
}
