/**
 * Goal: the masked frames the Node client writes straight to its TCP socket (lib/
 * websocket-frame.ts, socket.ts's NodeSocket) are what a WebSocket server reads as the same text,
 * at every length encoding (7, 16 and 64 bits, each boundary in bytes, not characters), interleaved
 * whole with the pongs `ws` writes itself; each frame has its own masking key; and with an
 * extension negotiated the client still sends through `ws`.
 * Method: a real `ws` server (which closes with 1002 on any frame that is not masked) and the
 * client's default socket factory over loopback; the server's messages are compared with what
 * was sent, and frames are unmasked by hand.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { WebSocketServer } from "ws";
import type { WebSocket } from "ws";
import { encodeWebSocketTextFrame } from "../../src/lib/websocket-frame.ts";
import { createSocketFactory } from "../../src/client/socket.ts";
import type { SocketLike } from "../../src/client/socket.ts";

const texts = [
  "",
  "a",
  "x".repeat(125),
  "x".repeat(126),
  "é".repeat(62) + "x", // 125 bytes in 63 characters
  "é".repeat(63), // 126 bytes
  "y".repeat(0xffff),
  "y".repeat(0x10000),
  "😀".repeat(20_000),
  '{"id":1,"type":"call","procedure":"transfer","args":{"from":1,"to":2,"amount":3}}',
];

/** A `ws` server on loopback, the client's socket to it, and the server's side of it. */
async function pair(serverOptions: Record<string, unknown> = {}) {
  const server = new WebSocketServer({ port: 0, host: "127.0.0.1", ...serverOptions });
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  const serverSide = once(server, "connection");
  const socket = await createSocketFactory()(`ws://127.0.0.1:${port}`, undefined);
  const opened = new Promise((resolve) => (socket.onopen = resolve));
  const [ws] = (await serverSide) as [WebSocket];
  await opened;
  const received: string[] = [];
  const closes: number[] = [];
  ws.on("message", (data, isBinary) => {
    assert.equal(isBinary, false);
    received.push((data as Buffer).toString("utf8"));
  });
  ws.on("close", (code) => closes.push(code));
  return { server, socket, ws, received, closes };
}

/** Waits until `count` messages arrived or the server closed the connection. */
async function received(state: { received: string[]; closes: number[] }, count: number) {
  while (state.received.length < count && state.closes.length === 0) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function closePair(server: WebSocketServer, socket: SocketLike): Promise<void> {
  const closed = new Promise((resolve) => (socket.onclose = resolve));
  socket.close(1000, "done");
  await closed;
  server.close();
}

test("frames the client writes arrive as the same messages, at every length", async () => {
  const state = await pair();
  const { server, socket, ws } = state;
  let pongs = 0;
  ws.on("pong", () => pongs++);
  for (const text of texts) {
    socket.send(text);
    ws.ping(); // answered by `ws` itself, between the client's frames
  }
  await received(state, texts.length);
  assert.deepEqual(state.closes, [], "the server took every frame as masked and whole");
  assert.deepEqual(state.received, texts);
  while (pongs < texts.length) await once(ws, "pong");
  await closePair(server, socket);
});

test("the client's socket hands text messages over as strings, binary ones as bytes", async () => {
  const { server, socket, ws } = await pair();
  const data: unknown[] = [];
  socket.onmessage = (event) => data.push(event.data);
  ws.send('{"id":1}');
  ws.send(Buffer.from([1, 2, 3]), { binary: true });
  while (data.length < 2) await new Promise((resolve) => setTimeout(resolve, 5));
  assert.equal(data[0], '{"id":1}');
  assert.deepEqual([...(data[1] as Buffer)], [1, 2, 3]);
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    socket.onclose = resolve;
  });
  ws.close(4001, "bye");
  assert.deepEqual(await closed, { code: 4001, reason: "bye" });
  server.close();
});

test("with permessage-deflate negotiated the client sends through ws", async () => {
  const state = await pair({ perMessageDeflate: true });
  const { server, socket, ws } = state;
  assert.equal(ws.extensions, "permessage-deflate");
  for (const text of texts) socket.send(text);
  await received(state, texts.length);
  assert.deepEqual(state.closes, []);
  assert.deepEqual(state.received, texts);
  await closePair(server, socket);
});

test("each frame is masked with its own key and unmasks to the text", () => {
  const keys = new Set<string>();
  for (let round = 0; round < 3000; round++) {
    const text = `{"id":${round},"type":"ping"}`;
    const frame = encodeWebSocketTextFrame(text, true);
    assert.equal(frame[0], 0x81, "FIN and opcode 1");
    assert.equal(frame[1], 0x80 | Buffer.byteLength(text), "mask bit and 7-bit length");
    const key = frame.subarray(2, 6);
    keys.add(key.toString("hex"));
    const payload = Buffer.from(frame.subarray(6).map((byte, index) => byte ^ key[index & 3]!));
    assert.equal(payload.toString("utf8"), text);
  }
  // 32-bit random keys: 3,000 draws (past one pool of 2,048) repeat with odds of about 1e-3.
  assert.ok(keys.size >= 2995, `${keys.size} distinct keys in 3000 frames`);
});
