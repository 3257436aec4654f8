/**
 * Goal: the WebSocket endpoint lets go of clients that vanished without closing their
 * connection (power loss, a NAT that forgot the flow): such a socket would otherwise hold a
 * session, its subscriptions and a place under wsConnectionsMax for good. A live client,
 * whose WebSocket answers pings by itself, is never cut off.
 * Method: the real gateway on a real HTTP listener over the scripted database (harness.ts)
 * with a short ping interval; one `ws` client with automatic pongs off plays the dead peer.
 */
import { test } from "node:test";
import type { TestContext } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocket } from "ws";
import type { Database } from "../../../src/types.ts";
import { createServerMetrics } from "../../../src/server/metrics.ts";
import { createWebSocketGateway } from "../../../src/server/ws/index.ts";
import { FakeDatabase, testServerLimits } from "../harness.ts";

const limits = { ...testServerLimits, wsConnectionsMax: 1, httpConnectionsMax: 100 };

/** The gateway over a FakeDatabase on an ephemeral port, pinging every 100 ms; its URL. */
async function startGateway(t: TestContext): Promise<string> {
  const db = new FakeDatabase() as unknown as Database;
  const gateway = createWebSocketGateway({
    context: { db, procedureRoles: new Map() },
    metrics: createServerMetrics(db, undefined),
    tokens: [],
    limits,
    origins: { allowed: [], loopbackOnly: true },
    fault: (error) => assert.fail(String(error)),
    pingIntervalMs: 100,
  });
  const http = createServer();
  http.on("upgrade", (request, socket, head) => gateway.handleUpgrade(request, socket, head));
  http.listen(0, "127.0.0.1");
  await once(http, "listening");
  t.after(async () => {
    await gateway.close();
    http.close();
  });
  return `ws://127.0.0.1:${(http.address() as AddressInfo).port}/v1/ws`;
}

test(
  "a client that stops answering pings is cut off and frees its place",
  { timeout: 10_000 },
  async (t) => {
    const url = await startGateway(t);
    const live = new WebSocket(url);
    await once(live, "open");
    // Several intervals pass: a client that answers pings stays.
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(live.readyState, WebSocket.OPEN);
    live.close();
    await once(live, "close");
    const dead = new WebSocket(url, { autoPong: false });
    await once(dead, "open");
    const started = performance.now();
    await once(dead, "close");
    assert.ok(performance.now() - started < 2_000, "cut off within a few intervals");
    // Its place under wsConnectionsMax (1) is free again.
    const next = new WebSocket(url);
    await once(next, "open");
    next.close();
    await once(next, "close");
  },
);

test(
  "a client that does not answer pings but keeps sending messages is not cut off",
  { timeout: 10_000 },
  async (t) => {
    const url = await startGateway(t);
    const talker = new WebSocket(url, { autoPong: false });
    await once(talker, "open");
    let answers = 0;
    talker.on("message", () => answers++);
    // Eight intervals, a message every half interval: each counts as heard.
    for (let i = 0; i < 16; i++) {
      talker.send(JSON.stringify({ id: i, type: "ping" }));
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(talker.readyState, WebSocket.OPEN);
    assert.ok(answers > 0);
    talker.close();
    await once(talker, "close");
  },
);
