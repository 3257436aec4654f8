/**
 * Goal: the log's value codec and record frame reproduce every runtime value and commit
 * exactly, and reading a damaged frame reports damage instead of returning wrong data.
 * Method: fast-check round trips over arbitrary values of every kind; encode/decode of whole
 * records; single-byte corruption of encoded records at every offset.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fc from "fast-check";
import { crc32c } from "../../src/lib/crc32c.ts";
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

// ---- The binary body (format 2) ----

/** Values a body must carry exactly, beyond `value` above: edge numbers and odd strings. */
const edgeValue = fc.oneof(
  value,
  fc.constantFrom(2 ** 31, -(2 ** 31), 2 ** 31 - 1, 2 ** 53 - 1, -(2 ** 53), 0.1, 1e300, -5e-324),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 40 }),
  fc.constantFrom("\ud800", "a\udfffb", "x".repeat(33), "é".repeat(40)),
);

const arbitraryCommit = fc.record(
  {
    seq: fc.integer({ min: 1, max: 2 ** 53 - 1 }),
    ts: fc.integer({ min: 0, max: 8.64e15 }),
    origin: fc.record(
      { kind: fc.constantFrom("api", "rql"), text: fc.string() },
      { noNullPrototype: true },
    ),
    changes: fc.array(
      fc.record(
        {
          object: fc.string({ minLength: 1, maxLength: 40 }),
          kind: fc.constantFrom("insert", "update", "delete", "add", "record"),
          key: edgeValue,
          before: edgeValue,
          after: edgeValue,
        },
        { noNullPrototype: true },
      ),
      { maxLength: 6 },
    ),
  },
  { noNullPrototype: true },
);

test("every commit survives the binary body exactly (fast-check)", () => {
  fc.assert(
    fc.property(arbitraryCommit, (c: Commit) => {
      const { bytes } = encodeRecord(c, zeroHash);
      const read = readRecord(bytes, 0);
      assert.equal(read.kind, "record");
      if (read.kind !== "record") return;
      assert.equal(read.record.seq, c.seq);
      assert.equal(read.record.ts, c.ts);
      assert.deepEqual(read.record.origin, c.origin);
      assert.deepEqual(read.record.changes, c.changes);
    }),
    { numRuns: 1500 },
  );
});

test("records with the same origin share one frozen value; other origins decode afresh", () => {
  const originOf = (c: Commit): unknown => {
    const read = readRecord(encodeRecord(c, zeroHash).bytes, 0);
    assert.equal(read.kind, "record");
    return read.kind === "record" ? read.record.origin : undefined;
  };
  const first = originOf({ ...commit(1), origin: { kind: "rql", detail: { op: "x" } } });
  const second = originOf({ ...commit(2), origin: { kind: "rql", detail: { op: "x" } } });
  assert.equal(first, second);
  assert.ok(Object.isFrozen(second), "a shared origin is frozen");
  assert.ok(Object.isFrozen((second as { detail: object }).detail), "and all of it");
  const other = originOf({ ...commit(3), origin: { kind: "rql", detail: { op: "y" } } });
  assert.deepEqual(other, { kind: "rql", detail: { op: "y" } });
  // A Date changes even when frozen: an origin holding one is never shared, nor frozen.
  const dated = { kind: "procedure", detail: { args: [{ n: 1 }, new Date(5)] } };
  const a = originOf({ ...commit(4), origin: dated });
  const b = originOf({ ...commit(5), origin: dated });
  assert.notEqual(a, b);
  assert.deepEqual(b, dated);
  assert.ok(!Object.isFrozen(b));
  assert.ok(!Object.isFrozen((b as { detail: { args: object[] } }).detail.args[0]));
});

