/**
 * Goal: the TypeScript client keeps its promises: requests over WebSocket and over HTTP with
 * typed errors carrying the server's code, request timeouts, subscriptions as async
 * iterators and callbacks, automatic reconnect and resume after a dropped connection and
 * after a `lagged` cut-off, with no gap and no duplicate.
 * Method: the client against the real HTTP/WebSocket listeners over a scripted database
 * (test/server/harness.ts); connections are cut at the TCP level to force reconnects.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer as createHttpServer } from "node:http";
import { connect as connectTcp, createServer } from "node:net";
import type { AddressInfo, Socket } from "node:net";
import {
  AccessError,
  ConnectionError,
  InvalidInputError,
  LimitExceededError,
  NotFoundError,
  ServerError,
  TimeoutError,
  connect,
} from "../../src/client/index.ts";
import type { SubscriptionMessage } from "../../src/client/index.ts";
import { hashToken } from "../../src/server/auth.ts";
import { startTestServer } from "../server/harness.ts";

const delta = (id: number) => [{ op: "insert" as const, key: id, row: { id } }];

/** Whether the delta of commit `seq` is among `messages`. */
const reached = (seq: number) => (messages: SubscriptionMessage[]) =>
  messages.some((m) => m.type === "delta" && m.seq === seq);

/** Reads messages from an iterator until `done` says stop. */
async function collect(
  iterator: AsyncIterator<SubscriptionMessage>,
  done: (messages: SubscriptionMessage[]) => boolean,
): Promise<SubscriptionMessage[]> {
  const messages: SubscriptionMessage[] = [];
  while (!done(messages)) {
    const next = await iterator.next();
    if (next.done === true) break;
    messages.push(next.value);
  }
  return messages;
}

for (const transport of ["websocket", "http"] as const) {
  test(`requests over ${transport}: results and typed errors with codes`, async () => {
    const server = await startTestServer();
    const client = await connect(server.url, { transport });
    try {
      assert.equal(client.connected, transport === "websocket");
      server.db.answers.set("from t", { frames: [[{ id: 1, big: 2n ** 60n }]] });
      server.db.procedures.set("double", (args) => (args as { n: number }).n * 2);
      assert.deepEqual(await client.query("from t"), {
        frames: [[{ id: 1, big: (2n ** 60n).toString() }]],
      });
      assert.deepEqual(await client.command("from t", [1]), await client.admin("from t"));
      assert.equal(await client.call("double", { n: 21 }), 42);
      await assert.rejects(client.query("nonsense"), (error: unknown) => {
        assert.ok(error instanceof InvalidInputError);
        assert.equal(error.code, "RQL_PARSE");
        assert.deepEqual(error.details, { line: 1 });
        return true;
      });
      await assert.rejects(client.call("missing"), (error: unknown) => {
        assert.ok(error instanceof NotFoundError);
        assert.equal(error.code, "UNKNOWN_PROCEDURE");
        return true;
      });
    } finally {
      await client.close();
      await server.close();
    }
  });
}

test("wide integers and bytes in params travel as the server reads them", async () => {
  // JSON has no bigint: JSON.stringify threw, and over HTTP that read "cannot reach".
  const server = await startTestServer();
  try {
    server.db.answers.set("from t", { frames: [] });
    for (const transport of ["websocket", "http"] as const) {
      const client = await connect(server.url, { transport });
      const params = { wide: 2n ** 60n, small: 7n, bytes: new Uint8Array([0, 104, 255]) };
      await client.query("from t", params);
      assert.deepEqual(server.db.received.at(-1)?.params, {
        wide: (2n ** 60n).toString(),
        small: 7,
        bytes: "0x0068ff",
      });
      const cyclic: Record<string, unknown> = {};
      cyclic["self"] = cyclic;
      await assert.rejects(client.query("from t", cyclic), InvalidInputError);
      await client.close();
    }
  } finally {
    await server.close();
  }
});

