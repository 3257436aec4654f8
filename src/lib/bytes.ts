/**
 * @module Byte arrays compared without making a Buffer to compare them: the log's hash chain
 * compares two 32-byte hashes per record, at recovery and on every replicated record.
 */

/** True when `a` and `b` hold the same bytes. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
