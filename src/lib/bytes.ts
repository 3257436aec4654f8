/**
 * @module Small helpers over byte arrays. Comparing without making a Buffer to compare: the
 * log's hash chain compares two 32-byte hashes per record, at recovery and on every replicated
 * record. A DataView over exactly an array's bytes, which may be a slice of a larger
 * ArrayBuffer (a pooled Buffer).
 */

/** True when `a` and `b` hold the same bytes. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A DataView over exactly the bytes of `bytes` (not the rest of its ArrayBuffer). */
export function dataViewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
}
