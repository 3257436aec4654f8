// Goal: show that crc32c computes the Castagnoli CRC exactly, in one call or across several,
// for any length and any alignment of the input. Method: published test vectors (RFC 3720
// appendix B.4 and the common "123456789" check value) pin the result; fast-check compares the
// slicing-by-8 implementation with a bytewise reference written from the definition (one bit at
// a time, no tables) over random buffers, random subarray offsets and random split points, and
// the WebAssembly loop (bytes in an arena) with the same reference, live and after release.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { Crc32cArena, Crc32cRanges, crc32c } from "../../src/lib/crc32c.ts";

const textEncoder = new TextEncoder();

/** The CRC from its definition: reflected polynomial, one bit per step, no tables. */
function crc32cReference(bytes: Uint8Array, initial = 0): number {
  let crc = ~initial >>> 0;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return ~crc >>> 0;
}

const ascending = Uint8Array.from({ length: 32 }, (_, i) => i);
const descending = Uint8Array.from({ length: 32 }, (_, i) => 31 - i);

test("known vectors", () => {
  assert.equal(crc32c(textEncoder.encode("123456789")), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
  assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
  assert.equal(crc32c(ascending), 0x46dd794e);
  assert.equal(crc32c(descending), 0x113fdb5c);
  assert.equal(crc32c(new Uint8Array(0)), 0);
});

test("the reference implementation agrees with the vectors", () => {
  assert.equal(crc32cReference(textEncoder.encode("123456789")), 0xe3069283);
  assert.equal(crc32cReference(new Uint8Array(32)), 0x8a9136aa);
  assert.equal(crc32cReference(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
});

test("results are unsigned 32-bit integers", () => {
  const value = crc32c(textEncoder.encode("123456789"));
  assert.ok(value > 0x7fffffff, "this vector has the top bit set");
  assert.ok(Number.isInteger(value) && value >= 0 && value <= 0xffffffff);
});

test("an empty buffer leaves a running CRC unchanged", () => {
  const running = crc32c(textEncoder.encode("1234"));
  assert.equal(crc32c(new Uint8Array(0), running), running);
});

test("running across buffers equals one call over their concatenation", () => {
  const whole = textEncoder.encode("123456789");
  assert.equal(crc32c(whole.subarray(5), crc32c(whole.subarray(0, 5))), 0xe3069283);
});

test("a subarray is checksummed from its own offset, not its buffer's", () => {
  const backing = new Uint8Array(40).fill(0xab);
  backing.set(textEncoder.encode("123456789"), 3);
  assert.equal(crc32c(backing.subarray(3, 12)), 0xe3069283);
});

test("property: the table-driven CRC equals the bytewise reference", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 600 }),
      fc.nat({ max: 15 }),
      fc.nat({ max: 0xffffffff }),
      (bytes, skip, initial) => {
        // Skipping a few leading bytes exercises every alignment of the byte offset.
        const view = bytes.subarray(Math.min(skip, bytes.length));
        assert.equal(crc32c(view), crc32cReference(view));
        assert.equal(crc32c(view, initial), crc32cReference(view, initial));
      },
    ),
    { numRuns: 500 },
  );
});

test("property: a range of a buffer is checksummed like the subarray it names", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 300 }),
      fc.nat(),
      fc.nat(),
      fc.nat({ max: 0xffffffff }),
      (bytes, a, b, initial) => {
        const start = bytes.length === 0 ? 0 : a % (bytes.length + 1);
        const end = start + (bytes.length - start === 0 ? 0 : b % (bytes.length - start + 1));
        const expected = crc32cReference(bytes.subarray(start, end), initial);
        assert.equal(crc32c(bytes, initial, start, end), expected);
      },
    ),
    { numRuns: 300 },
  );
  assert.throws(() => crc32c(new Uint8Array(4), 0, 3, 2), /range outside the bytes/);
  assert.throws(() => crc32c(new Uint8Array(4), 0, 0, 5), /range outside the bytes/);
});

test("property: incremental CRC over any split equals the one-shot CRC", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 600 }),
      fc.array(fc.nat(), { maxLength: 5 }),
      (bytes, cuts) => {
        const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))];
        points.sort((a, b) => a - b);
        let running = 0;
        let start = 0;
        for (const point of [...points, bytes.length]) {
          running = crc32c(bytes.subarray(start, point), running);
          start = point;
        }
        assert.equal(running, crc32c(bytes));
      },
    ),
    { numRuns: 500 },
  );
});

test("an initial value outside unsigned 32 bits is a programmer error", () => {
  assert.throws(() => crc32c(new Uint8Array(1), -1), { name: "AssertionError" });
  assert.throws(() => crc32c(new Uint8Array(1), 2 ** 32), { name: "AssertionError" });
  assert.throws(() => crc32c(new Uint8Array(1), 1.5), { name: "AssertionError" });
});

test("property: bytes in an arena are checksummed like anywhere else, live or released", () => {
  const arena = new Crc32cArena(64 * 1024);
  assert.equal(arena.bytes.length, 64 * 1024);
  assert.ok(arena.inWasm, "Node runs WebAssembly unless started with --jitless");
  assert.ok(
    arena.bytes.every((byte) => byte === 0),
    "an arena starts as zeros",
  );
  const check = (): void =>
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 600 }),
        fc.nat({ max: 60 * 1024 }),
        fc.nat(),
        fc.nat({ max: 0xffffffff }),
        (bytes, at, cut, initial) => {
          arena.bytes.set(bytes, at);
          const expected = crc32cReference(bytes, initial);
          assert.equal(crc32c(arena.bytes, initial, at, at + bytes.length), expected);
          // A view of the arena from an offset, as a segment reader's loaded prefix is.
          const view = arena.bytes.subarray(at - (cut % (at + 1)));
          const start = at - view.byteOffset + arena.bytes.byteOffset;
          assert.equal(crc32c(view, initial, start, start + bytes.length), expected);
        },
      ),
      { numRuns: 300 },
    );
  check();
  // A newer arena takes over the fast path; the older one is checksummed in JavaScript.
  const newer = new Crc32cArena(4096);
  newer.bytes.set(textEncoder.encode("123456789"));
  assert.equal(crc32c(newer.bytes, 0, 0, 9), 0xe3069283);
  check();
  newer.release();
  arena.release();
  check();
});

test("property: Crc32cRanges gives crc32c's result, in an arena or not, live or released", () => {
  const arena = new Crc32cArena(64 * 1024);
  const plain = new Uint8Array(64 * 1024);
  // A view from an offset, as a segment reader's loaded prefix is, and one of plain memory.
  const views = [arena.bytes.subarray(100), arena.bytes, plain.subarray(7)];
  const check = (ranges: readonly Crc32cRanges[]): void =>
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 600 }),
        fc.nat({ max: 60 * 1024 }),
        (bytes, at) => {
          for (const [index, view] of views.entries()) {
            view.set(bytes, at);
            const expected = crc32cReference(bytes);
            assert.equal(ranges[index]!.of(at, at + bytes.length), expected);
          }
        },
      ),
      { numRuns: 200 },
    );
  check(views.map((view) => new Crc32cRanges(view)));
  const older = views.map((view) => new Crc32cRanges(view));
  const newer = new Crc32cArena(4096);
  check(older); // made while the first arena was live: its loop still serves them
  newer.release();
  arena.release();
  check(views.map((view) => new Crc32cRanges(view))); // released: JavaScript
  check(older);
  assert.throws(() => new Crc32cRanges(plain).of(10, 9), /range outside the bytes/);
  assert.throws(() => new Crc32cRanges(plain).of(0, plain.length + 1), /range outside/);
});
