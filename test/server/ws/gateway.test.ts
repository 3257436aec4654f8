/**
 * Goal: the WebSocket endpoint bounds its connections with an answer, not a silent drop: past
 * `limits.wsConnectionsMax` an upgrade gets 503 LIMIT_EXCEEDED saying the limit, and a
 * connection that closes makes room for the next. Method: the real listener (harness.ts)
 * with a limit of 2, and real `ws` clients.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect as connectTcp } from "node:net";
import { WebSocket } from "ws";
import { startTestServer } from "../harness.ts";
import type { TestServer } from "../harness.ts";

/** Opens a WebSocket; resolves it, or the status and body of a refused upgrade. */
function connect(server: TestServer): Promise<WebSocket | { status: number; body: string }> {
  const socket = new WebSocket(`ws://127.0.0.1:${server.port}/v1/ws`);
  return new Promise((resolve, reject) => {
    socket.once("open", () => resolve(socket));
    socket.once("unexpected-response", (_request, response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (body += chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
    });
    socket.once("error", reject);
  });
}

async function closed(socket: WebSocket): Promise<void> {
  const done = new Promise((resolve) => socket.once("close", resolve));
  socket.close();
  await done;
}

test("past wsConnectionsMax an upgrade is refused with 503; a closed one makes room", async (t) => {
  const server = await startTestServer({ limits: { wsConnectionsMax: 2 } });
  t.after(() => server.close());
  const first = await connect(server);
  const second = await connect(server);
  assert.ok(first instanceof WebSocket && second instanceof WebSocket);
  const refused = await connect(server);
  assert.ok(!(refused instanceof WebSocket));
  assert.equal(refused.status, 503);
  const { error } = JSON.parse(refused.body) as { error: { code: string; message: string } };
  assert.equal(error.code, "LIMIT_EXCEEDED");
  assert.match(error.message, /too many WebSocket connections \(limit 2\)/);
  await closed(first);
  // The server sees the close a moment after the client: poll until there is room.
  let third = await connect(server);
  for (let i = 0; i < 50 && !(third instanceof WebSocket); i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    third = await connect(server);
  }
  assert.ok(third instanceof WebSocket, "room after a close");
  await closed(third);
  await closed(second);
});

test("a message past wsMessageSizeBytesMax, or not UTF-8, closes that socket only", async (t) => {
  // The socket's error event had no listener, so one such message ended the server process.
  const server = await startTestServer({ limits: { wsMessageSizeBytesMax: 1024 } });
  t.after(() => server.close());
  const cases = [
    { data: "x".repeat(2048), options: {}, code: 1009 },
    { data: Buffer.from([0x22, 0xff, 0xfe, 0x22]), options: { binary: false }, code: 1007 },
  ];
  for (const { data, options, code } of cases) {
    const socket = await connect(server);
    assert.ok(socket instanceof WebSocket);
    const closedWith = new Promise<number>((resolve) => socket.once("close", resolve));
    socket.on("error", () => undefined); // the client's side of the same failure
    socket.send(data, options);
    assert.equal(await closedWith, code);
  }
  const next = await connect(server);
  assert.ok(next instanceof WebSocket, "still serving");
  const pong = new Promise((resolve) =>
    next.once("message", (raw) => resolve((raw as Buffer).toString())),
  );
  next.send(JSON.stringify({ id: 1, type: "ping" }));
  assert.deepEqual(JSON.parse((await pong) as string), { id: 1, type: "pong" });
  await closed(next);
});

test("a client that resets the connection while its upgrade is refused is no fault", async (t) => {
  // The refusal's write then fails with ECONNRESET on a socket nobody listened to for
  // errors, which ended the server process.
  const server = await startTestServer({ tokens: [{ sha256: "0".repeat(64), role: "read" }] });
  t.after(() => server.close());
  const upgrade =
    "GET /v1/ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n" +
    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
    "Sec-WebSocket-Version: 13\r\n\r\n";
  for (let i = 0; i < 200; i++) {
    await new Promise<void>((resolve) => {
      const socket = connectTcp(server.port, "127.0.0.1", () => {
        socket.write(upgrade);
        setImmediate(() => {
          socket.resetAndDestroy();
          resolve();
        });
      });
      socket.on("error", () => resolve());
    });
  }
  await new Promise((resolve) => setTimeout(resolve, 100));
  const refused = await connect(server);
  assert.ok(!(refused instanceof WebSocket));
  assert.equal(refused.status, 401, "still serving");
});

/** Sends `head` as a raw upgrade request; resolves the status line, headers and body. */
function rawUpgrade(server: TestServer, head: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connectTcp(server.port, "127.0.0.1", () => socket.write(head));
    let text = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => (text += chunk));
    socket.on("end", () => resolve(text));
    socket.on("error", reject);
  });
}

test("a malformed upgrade is answered in the error shape, with the right status", async (t) => {
  // ws answered these itself in text/html ("Missing or invalid Sec-WebSocket-Key header").
  const server = await startTestServer();
  t.after(() => server.close());
  const lines = (method: string, headers: string[]) =>
    [`${method} /v1/ws HTTP/1.1`, "Host: localhost", ...headers, "", ""].join("\r\n");
  const upgrade = ["Upgrade: websocket", "Connection: Upgrade"];
  const key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==";
  const cases: Array<[string, number, string, RegExp]> = [
    [lines("GET", upgrade), 400, "INVALID_ARGUMENT", /Sec-WebSocket-Key/],
    [lines("GET", [...upgrade, key, "Sec-WebSocket-Version: 7"]), 400, "INVALID_ARGUMENT", /Ver/],
    [
      lines("POST", [...upgrade, key, "Sec-WebSocket-Version: 13"]),
      405,
      "METHOD_NOT_ALLOWED",
      /GET/,
    ],
  ];
  for (const [head, status, code, says] of cases) {
    const answer = await rawUpgrade(server, head);
    const [top, body] = answer.split("\r\n\r\n") as [string, string];
    assert.match(top, new RegExp(`^HTTP/1.1 ${status} `), answer);
    assert.match(top, /content-type: application\/json/i);
    const { error } = JSON.parse(body) as { error: { code: string; message: string } };
    assert.equal(error.code, code);
    assert.match(error.message, says);
  }
});