test("the writer reuses a frozen origin's bytes, never a mutable or computed one's", () => {
  const originOf = (c: Commit): unknown => {
    const read = readRecord(encodeRecord(c, zeroHash).bytes, 0);
    return read.kind === "record" ? read.record.origin : undefined;
  };
  const frozen = Object.freeze({ kind: "rcp", detail: Object.freeze({ op: "PUT" }) });
  assert.deepEqual(originOf({ ...commit(1), origin: frozen }), frozen);
  assert.deepEqual(originOf({ ...commit(2), origin: frozen }), frozen);
  // The same object, changed between commits: each record has its origin as it was then.
  const mutable = { kind: "rql", detail: { text: "a" } };
  assert.deepEqual(originOf({ ...commit(3), origin: mutable }), mutable);
  mutable.detail.text = "b";
  assert.deepEqual(originOf({ ...commit(4), origin: mutable }), {
    kind: "rql",
    detail: { text: "b" },
  });
  // Frozen on the outside only: its detail can still change.
  const shallow = Object.freeze({ kind: "rql", detail: { text: "c" } });
  originOf({ ...commit(5), origin: shallow });
  shallow.detail.text = "d";
  assert.deepEqual(originOf({ ...commit(6), origin: shallow }), {
    kind: "rql",
    detail: { text: "d" },
  });
  // A frozen getter may answer differently each time.
  let calls = 0;
  const computed = Object.freeze({
    kind: "rql",
    get detail() {
      return ++calls;
    },
  });
  originOf({ ...commit(7), origin: computed });
  assert.deepEqual(originOf({ ...commit(8), origin: computed }), { kind: "rql", detail: 2 });
});

test("a row whose key is __proto__ stays an own key", () => {
  const row = JSON.parse('{"__proto__": {"x": 1}, "y": 2}') as Record<string, unknown>;
  const c: Commit = {
    seq: 1,
    ts: 5,
    origin: { kind: "api" },
    changes: [{ object: "a::b", kind: "set", key: "k", before: undefined, after: row }],
  };
  const read = readRecord(encodeRecord(c, zeroHash).bytes, 0);
  assert.equal(read.kind, "record");
  if (read.kind !== "record") return;
  const after = read.record.changes[0]!.after as Record<string, unknown>;
  assert.deepEqual(Object.keys(after), ["__proto__", "y"]);
  assert.equal(Object.getPrototypeOf(after), Object.prototype);
});

/** A frame around `body` with a correct CRC and chain hash, as a writer with a bug would make. */
function frameAround(body: Uint8Array, seq: number): Uint8Array {
  const payload = 64 + body.length;
  const frame = Buffer.alloc(16 + payload);
  frame.writeUInt32BE(payload, 0);
  frame.writeUInt32BE(0, 8);
  frame.writeUInt32BE(seq, 12);
  frame.set(body, 48);
  frame.set(
    createHash("sha256")
      .update(frame.subarray(8, frame.length - 32))
      .digest(),
    frame.length - 32,
  );
  frame.writeUInt32BE(crc32c(frame.subarray(8)), 4);
  return frame;
}

test("format 1 records (JSON bodies) are still read", () => {
  const json =
    '{"ts":9,"origin":{"kind":"api"},"changes":' +
    '[["a::t","insert",1,{"$undef":1},{"id":1,"n":{"$int":"12345678901234567890"}}]]}';
  const read = readRecord(frameAround(Buffer.from(json), 4), 0);
  assert.equal(read.kind, "record");
  if (read.kind !== "record") return;
  assert.equal(read.record.ts, 9);
  assert.deepEqual(read.record.changes, [
    {
      object: "a::t",
      kind: "insert",
      key: 1,
      before: undefined,
      after: { id: 1, n: 12345678901234567890n },
    },
  ]);
});

test("a CRC-valid but malformed binary body is damage naming the record, never a throw", () => {
  const { bytes } = encodeRecord(commit(5), zeroHash);
  const body = bytes.subarray(48, bytes.length - 32);
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: body.length - 1 }),
      fc.integer({ min: 1, max: 255 }),
      fc.integer({ min: 0, max: body.length }),
      (at, xor, cut) => {
        const mutated = new Uint8Array(body.subarray(0, Math.max(cut, at + 1)));
        mutated[at] = mutated[at]! ^ xor;
        const read = readRecord(frameAround(mutated, 5), 0);
        if (read.kind === "damaged") assert.match(read.reason, /^record 5: /);
        else assert.equal(read.kind, "record");
      },
    ),
    { numRuns: 3000 },
  );
});