test("a request without an answer fails with TimeoutError; closing fails the rest", async () => {
  const server = await startTestServer();
  const client = await connect(server.url, { requestTimeoutMs: 100 });
  try {
    server.db.answers.set("slow", "hang");
    await assert.rejects(client.query("slow"), TimeoutError);
    const http = await connect(server.url, { transport: "http", requestTimeoutMs: 100 });
    await assert.rejects(http.query("slow"), TimeoutError);
    await http.close();
    const pending = client.query("slow");
    await client.close();
    await assert.rejects(pending, ConnectionError);
  } finally {
    await server.close();
  }
});

test("requests in flight time out each at its own deadline, answered ones never", async () => {
  // One timer serves every request over the socket: each must still fail timeoutMs after it
  // was sent (not sooner, not with the one sent before it), and answered ones never fail.
  const server = await startTestServer();
  const timeoutMs = 300;
  const client = await connect(server.url, { transport: "websocket", requestTimeoutMs: timeoutMs });
  try {
    server.db.answers.set("slow", "hang");
    server.db.answers.set("from t", { frames: [] });
    // How long each request waited for its TimeoutError, from just before it was sent.
    const waited = async (request: () => Promise<unknown>): Promise<number> => {
      const sentAt = performance.now();
      await assert.rejects(request(), TimeoutError);
      return performance.now() - sentAt;
    };
    const first = waited(() => client.query("slow"));
    await new Promise((resolve) => setTimeout(resolve, 150));
    const second = waited(() => client.query("slow"));
    for (let round = 0; round < 5; round++) await client.query("from t");
    const [firstMs, secondMs] = await Promise.all([first, second]);
    assert.ok(firstMs >= timeoutMs - 1, `the first failed after ${firstMs} ms`);
    assert.ok(secondMs >= timeoutMs - 1, `the second failed after ${secondMs} ms`);
    assert.deepEqual(await client.query("from t"), { frames: [] }, "the socket still serves");
  } finally {
    await client.close();
    await server.close();
  }
});

test("a request past the server's message limit fails as LIMIT_EXCEEDED, saying so", async () => {
  const server = await startTestServer({ limits: { wsMessageSizeBytesMax: 1024 } });
  const client = await connect(server.url, { transport: "websocket" });
  try {
    // The server closes the socket with 1009; the request fails as what it is.
    await assert.rejects(client.query("from t", { big: "x".repeat(4096) }), (error: Error) => {
      assert.ok(error instanceof LimitExceededError, String(error));
      assert.match(error.message, /larger than its limits\.wsMessageSizeBytesMax/);
      return true;
    });
  } finally {
    await client.close();
    await server.close();
  }
});

test("a server that never answers the upgrade fails connect within the timeout", async () => {
  // A stuck server, or another service on the port, accepts the connection and stays silent.
  const sockets: Socket[] = [];
  const silent = createServer((socket) => void sockets.push(socket));
  silent.listen(0, "127.0.0.1");
  await once(silent, "listening");
  const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
  try {
    const options = { requestTimeoutMs: 200 };
    await assert.rejects(connect(url, { ...options, transport: "websocket" }), ConnectionError);
    const fallback = await connect(url, options);
    assert.equal(fallback.connected, false, "auto goes on over HTTP");
    await assert.rejects(fallback.query("from t"), TimeoutError);
    await fallback.close();
  } finally {
    for (const socket of sockets) socket.destroy();
    silent.close();
  }
});

test("tokens travel on both transports; a refused token is an AccessError", async () => {
  const server = await startTestServer({
    tokens: [{ sha256: hashToken("reader"), role: "read" }],
  });
  try {
    server.db.answers.set("from t", { frames: [] });
    for (const transport of ["websocket", "http"] as const) {
      const reader = await connect(server.url, { token: "reader", transport });
      assert.deepEqual(await reader.query("from t"), { frames: [] });
      await assert.rejects(reader.command("from t"), (error: unknown) => {
        return error instanceof AccessError && error.code === "FORBIDDEN";
      });
      await reader.close();
    }
    await assert.rejects(connect(server.url, { token: "bad", transport: "websocket" }));
    const fallback = await connect(server.url, { token: "bad" });
    assert.equal(fallback.connected, false, "auto falls back to HTTP");
    await assert.rejects(fallback.query("from t"), (error: unknown) => {
      return error instanceof AccessError && error.code === "UNAUTHORIZED";
    });
    await fallback.close();
  } finally {
    await server.close();
  }
});

