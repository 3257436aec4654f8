/**
 * Goal: the log's value codec and record frame reproduce every runtime value and commit
 * exactly, and reading a damaged frame reports damage instead of returning wrong data.
 * Method: fast-check round trips over arbitrary values of every kind; encode/decode of whole
 * records; single-byte corruption of encoded records at every offset.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  decodeValue,
  encodeValue,
  encodeRecord,
  readRecord,
  zeroHash,
} from "../../src/log/index.ts";
import { Decimal, Duration } from "../../src/values/index.ts";
import type { Commit } from "../../src/engine/index.ts";

const scalar = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.string(),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => (n === 0 ? 0 : n)),
  fc.bigInt({ min: -(2n ** 127n), max: 2n ** 128n - 1n }),
  fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }).map((c) => Decimal.of(c, 4)),
  fc.integer({ min: -8.64e15, max: 8.64e15 }).map((ms) => new Date(ms)),
  fc.integer().map((ms) => new Duration(ms)),
  fc.uint8Array({ maxLength: 40 }),
);
const value = fc.letrec((tie) => ({
  any: fc.oneof({ depthSize: "small" }, scalar, tie("list"), tie("record")),
  list: fc.array(tie("any"), { maxLength: 5 }),
  record: fc.dictionary(fc.string({ maxLength: 6 }), tie("any"), {
    maxKeys: 5,
    noNullPrototype: true,
  }),
})).any;

test("every runtime value survives encode/decode exactly", () => {
  fc.assert(
    fc.property(value, (v) => {
      assert.deepEqual(decodeValue(encodeValue(v)), v);
    }),
    { numRuns: 2000 },
  );
});

test("user objects whose keys look like tags stay objects", () => {
  const tricky = { $int: "5", $undef: 1, nested: { $time: 3 } };
  assert.deepEqual(decodeValue(encodeValue(tricky)), tricky);
  assert.equal(decodeValue(encodeValue(undefined)), undefined);
  assert.equal(decodeValue(encodeValue(2n ** 100n)), 2n ** 100n);
});

test("malformed tags are CORRUPT, not silently accepted", () => {
  for (const text of ['{"$int":"x"}', '{"$blob":"zz"}', '{"$nope":1}', "{", '{"$time":"a"}']) {
    assert.throws(() => decodeValue(text), { code: "CORRUPT" }, text);
  }
});

function commit(seq: number): Commit {
  return {
    seq,
    ts: 1_700_000_000_000 + seq,
    origin: { kind: "api", detail: { n: seq } },
    changes: [
      {
        object: "bank::accounts",
        kind: "update",
        key: seq,
        before: { id: seq, b: 1 },
        after: { id: seq, b: 2 },
      },
      { object: "bank::n", kind: "set", key: null, before: undefined, after: 10n ** 20n },
    ],
  };
}

test("a record decodes to the commit it encodes, with its chain hash", () => {
  const { bytes, hash } = encodeRecord(commit(7), zeroHash);
  const read = readRecord(bytes, 0);
  assert.equal(read.kind, "record");
  if (read.kind !== "record") return;
  assert.equal(read.sizeBytes, bytes.length);
  assert.equal(read.record.seq, 7);
  assert.deepEqual(read.record.changes, commit(7).changes);
  assert.deepEqual(read.record.origin, commit(7).origin);
  assert.deepEqual([...read.record.hash], [...hash]);
  assert.deepEqual([...read.record.prevHash], [...zeroHash]);
});

test("flipping any byte of a record is detected (damaged, never a wrong record)", () => {
  const { bytes } = encodeRecord(commit(3), zeroHash);
  for (let offset = 0; offset < bytes.length; offset++) {
    const copy = new Uint8Array(bytes);
    copy[offset] = copy[offset]! ^ 0x40;
    const read = readRecord(copy, 0);
    assert.notEqual(read.kind, "record", `flip at ${offset} went unnoticed`);
  }
});

test("zero bytes are the end of the log; truncated frames are damage", () => {
  assert.equal(readRecord(new Uint8Array(64), 0).kind, "end");
  const { bytes } = encodeRecord(commit(1), zeroHash);
  // (A cut inside the length field can leave only zero bytes: that reads as the end.)
  for (const cut of [4, 8, 15, 16, 40, bytes.length - 1]) {
    assert.equal(readRecord(bytes.subarray(0, cut), 0).kind, "damaged", `cut at ${cut}`);
  }
});
