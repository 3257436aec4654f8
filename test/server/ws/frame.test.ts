/**
 * Goal: the text frames a session writes straight to its socket (lib/websocket-frame.ts) are what a
 * WebSocket client reads as the same text, at every length encoding (7, 16 and 64 bits, and
 * each boundary in bytes, not characters), and are interleaved whole with `ws`'s own frames.
 * Method: a real `ws` server and client over loopback; the server writes each frame through
 * directSocketOf, between `ws.send` and ping frames, and the client's messages are compared.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { WebSocket, WebSocketServer } from "ws";
import { directSocketOf, encodeWebSocketTextFrame } from "../../../src/lib/websocket-frame.ts";

test("text frames written to the socket arrive as the same messages, at every length", async () => {
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
    '{"id":1,"type":"result","result":true}',
  ];
  const server = new WebSocketServer({ port: 0, host: "127.0.0.1" });
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  const serverSide = once(server, "connection");
  const client = new WebSocket(`ws://127.0.0.1:${port}`);
  const received: string[] = [];
  let pongs = 0;
  client.on("message", (data, isBinary) => {
    assert.equal(isBinary, false);
    received.push((data as Buffer).toString("utf8"));
  });
  client.on("pong", () => pongs++);
  await once(client, "open");
  const [ws] = (await serverSide) as [WebSocket];
  const socket = directSocketOf(ws);
  assert.ok(socket !== undefined, "a connection without extensions is written directly");
  for (const text of texts) {
    socket.write(encodeWebSocketTextFrame(text, false));
    ws.send("via ws");
    client.ping();
  }
  while (received.length < texts.length * 2) await once(client, "message");
  const expected = texts.flatMap((text) => [text, "via ws"]);
  assert.deepEqual(received, expected);
  assert.ok(pongs <= texts.length);
  client.close();
  await once(client, "close");
  server.close();
});

test("a connection with permessage-deflate is not written directly", async () => {
  const server = new WebSocketServer({ port: 0, host: "127.0.0.1", perMessageDeflate: true });
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  const serverSide = once(server, "connection");
  const client = new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate: true });
  await once(client, "open");
  const [ws] = (await serverSide) as [WebSocket];
  assert.equal(directSocketOf(ws), undefined);
  client.close();
  await once(client, "close");
  server.close();
});

test("the frame header says the payload's length in bytes", () => {
  const cases: Array<[string, number[]]> = [
    ["", [0x81, 0]],
    ["é", [0x81, 2]],
    ["x".repeat(126), [0x81, 126, 0, 126]],
    ["x".repeat(0x10000), [0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0]],
  ];
  for (const [text, header] of cases) {
    const frame = encodeWebSocketTextFrame(text, false);
    assert.deepEqual([...frame.subarray(0, header.length)], header);
    assert.equal(frame.subarray(header.length).toString("utf8"), text);
  }
});
