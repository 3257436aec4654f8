/**
 * Goal: framing behaves as specs/rcp.md §2.2 and decisions 1 and 2 say: frames with or
 * without CRC are accepted, the server always sends CRC-flagged frames, JSON lines work both
 * ways when the first byte is `{`, undecodable input is answered (id "") before the
 * connection closes, and a bad envelope is answered while the connection stays open.
 * Method: raw bytes over real sockets to an in-process server, one case per malformation.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startTestRcp } from "../../support/rcp-server.ts";
import type { TestRcp } from "../../support/rcp-server.ts";
import { frame, requestFrame } from "../../support/rcp-wire.ts";

let rcp: TestRcp;

before(async () => {
  rcp = await startTestRcp({ server: { limits: { frameSizeBytesMax: 4096 } } });
});

after(async () => {
  await rcp.stop();
});

test("frames with and without CRC are accepted; answers carry a CRC (decision 1)", async () => {
  const client = await rcp.connect();
  const withCrc = await client.call("PING", {});
  const without = await client.call("PING", {}, { crc: false });
  assert.deepEqual(withCrc.result, { pong: true });
  assert.deepEqual(without.result, { pong: true });
  assert.deepEqual(client.flags, [1, 1]);
  // STREAM / END_STREAM / COMPRESSED bits are allowed on requests.
  assert.equal((await client.call("PING", {}, { flags: 0x000f })).status, "ok");
});

test("pipelined requests are answered in order", async () => {
  const client = await rcp.connect();
  const ids = Array.from({ length: 50 }, (_, i) => client.send(i % 2 === 0 ? "PING" : "INFO"));
  await client.waitFor((m) => m.id === ids.at(-1));
  assert.deepEqual(
    client.messages.map((m): unknown => m.id),
    ids,
  );
});

test("JSON lines both ways when the first byte is `{` (decision 1)", async () => {
  const client = await rcp.connect({ jsonLines: true });
  assert.deepEqual((await client.call("PING")).result, { pong: true });
  const hello = await client.ok("HELLO", { protocol_version: 1 });
  assert.equal(hello.wire_mode, "jsonl");
  client.sendRaw("\n"); // blank lines are ignored
  assert.equal((await client.call("PING")).status, "ok");
  client.sendRaw("not json\n");
  const fatal = await client.waitFor((m) => m.id === "");
  assert.equal(fatal.error.code, "BAD_REQUEST");
  await client.closed;
});

test("HELLO with wire_modes [jsonl] switches a binary connection's output to lines", async () => {
  const client = await rcp.connect();
  client.sendRaw(requestFrame("h", "HELLO", { protocol_version: 1, wire_modes: ["jsonl"] }));
  const hello = await client.waitFor((m) => m.id === "h");
  assert.equal(hello.result.wire_mode, "jsonl");
  assert.deepEqual(client.flags, [], "the HELLO answer itself is already a line");
  client.sendRaw(requestFrame("p", "PING", {}));
  assert.equal((await client.waitFor((m) => m.id === "p")).status, "ok");
});

test("every HELLO sets a binary connection's output mode by rstmdb's rule (§1.8)", async () => {
  const client = await rcp.connect();
  const hello = async (id: string, modes: string[] | undefined) => {
    const params =
      modes === undefined ? { protocol_version: 1 } : { protocol_version: 1, wire_modes: modes };
    client.sendRaw(requestFrame(id, "HELLO", params));
    return (await client.waitFor((m) => m.id === id)).result.wire_mode as string;
  };
  assert.equal(await hello("h1", ["jsonl"]), "jsonl");
  assert.deepEqual(client.flags, [], "answered in a line");
  assert.equal(await hello("h2", ["binary_json", "jsonl"]), "binary_json");
  assert.deepEqual(client.flags, [1], "the second HELLO's answer is already a frame");
  client.sendRaw(requestFrame("p", "PING", {}));
  assert.equal((await client.waitFor((m) => m.id === "p")).status, "ok");
  assert.deepEqual(client.flags, [1, 1]);
  assert.equal(await hello("h3", ["jsonl"]), "jsonl");
  assert.equal(await hello("h4", undefined), "binary_json", "no wire_modes: binary_json");
  assert.deepEqual(client.flags, [1, 1, 1]);
});

test("a JSON-lines connection stays JSON lines whatever a HELLO asks", async () => {
  const client = await rcp.connect({ jsonLines: true });
  const hello = await client.ok("HELLO", { protocol_version: 1, wire_modes: ["binary_json"] });
  assert.equal(hello.wire_mode, "jsonl");
  assert.deepEqual(await client.ok("PING"), { pong: true });
});

const malformed: Array<[string, Buffer]> = [
  ["bad magic", frame('{"type":"request","id":"1","op":"PING"}', { magic: "RCP1" })],
  ["bad version", frame('{"type":"request","id":"1","op":"PING"}', { version: 9 })],
  ["unknown flag bits", frame('{"type":"request","id":"1","op":"PING"}', { flags: 0x0101 })],
  ["bad CRC", frame('{"type":"request","id":"1","op":"PING"}', { crcValue: 7 })],
  ["oversized payload (header only)", frame("", { payloadLength: 4097 }).subarray(0, 18)],
  ["invalid UTF-8", frame(Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x7d]))],
  ["invalid JSON", frame('{"type":"request",')],
];

for (const [name, bytes] of malformed) {
  test(`decision 2: ${name} is answered with BAD_REQUEST id "" and then closed`, async () => {
    const client = await rcp.connect();
    client.sendRaw(Buffer.concat([requestFrame("before", "PING", {}), bytes]));
    await client.closed;
    assert.equal(client.messages.length, 2);
    assert.equal(client.messages[0]!.id, "before", "earlier requests are answered first");
    const [, answer] = client.messages;
    assert.equal(answer!.type, "response");
    assert.equal(answer!.id, "");
    assert.equal(answer!.status, "error");
    assert.equal(answer!.error.code, "BAD_REQUEST");
    assert.equal(answer!.error.retryable, false);
  });
}

test("decision 2: bad envelopes and unknown ops are answered; the connection stays", async () => {
  const client = await rcp.connect();
  client.sendRaw(frame('{"type":"request","id":5,"op":"PING"}'));
  client.sendRaw(frame('{"id":"x","op":"PING"}'));
  client.sendRaw(frame("[1,2]"));
  client.sendRaw(requestFrame("u", "NO_SUCH_OP", {}));
  client.sendRaw(requestFrame("lower", "ping", {}));
  client.sendRaw(requestFrame("p", "PUT_MACHINE", { machine: "m", version: "1", definition: {} }));
  client.sendRaw(requestFrame("ok", "PING", {}));
  await client.waitFor((m) => m.id === "ok");
  const errors = client.messages
    .slice(0, 6)
    .map((m): unknown[] => [m.id, m.error.code, m.error.message]);
  assert.deepEqual(errors, [
    ["", "BAD_REQUEST", "invalid request: `id` must be a string"],
    ["x", "BAD_REQUEST", "invalid request: missing field `type`"],
    ["", "BAD_REQUEST", "invalid request: expected a JSON object"],
    ["u", "BAD_REQUEST", "invalid request: unknown operation: NO_SUCH_OP"],
    ["lower", "BAD_REQUEST", "invalid request: unknown operation: ping"],
    ["p", "BAD_REQUEST", 'invalid request: invalid type: string "1", expected u32 for `version`'],
  ]);
  assert.equal(client.isClosed, false);
});

test("a short non-RCPX prefix just waits; a full frame of garbage is refused", async () => {
  const client = await rcp.connect();
  client.sendRaw("GET / HTTP/1.1\r\n");
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(client.messages.length, 0);
  client.sendRaw("Host: x\r\n\r\n");
  await client.closed;
  assert.equal(client.messages[0]!.error.code, "BAD_REQUEST");
});

test("a frame at exactly the payload limit is read; one byte more is refused", async () => {
  const client = await rcp.connect();
  const envelope = '{"type":"request","id":"big","op":"PING","params":{"pad":""}}';
  const pad = "x".repeat(4096 - envelope.length);
  const exact = envelope.replace('"pad":""', `"pad":"${pad}"`);
  assert.equal(Buffer.byteLength(exact), 4096);
  client.sendRaw(frame(exact));
  assert.equal((await client.waitFor((m) => m.id === "big")).status, "ok");
  client.sendRaw(frame(`${exact} `));
  await client.closed;
  assert.match(client.messages.at(-1)!.error.message, /exceeds the limit of 4096 bytes/);
});