test("a subscription resumes after dropped connections with no gap or duplicate", async () => {
  const server = await startTestServer();
  const client = await connect(server.url, { reconnectDelayMs: 10 });
  try {
    const seen: SubscriptionMessage[] = [];
    const subscription = client.subscribe({ table: "t" }, { onMessage: (m) => seen.push(m) });
    const iterator = subscription[Symbol.asyncIterator]();
    const first = await collect(iterator, (m) => m.length === 1);
    assert.equal(first[0]!.type, "snapshot");
    let published = 0;
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 5; i++) server.db.publish(delta(++published));
      await collect(iterator, reached(published));
      server.db.publish(delta(++published)); // may or may not reach the client before the cut
      server.dropConnections();
      for (let i = 0; i < 3; i++) server.db.publish(delta(++published));
    }
    await collect(iterator, reached(published));
    const seqs = seen.filter((m) => m.type === "delta").map((m) => m.seq);
    assert.deepEqual(
      seqs,
      Array.from({ length: published }, (_, i) => i + 1),
    );
    assert.equal(seen.filter((m) => m.type === "snapshot").length, 1, "resumes, no new snapshot");
    subscription.close();
    const rest = await collect(iterator, () => false);
    assert.ok(
      rest.every((m) => m.type === "delta"),
      "only what had arrived, then the end",
    );
  } finally {
    await client.close();
    await server.close();
  }
});

test("after a lagged cut-off the client resumes on its own", async () => {
  const server = await startTestServer({ limits: { subscriptionPendingCommitsMax: 2 } });
  const client = await connect(server.url);
  try {
    const subscription = client.subscribe({ table: "t" });
    const iterator = subscription[Symbol.asyncIterator]();
    await collect(iterator, (m) => m.length === 1);
    // Three commits at once overflow the database subscription's queue of two.
    for (let id = 1; id <= 6; id++) server.db.publish(delta(id));
    const messages = await collect(iterator, reached(6));
    const end = messages.find((m) => m.type === "end");
    assert.deepEqual(end && { type: end.type, reason: (end as { reason: string }).reason }, {
      type: "end",
      reason: "lagged",
    });
    const seqs = messages.filter((m) => m.type === "delta").map((m) => m.seq);
    assert.deepEqual(seqs, [1, 2, 3, 4, 5, 6]);
  } finally {
    await client.close();
    await server.close();
  }
});

test("a subscription to something missing fails the iterator with the server's error", async () => {
  const server = await startTestServer();
  const client = await connect(server.url);
  try {
    let reported: unknown;
    const subscription = client.subscribe(
      { table: "missing" },
      { onError: (error) => (reported = error) },
    );
    await assert.rejects(subscription[Symbol.asyncIterator]().next(), NotFoundError);
    assert.ok(reported instanceof NotFoundError);
  } finally {
    await client.close();
    await server.close();
  }
});

test(
  "transport http: subscriptions survive a dropped connection; requests use HTTP",
  { timeout: 10_000 },
  async () => {
    // The client never reconnected with transport "http": the subscription went silent for good.
    const server = await startTestServer();
    const client = await connect(server.url, { transport: "http", reconnectDelayMs: 10 });
    try {
      server.db.answers.set("from t", { frames: [] });
      const subscription = client.subscribe({ table: "t" });
      const iterator = subscription[Symbol.asyncIterator]();
      await collect(iterator, (m) => m.length === 1);
      server.db.publish(delta(1));
      await collect(iterator, reached(1));
      server.dropConnections();
      server.db.publish(delta(2));
      const messages = await collect(iterator, reached(2));
      assert.deepEqual(
        messages.map((m) => m.seq),
        [2],
      );
      await client.query("from t");
      const metrics = await server.metrics.registry.metrics();
      assert.match(
        metrics,
        /statebase_requests_total\{protocol="http",op="query",outcome="ok"\} 1/,
      );
      assert.doesNotMatch(metrics, /protocol="ws",op="query"/);
    } finally {
      await client.close();
      await server.close();
    }
  },
);

