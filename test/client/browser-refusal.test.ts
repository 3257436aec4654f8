/**
 * Goal: in a browser a refused WebSocket upgrade says nothing (an error event, close 1006),
 * so the client asks `GET /v1/ws` over HTTP why: 401, 403 and 404 stop it with the typed
 * error, as Node's `ws` (which reports the status) does; anything else is retried.
 * Method: the client over the real listeners (test/server/harness.ts) with a socket factory
 * that behaves as a browser's WebSocket: `ws` underneath, its error events stripped bare.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { WebSocket } from "ws";
import { AccessError, ConnectionError, NotFoundError, connect } from "../../src/client/index.ts";
import type { SocketFactory, SocketLike } from "../../src/client/index.ts";
import { hashToken } from "../../src/server/auth.ts";
import { startTestServer } from "../server/harness.ts";

/** Opens sockets as a browser does: the token as ?token=, errors that carry no reason. */
const browserSocket: SocketFactory = (url, token) => {
  const address = new URL(url);
  if (token !== undefined) address.searchParams.set("token", token);
  const ws = new WebSocket(address.href);
  const socket: SocketLike = {
    get readyState() {
      return ws.readyState;
    },
    send: (data) => ws.send(data),
    close: (code, reason) => ws.close(code, reason),
    onopen: null,
    onmessage: null,
    onclose: null,
    onerror: null,
  };
  ws.on("open", () => socket.onopen?.({ type: "open" }));
  ws.on("message", (data: Buffer) => socket.onmessage?.({ data: data.toString("utf8") }));
  ws.on("error", () => socket.onerror?.({ type: "error" }));
  ws.on("close", (code: number) => socket.onclose?.({ code, reason: "" }));
  return Promise.resolve(socket);
};

const refusedAs =
  (type: typeof AccessError | typeof NotFoundError, code: string, status: number) =>
  (error: unknown) =>
    error instanceof type && error.code === code && error.status === status;

test(
  "a browser's refused upgrade (401, 404) ends connect and subscriptions typed",
  {
    timeout: 10_000,
  },
  async () => {
    // The browser path retried forever: its error event has no status to read.
    const server = await startTestServer({
      tokens: [{ sha256: hashToken("reader"), role: "read" }],
    });
    const options = { webSocket: browserSocket, reconnectDelayMs: 10 };
    try {
      const unauthorized = refusedAs(AccessError, "UNAUTHORIZED", 401);
      const bad = { ...options, token: "bad" };
      await assert.rejects(connect(server.url, { ...bad, transport: "websocket" }), unauthorized);
      const client = await connect(server.url, bad);
      let reported: unknown;
      const subscription = client.subscribe({ table: "t" }, { onError: (e) => (reported = e) });
      await assert.rejects(subscription[Symbol.asyncIterator]().next(), unauthorized);
      assert.ok(unauthorized(reported));
      await client.close();
      const elsewhere = `${server.url}/not-statebase`;
      await assert.rejects(
        connect(elsewhere, { ...options, token: "reader", transport: "websocket" }),
        refusedAs(NotFoundError, "NOT_FOUND", 404),
      );
      const reader = await connect(server.url, { ...options, token: "reader" });
      assert.equal(reader.connected, true, "a valid token opens the socket");
      await reader.close();
    } finally {
      await server.close();
    }
  },
);

test("a browser's upgrade refused for a passing reason (503) is not taken as final", async () => {
  const server = await startTestServer({ limits: { wsConnectionsMax: 0 } });
  try {
    const options = { webSocket: browserSocket, transport: "websocket" as const };
    await assert.rejects(connect(server.url, options), (error: unknown) => {
      assert.ok(error instanceof ConnectionError, String(error));
      assert.equal(error.code, "DISCONNECTED");
      return true;
    });
  } finally {
    await server.close();
  }
});
