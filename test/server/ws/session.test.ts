/**
 * Goal: the WebSocket protocol of docs/server.md at the protocol layer: requests answered by
 * id, errors that name the request, subscriptions that deliver a snapshot then deltas tagged
 * with sub and seq, resume from a seq without gap or duplicate, a slow reader cut off with
 * `end: lagged` while the writer never waits, and authentication on the upgrade.
 * Method: a raw `ws` client against the real listener over a scripted database (harness.ts).
 */
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-return --
   wire messages are untyped JSON here; each test asserts the shape it relies on. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import WebSocket from "ws";
import { hashToken } from "../../../src/server/auth.ts";
import { startTestServer } from "../harness.ts";
import type { TestServer } from "../harness.ts";

/** A raw client that collects every message and can wait for one matching a predicate. */
async function open(server: TestServer, query = "", headers: Record<string, string> = {}) {
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/v1/ws${query}`, { headers });
  const messages: any[] = [];
  const waiters: Array<() => void> = [];
  ws.on("message", (data) => {
    messages.push(JSON.parse((data as Buffer).toString()));
    for (const wake of waiters.splice(0)) wake();
  });
  await once(ws, "open");
  const waitFor = async (match: (m: any) => boolean): Promise<any> => {
    while (true) {
      const found = messages.find(match);
      if (found !== undefined) return found;
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  };
  const send = (message: object): void => ws.send(JSON.stringify(message));
  return { ws, messages, waitFor, send };
}

const row = (id: number, pad = 0) => ({ id, pad: "x".repeat(pad) });
const delta = (id: number, pad = 0) => [{ op: "insert" as const, key: id, row: row(id, pad) }];

test("requests are answered by id, in any order; errors name their request", async () => {
  const server = await startTestServer();
  const client = await open(server);
  try {
    server.db.answers.set("from t", { frames: [[{ n: 1n }]] });
    server.db.procedures.set("echo", (args) => args);
    client.send({ id: 1, type: "query", rql: "from t" });
    client.send({ id: "b", type: "call", procedure: "echo", args: { x: [1, 2] } });
    client.send({ id: 3, type: "command", rql: "frm" });
    client.send({ id: 4, type: "ping" });
    client.send({ id: 5, type: "frobnicate" });
    assert.deepEqual(await client.waitFor((m) => m.id === 1), {
      id: 1,
      type: "result",
      result: { frames: [[{ n: 1 }]] },
    });
    assert.deepEqual(await client.waitFor((m) => m.id === "b"), {
      id: "b",
      type: "result",
      result: { x: [1, 2] },
    });
    const parse = await client.waitFor((m) => m.id === 3);
    assert.equal(parse.type, "error");
    assert.equal(parse.error.code, "RQL_PARSE");
    assert.equal((await client.waitFor((m) => m.id === 4)).type, "pong");
    assert.equal((await client.waitFor((m) => m.id === 5)).error.code, "INVALID_ARGUMENT");
    client.ws.send("{not json");
    assert.equal((await client.waitFor((m) => m.id === null)).error.code, "INVALID_JSON");
    // A request with an id but no usable type is answered under its id, so a client's
    // pending request fails at once instead of waiting for its timeout.
    client.send({ id: 7 });
    client.send({ id: "c", type: 12 });
    assert.match((await client.waitFor((m) => m.id === 7)).error.message, /needs a type/);
    assert.equal((await client.waitFor((m) => m.id === "c")).error.code, "INVALID_ARGUMENT");
    client.send({ id: 6, type: "query", rql: "from t" });
    assert.equal((await client.waitFor((m) => m.id === 6)).type, "result", "still serving");
  } finally {
    client.ws.close();
    await server.close();
  }
});

test("a subscription delivers a snapshot, then every delta in seq order, tagged", async () => {
  const server = await startTestServer();
  const client = await open(server);
  try {
    server.db.rows.push(row(0));
    client.send({ id: "s", type: "subscribe", target: { table: "t" } });
    assert.deepEqual(await client.waitFor((m) => m.type === "subscribed"), {
      id: "s",
      type: "subscribed",
      sub: "s",
    });
    const snapshot = await client.waitFor((m) => m.type === "snapshot");
    assert.deepEqual(snapshot, { type: "snapshot", seq: 0, rows: [row(0)], sub: "s" });
    for (let id = 1; id <= 5; id++) server.db.publish(delta(id));
    await client.waitFor((m) => m.type === "delta" && m.seq === 5);
    const deltas = client.messages.filter((m) => m.type === "delta");
    assert.deepEqual(
      deltas.map((m) => [m.sub, m.seq, m.changes[0].key]),
      [1, 2, 3, 4, 5].map((n) => ["s", n, n]),
    );
    client.send({ id: 9, type: "unsubscribe", sub: "s" });
    assert.deepEqual(await client.waitFor((m) => m.type === "end"), {
      type: "end",
      sub: "s",
      seq: 5,
      reason: "closed",
    });
    client.send({ id: 10, type: "subscribe", target: { table: "missing" } });
    assert.equal((await client.waitFor((m) => m.id === 10)).error.code, "UNKNOWN_OBJECT");
    client.send({ id: 11, type: "subscribe", target: { nothing: 1 } });
    assert.equal((await client.waitFor((m) => m.id === 11)).error.code, "INVALID_ARGUMENT");
  } finally {
    client.ws.close();
    await server.close();
  }
});

test("resume from a seq on a new connection: no gap, no duplicate", async () => {
  const server = await startTestServer();
  try {
    const first = await open(server);
    first.send({ id: "s", type: "subscribe", target: { table: "t" } });
    await first.waitFor((m) => m.type === "snapshot");
    for (let id = 1; id <= 3; id++) server.db.publish(delta(id));
    await first.waitFor((m) => m.seq === 3);
    first.ws.terminate();
    for (let id = 4; id <= 6; id++) server.db.publish(delta(id));
    const second = await open(server);
    second.send({ id: "s", type: "subscribe", target: { table: "t" }, fromSeq: 3 });
    server.db.publish(delta(7));
    await second.waitFor((m) => m.seq === 7);
    const seqs = [...first.messages, ...second.messages]
      .filter((m) => m.type === "delta")
      .map((m) => m.seq);
    assert.deepEqual(seqs, [1, 2, 3, 4, 5, 6, 7]);
    assert.equal(second.messages.filter((m) => m.type === "snapshot").length, 0);
    second.ws.close();
  } finally {
    await server.close();
  }
});

test("a reader that stops reading is ended as lagged; the writer never waits", async () => {
  const server = await startTestServer({
    limits: { wsBufferedSizeBytesMax: 64 * 1024, subscriptionPendingCommitsMax: 300 },
  });
  const slow = await open(server);
  try {
    slow.send({ id: "s", type: "subscribe", target: { table: "t" } });
    await slow.waitFor((m) => m.type === "snapshot");
    // Stop reading: the kernel buffers fill, then the server's send buffer passes its bound,
    // forwarding pauses and the database subscription's queue (300 commits) fills.
    (slow.ws as any)._socket.pause();
    const total = 2_000;
    for (let id = 1; id <= total; id++) {
      server.db.publish(delta(id, 10_000));
      if (id % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal(server.db.seq, total, "every commit went through while the reader stalled");
    (slow.ws as any)._socket.resume();
    const end = await slow.waitFor((m) => m.type === "end");
    assert.equal(end.reason, "lagged");
    const seqs = slow.messages.filter((m) => m.type === "delta").map((m) => m.seq);
    assert.ok(end.seq < total, "cut off before the end");
    assert.deepEqual(
      seqs,
      Array.from({ length: end.seq }, (_, i) => i + 1),
      "no gap before",
    );
    slow.send({ id: "s", type: "subscribe", target: { table: "t" }, fromSeq: end.seq });
    await slow.waitFor((m) => m.type === "delta" && m.seq === total);
    const after = slow.messages.filter((m) => m.type === "delta").map((m) => m.seq);
    assert.deepEqual(
      after,
      Array.from({ length: total }, (_, i) => i + 1),
      "resumed exactly",
    );
  } finally {
    slow.ws.terminate();
    await server.close();
  }
});

test("the upgrade needs a valid token (header or ?token=); roles gate requests", async () => {
  const tokens = [
    { sha256: hashToken("reader"), role: "read" as const },
    { sha256: hashToken("writer"), role: "write" as const },
  ];
  const server = await startTestServer({ tokens });
  try {
    server.db.answers.set("from t", { frames: [] });
    for (const url of ["", "?token=wrong"]) {
      const ws = new WebSocket(`ws://127.0.0.1:${server.port}/v1/ws${url}`);
      ws.on("error", () => {}); // Closing a socket refused at the upgrade reports an error.
      const [, response] = (await once(ws, "unexpected-response")) as [unknown, any];
      assert.equal(response.statusCode, 401);
      ws.terminate();
    }
    const reader = await open(server, "?token=reader");
    reader.send({ id: 1, type: "query", rql: "from t" });
    reader.send({ id: 2, type: "command", rql: "from t" });
    assert.equal((await reader.waitFor((m) => m.id === 1)).type, "result");
    assert.equal((await reader.waitFor((m) => m.id === 2)).error.code, "FORBIDDEN");
    reader.ws.close();
    const writer = await open(server, "", { authorization: "Bearer writer" });
    writer.send({ id: 1, type: "command", rql: "from t" });
    assert.equal((await writer.waitFor((m) => m.id === 1)).type, "result");
    writer.ws.close();
  } finally {
    await server.close();
  }
});

test("params nested past a json value's depth are LIMIT_EXCEEDED, subscriptions too", async () => {
  const server = await startTestServer();
  const client = await open(server);
  try {
    const deep = `${"[".repeat(20_000)}${"]".repeat(20_000)}`;
    client.ws.send(`{"id": 1, "type": "query", "rql": "from t", "params": {"x": ${deep}}}`);
    client.ws.send(`{"id": 2, "type": "call", "procedure": "p", "args": [${deep}]}`);
    const target = `{"query": "from t", "params": {"x": ${deep}}}`;
    client.ws.send(`{"id": 3, "type": "subscribe", "target": ${target}}`);
    for (const id of [1, 2, 3]) {
      const answer = await client.waitFor((m) => m.id === id);
      assert.equal(answer.error?.code, "LIMIT_EXCEEDED", `request ${id}`);
      assert.match(answer.error.message, /nests deeper than 64/);
    }
    assert.deepEqual(server.faults, []);
  } finally {
    client.ws.close();
    await server.close();
  }
});
