/**
 * @module The only place that makes randomness. Seeded generators serve tests and simulation;
 * `randomBytes` serves identifiers (uuid4/uuid7), whose values are logged, so replay never
 * needs to reproduce them.
 */
import { randomFillSync } from "node:crypto";

/** A deterministic pseudo-random generator (splitmix32 core). */
export interface Prng {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [0, bound). */
  int(bound: number): number;
}

/** Creates a seeded {@link Prng}: the same seed gives the same sequence. */
export function createPrng(seed: number): Prng {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    z = (z ^ (z >>> 16)) >>> 0;
    return z / 0x1_0000_0000;
  };
  return { next, int: (bound) => Math.floor(next() * bound) };
}

/** Cryptographically strong random bytes. */
export function randomBytes(count: number): Uint8Array {
  const bytes = new Uint8Array(count);
  randomFillSync(bytes);
  return bytes;
}
