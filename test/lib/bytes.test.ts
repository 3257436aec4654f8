/**
 * Goal: bytesEqual says whether two byte arrays hold the same bytes, views at any offset
 * included. Method: fast-check pairs (equal, one byte changed, different lengths) against
 * Buffer.compare.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { bytesEqual } from "../../src/lib/bytes.ts";

test("bytesEqual agrees with Buffer.compare, for views at any offset", () => {
  const bytes = fc.uint8Array({ maxLength: 40 });
  fc.assert(
    fc.property(bytes, bytes, fc.nat(8), fc.nat(255), (a, b, shift, flip) => {
      // A view into a larger array: the comparison must respect its offset.
      const padded = new Uint8Array(shift + a.length);
      padded.set(a, shift);
      const view = padded.subarray(shift);
      assert.equal(bytesEqual(view, a), true);
      assert.equal(bytesEqual(view, b), Buffer.compare(a, b) === 0);
      if (a.length > 0) {
        const changed = a.slice();
        const at = flip % a.length;
        changed[at] = changed[at]! ^ (1 + (flip % 255));
        assert.equal(bytesEqual(view, changed), false);
      }
    }),
  );
});
