/**
 * Goal: the WebSocket endpoint bounds its connections with an answer, not a silent drop: past
 * `limits.wsConnectionsMax` an upgrade gets 503 LIMIT_EXCEEDED saying the limit, and a
 * connection that closes makes room for the next. Method: the real listener (harness.ts)
 * with a limit of 2, and real `ws` clients.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
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
