/**
 * Goal: live subscriptions over a real server deliver exactly the committed deltas in seq
 * order; they resume after a dropped connection and after a server restart with no gap and
 * no duplicate; and a consumer that stops reading is cut off (`end: lagged`) while writers
 * and other subscribers carry on at full speed.
 * Method: real server processes; the client reaches the server through a TCP proxy that can
 * cut every connection and be pointed at a restarted server (a new ephemeral port, the same
 * data directory). Writes go through a second client that bypasses the proxy.
 */
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-return --
   wire messages are untyped JSON here; each test asserts the shape it relies on. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { join } from "node:path";
import { rm } from "node:fs/promises";
import WebSocket from "ws";
import { connect } from "../../src/client/index.ts";
import type { Client, SubscriptionMessage } from "../../src/client/index.ts";
import { makeTempDir, startServer } from "../support/server-process.ts";
import type { ServerProcess } from "../support/server-process.ts";
import { startTcpProxy } from "../support/tcp-proxy.ts";

const schema =
  "create namespace app; " +
  "create table app::events { id: int8, note: utf8 } with { primary_key: { id } }";

async function writer(server: ServerProcess): Promise<Client> {
  const client = await connect(`http://127.0.0.1:${server.http.port}`);
  return client;
}

async function insert(client: Client, from: number, to: number): Promise<void> {
  for (let id = from; id <= to; id++) {
    await client.command("insert app::events [{ id: $id, note: $note }]", {
      id,
      note: `n${id}`,
    });
  }
}

/** Collects delivered messages until the insert of row `id` has arrived. */
function inserted(messages: SubscriptionMessage[]): number[] {
  return messages.flatMap((m) =>
    m.type === "delta" ? m.changes.filter((c) => c.op === "insert").map((c) => Number(c.key)) : [],
  );
}

async function until(predicate: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!predicate()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

test("deltas arrive exactly and in order across a dropped connection and a restart", async () => {
  const dir = await makeTempDir();
  const dataDir = join(dir, "data");
  let server = await startServer({ dataDir });
  const proxy = await startTcpProxy(server.http.port);
  let write = await writer(server);
  const reader = await connect(`http://127.0.0.1:${proxy.port}`, {
    reconnectDelayMs: 20,
    reconnectDelayMaxMs: 200,
  });
  try {
    await write.admin(schema);
    await insert(write, 1, 3);
    const messages: SubscriptionMessage[] = [];
    const subscription = reader.subscribe(
      { table: "app::events" },
      { onMessage: (m) => messages.push(m) },
    );
    await until(() => messages.length > 0, "the snapshot");
    assert.equal(messages[0]!.type, "snapshot");
    assert.deepEqual(
      (messages[0] as { rows: unknown[] }).rows.map((r: any) => r.id),
      [1, 2, 3],
    );
    await insert(write, 4, 10);
    await until(() => inserted(messages).includes(10), "deltas 4..10");

    proxy.dropConnections();
    await insert(write, 11, 20);
    await until(() => inserted(messages).includes(20), "deltas after the drop");

    assert.equal(await server.stop(), 0);
    await write.close();
    server = await startServer({ dataDir });
    proxy.setTarget(server.http.port);
    write = await writer(server);
    await insert(write, 21, 30);
    await until(() => inserted(messages).includes(30), "deltas after the restart");

    assert.deepEqual(
      inserted(messages),
      Array.from({ length: 7 + 10 + 10 }, (_, i) => i + 4),
      "every insert once, in order",
    );
    const seqs = messages.filter((m) => m.type === "delta").map((m) => m.seq);
    assert.deepEqual(
      seqs,
      [...seqs].sort((a, b) => a - b),
      "seq strictly increases",
    );
    assert.equal(new Set(seqs).size, seqs.length, "no seq twice");
    assert.equal(messages.filter((m) => m.type === "snapshot").length, 1, "resumed, no snapshot");
    subscription.close();
  } finally {
    await reader.close();
    await write.close();
    await proxy.close();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test("a consumer that stops reading is cut off; writers and others go on", async () => {
  const server = await startServer({
    args: ["--durability", "async"],
    env: {
      STATEBASE_WS_BUFFERED_SIZE_BYTES_MAX: "65536",
      STATEBASE_SUBSCRIPTION_PENDING_COMMITS_MAX: "100",
    },
  });
  const write = await writer(server);
  const healthy = await connect(`http://127.0.0.1:${server.http.port}`);
  const slow = new WebSocket(`ws://127.0.0.1:${server.http.port}/v1/ws`);
  try {
    await write.admin(schema);
    await once(slow, "open");
    const slowMessages: any[] = [];
    slow.on("message", (data) => slowMessages.push(JSON.parse((data as Buffer).toString())));
    const subscribe = (fromSeq?: number) =>
      slow.send(
        JSON.stringify({ id: "s", type: "subscribe", target: { table: "app::events" }, fromSeq }),
      );
    subscribe();
    await until(() => slowMessages.some((m) => m.type === "snapshot"), "the slow snapshot");
    (slow as any)._socket.pause(); // stops reading: the server's send buffer fills up

    const healthyMessages: SubscriptionMessage[] = [];
    healthy.subscribe({ table: "app::events" }, { onMessage: (m) => healthyMessages.push(m) });
    await until(() => healthyMessages.length > 0, "the healthy snapshot");
    const pad = "x".repeat(32_000);
    const total = 600;
    for (let start = 1; start <= total; start += 20) {
      // Twenty writers at a time, one commit (one delta) per row.
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          write.command("insert app::events [{ id: $id, note: $pad }]", { id: start + i, pad }),
        ),
      );
    }
    assert.deepEqual(
      (await write.query("from app::events aggregate { n: math::count(id) }")).frames,
      [[{ n: total }]],
      "every write committed while the slow consumer stalled",
    );
    await until(() => covered(healthyMessages).size === total, "every row, healthy reader");

    (slow as any)._socket.resume();
    await until(() => slowMessages.some((m) => m.type === "end"), "the lagged end");
    const end = slowMessages.find((m) => m.type === "end");
    assert.equal(end.reason, "lagged");
    const before = slowMessages.filter((m) => m.type === "delta");
    assert.ok(before.length < total, "cut off before the end");
    assert.deepEqual(
      before.map((m) => Number(m.changes[0].key)),
      Array.from({ length: before.length }, (_, i) => i + 1),
      "no gap before the cut",
    );
    // Resuming (again after each further cut) brings the rest: as deltas, or as a snapshot
    // when the server no longer holds the commits after the seq.
    let ends = 1;
    while (covered(slowMessages).size < total) {
      subscribe(slowMessages.filter((m) => m.type !== "end").at(-1).seq);
      await until(
        () => covered(slowMessages).size === total || countEnds(slowMessages) > ends,
        "the resumed rows",
      );
      ends = countEnds(slowMessages);
    }
  } finally {
    slow.terminate();
    await healthy.close();
    await write.close();
    await server.stop();
  }
});

function countEnds(messages: any[]): number {
  return messages.filter((m) => m.type === "end").length;
}

/** Ids of every row delivered, as inserts or in a snapshot. */
function covered(messages: any[]): Set<number> {
  const ids = new Set<number>();
  for (const m of messages) {
    if (m.type === "snapshot") for (const row of m.rows) ids.add(Number(row.id));
    if (m.type === "delta")
      for (const c of m.changes) if (c.op === "insert") ids.add(Number(c.key));
  }
  return ids;
}
