/**
 * Goal: the RCP codec is exactly §2.2 of specs/rcp.md and robust against any input.
 * Method: the spec's test vector and CRC check value; fast-check round-trips of random
 * payloads and flags split into random chunks; random byte mutations of valid frames, which
 * must either decode or stop with a FrameError, never anything else; the payload limit refused
 * from the header alone; JSON lines cut at newlines with a bounded line length.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  FrameDecoder,
  FrameError,
  LineDecoder,
  encodeFrame,
  flagCrcPresent,
  flagStream,
  parseRequest,
} from "../../src/protocol/index.ts";
import { crc32cReference, frame } from "../support/rcp-wire.ts";

const pingPayload = '{"type":"request","id":"1","op":"PING","params":{}}';

test("the spec's test vector: PING frame header and CRC32C", () => {
  const bytes = encodeFrame(Buffer.from(pingPayload));
  assert.equal(Buffer.from(pingPayload).length, 51);
  assert.equal(bytes.subarray(0, 18).toString("hex"), "524350580001000100000000" + "0033c32009c4");
  assert.equal(crc32cReference(Buffer.from("123456789")), 0xe3069283);
});

test("frames before an invalid one are still returned", () => {
  const decoder = new FrameDecoder();
  const frames = decoder.push(
    Buffer.concat([frame(pingPayload), frame(pingPayload, { version: 3 })]),
  );
  assert.equal(frames.length, 1);
  assert.equal(decoder.failure?.reason, "version");
  assert.deepEqual(decoder.push(frame(pingPayload)), [], "nothing after a failure");
});

test("frames without CRC are accepted; a header extension is skipped", () => {
  const decoder = new FrameDecoder();
  const frames = decoder.push(
    Buffer.concat([frame(pingPayload, { crc: false }), frame(pingPayload, { extension: 5 })]),
  );
  assert.equal(frames.length, 2);
  for (const f of frames) assert.equal(Buffer.from(f.payload).toString(), pingPayload);
  assert.equal(frames[0]!.flags, 0);
});

test("random frames round-trip through any chunking", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          payload: fc.uint8Array({ maxLength: 300 }),
          stream: fc.boolean(),
          crc: fc.boolean(),
        }),
        { maxLength: 8 },
      ),
      fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 20 }),
      (frames, cuts) => {
        const flags = (f: { stream: boolean; crc: boolean }): number =>
          (f.crc ? flagCrcPresent : 0) | (f.stream ? flagStream : 0);
        const wire = Buffer.concat(frames.map((f) => encodeFrame(f.payload, flags(f))));
        const decoder = new FrameDecoder();
        const out: Array<{ flags: number; payload: Uint8Array }> = [];
        let at = 0;
        for (let i = 0; at < wire.length; i++) {
          const size = cuts[i % cuts.length]!;
          out.push(...decoder.push(wire.subarray(at, at + size)));
          at += size;
        }
        assert.equal(out.length, frames.length);
        out.forEach((f, i) => {
          assert.deepEqual(Buffer.from(f.payload), Buffer.from(frames[i]!.payload));
          assert.equal(f.flags, flags(frames[i]!));
        });
        assert.equal(decoder.pendingBytes, 0);
      },
    ),
    { numRuns: 300 },
  );
});

test("mutated frames decode or stop with a FrameError, never anything else", () => {
  const valid = Buffer.concat([
    encodeFrame(Buffer.from(pingPayload)),
    encodeFrame(Buffer.from('{"type":"request","id":"2","op":"INFO"}')),
  ]);
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), {
        minLength: 1,
        maxLength: 6,
      }),
      (mutations) => {
        const bytes = Buffer.from(valid);
        for (const [at, value] of mutations) bytes[at] = value;
        const decoder = new FrameDecoder(1024);
        for (const f of decoder.push(bytes)) {
          try {
            parseRequest(f.payload);
          } catch (error) {
            assert.ok(error instanceof FrameError, String(error));
          }
        }
        assert.ok(decoder.failure === undefined || decoder.failure instanceof FrameError);
      },
    ),
    { numRuns: 2000 },
  );
});

test("each header field is checked, in the server's order, before the body arrives", () => {
  const reasons = (bytes: Buffer, max = 1024): string => {
    const decoder = new FrameDecoder(max);
    decoder.push(bytes);
    return decoder.failure?.reason ?? "none";
  };
  assert.equal(reasons(frame(pingPayload, { magic: "RCP1" })), "magic");
  assert.equal(reasons(frame(pingPayload, { version: 2 })), "version");
  assert.equal(reasons(frame(pingPayload, { flags: 0x0011 })), "flags");
  assert.equal(reasons(frame(pingPayload, { crcValue: 1 })), "crc");
  // Only the 18-byte header of an oversized frame is needed to refuse it.
  assert.equal(reasons(frame("", { payloadLength: 1025 }).subarray(0, 18)), "size");
  assert.equal(reasons(frame("x".repeat(1024))), "none");
  // Fewer than 18 bytes of anything just wait for more.
  assert.equal(reasons(Buffer.from("GET / HTTP/1.1\r\n")), "none");
});

test("parseRequest: bad UTF-8 and bad JSON end the stream; bad envelopes do not", () => {
  assert.throws(() => parseRequest(Buffer.from([0x7b, 0xff, 0x7d])), { reason: "utf8" });
  assert.throws(() => parseRequest(Buffer.from("{nope")), { reason: "json" });
  const cases: Array<[string, string]> = [
    ["[]", "invalid request: expected a JSON object"],
    ['{"type":"request","id":7,"op":"PING"}', "invalid request: `id` must be a string"],
    ['{"type":"request","op":"PING"}', "invalid request: missing field `id`"],
    ['{"id":"1","op":"PING"}', "invalid request: missing field `type`"],
    ['{"type":"request","id":"1"}', "invalid request: missing field `op`"],
  ];
  for (const [text, message] of cases) {
    const parsed = parseRequest(Buffer.from(text));
    assert.equal(parsed.kind, "invalid");
    if (parsed.kind === "invalid") assert.equal(parsed.message, message);
  }
  const ok = parseRequest(Buffer.from('{"type":"x","id":"a","op":"PING","extra":1}'));
  assert.deepEqual(ok, {
    kind: "request",
    request: { type: "x", id: "a", op: "PING", params: null },
  });
});

test("JSON lines: split at newlines in any chunking, CR stripped, length bounded", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.string({ unit: "grapheme", maxLength: 40 }).map((s) => s.replace(/[\r\n]/g, "")),
        {
          maxLength: 6,
        },
      ),
      fc.integer({ min: 1, max: 16 }),
      (lines, size) => {
        const wire = Buffer.from(lines.map((l) => `${l}\r\n`).join(""));
        const decoder = new LineDecoder(1000);
        const out: string[] = [];
        for (let at = 0; at < wire.length; at += size) {
          out.push(...decoder.push(wire.subarray(at, at + size)).map((b) => b.toString()));
        }
        assert.deepEqual(
          out,
          lines.filter((l) => l.length > 0),
        );
      },
    ),
  );
  const short = new LineDecoder(10);
  assert.deepEqual(short.push(Buffer.from("ok\n" + "x".repeat(11))).map(String), ["ok"]);
  assert.equal(short.failure?.reason, "size");
});
