/**
 * Goal: a client cannot make the server buffer without bound by sending requests and never
 * reading their answers: once the socket's send buffer passes limits.wsBufferedSizeBytesMax
 * the session stops reading requests, and reads (and answers) the rest once it drained.
 * Method: a raw `ws` client that stops reading its socket, against the real listener over a
 * scripted database (harness.ts) whose answers are large; the server side of the socket is
 * taken from the HTTP server's `upgrade` event.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import type { Socket } from "node:net";
import WebSocket from "ws";
import { startTestServer } from "../harness.ts";

const tick = () => new Promise((resolve) => setImmediate(resolve));

test("answers a client does not read stop the server reading its requests", async () => {
  const server = await startTestServer({ limits: { wsBufferedSizeBytesMax: 64 * 1024 } });
  const upgraded: Socket[] = [];
  server.http.server.on("upgrade", (_request, socket: Socket) => void upgraded.push(socket));
  server.db.answers.set("from big", { frames: [[{ pad: "x".repeat(20_000) }]] });
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/v1/ws`);
  let answered = 0;
  ws.on("message", () => void (answered += 1));
  await once(ws, "open");
  const clientSocket = (ws as unknown as { _socket: Socket })._socket;
  try {
    clientSocket.pause();
    // 1,000 answers of 20 KB: 20 MB the server held for a client that reads nothing.
    const total = 1_000;
    const stopped = () => upgraded[0]!.isPaused();
    let sent = 0;
    while (sent < total && !stopped()) {
      ws.send(JSON.stringify({ id: sent, type: "query", rql: "from big" }));
      sent += 1;
      while (server.db.received.length < sent && !stopped()) await tick();
    }
    assert.ok(stopped(), `the server read all ${total} requests without stopping`);
    assert.ok(server.db.received.length < total);
    clientSocket.resume();
    while (answered < sent) await tick();
    assert.equal(server.db.received.length, sent, "every request sent is answered after all");
  } finally {
    ws.terminate();
    await server.close();
  }
});