test(
  "a refused WebSocket upgrade fails connect and subscriptions with a typed error",
  {
    timeout: 10_000,
  },
  async () => {
    // A refused token left a subscription retrying forever in silence, and connect said only
    // "cannot open a WebSocket".
    const server = await startTestServer({
      tokens: [{ sha256: hashToken("reader"), role: "read" }],
    });
    const isUnauthorized = (error: unknown) =>
      error instanceof AccessError && error.code === "UNAUTHORIZED" && error.status === 401;
    try {
      await assert.rejects(
        connect(server.url, { token: "bad", transport: "websocket" }),
        isUnauthorized,
      );
      const client = await connect(server.url, { token: "bad", reconnectDelayMs: 10 });
      let reported: unknown;
      const subscription = client.subscribe({ table: "t" }, { onError: (e) => (reported = e) });
      await assert.rejects(subscription[Symbol.asyncIterator]().next(), isUnauthorized);
      assert.ok(isUnauthorized(reported));
      await client.close();
    } finally {
      await server.close();
    }
  },
);

test("over HTTP, an answer that is not the server's says what came instead", async () => {
  // Each of these read "unknown server error": a proxy's 502 page, a body that stops coming.
  const server = createHttpServer((request, response) => {
    if (request.url === "/v1/query") {
      response.writeHead(502, { "content-type": "text/html" }).end("<html>Bad Gateway</html>");
    } else if (request.url === "/v1/admin") {
      response.writeHead(200, { "content-type": "text/plain" }).end("hello");
    } else response.writeHead(200, { "content-type": "application/json" }).write('{"frames":');
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = await connect(url, { transport: "http", requestTimeoutMs: 2_000 });
  try {
    await assert.rejects(client.query("from t"), (error: unknown) => {
      assert.ok(error instanceof ConnectionError, String(error));
      assert.equal(error.status, 502);
      assert.match(error.message, /HTTP 502, not a Statebase answer \(text\/html\)/);
      return true;
    });
    await assert.rejects(client.admin("from t"), (error: unknown) => {
      assert.ok(error instanceof ServerError, String(error));
      assert.match(error.message, /HTTP 200, not a Statebase answer \(text\/plain\)/);
      return true;
    });
    await assert.rejects(client.command("from t"), TimeoutError);
  } finally {
    await client.close();
    server.closeAllConnections();
    server.close();
  }
});

test(
  "a connection that goes silent (no close, no data) is noticed; the subscription resumes",
  {
    timeout: 15_000,
  },
  async () => {
    // A peer that vanishes without a FIN (power loss, a NAT that forgot the flow) left the
    // subscription waiting forever: nothing ever told the client the socket was dead.
    const server = await startTestServer();
    const frozen = new Set<Socket>();
    const proxy = createServer((inbound) => {
      const outbound = connectTcp(server.port, "127.0.0.1");
      inbound.on("data", (chunk: Buffer) => {
        if (!frozen.has(inbound)) outbound.write(chunk);
      });
      outbound.on("data", (chunk: Buffer) => {
        if (!frozen.has(inbound)) inbound.write(chunk);
      });
      for (const [a, b] of [
        [inbound, outbound],
        [outbound, inbound],
      ] as const) {
        a.on("error", () => b.destroy());
        a.on("close", () => b.destroy());
      }
      proxySockets.add(inbound);
    });
    const proxySockets = new Set<Socket>();
    proxy.listen(0, "127.0.0.1");
    await once(proxy, "listening");
    const url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    const client = await connect(url, { pingIntervalMs: 200, reconnectDelayMs: 10 });
    try {
      const subscription = client.subscribe({ table: "t" });
      const iterator = subscription[Symbol.asyncIterator]();
      await collect(iterator, (m) => m.length === 1);
      for (const socket of proxySockets) frozen.add(socket);
      server.db.publish(delta(1));
      const messages = await collect(iterator, reached(1));
      assert.deepEqual(
        messages.map((m) => m.seq),
        [1],
      );
    } finally {
      await client.close();
      for (const socket of proxySockets) socket.destroy();
      proxy.close();
      await server.close();
    }
  },
);
