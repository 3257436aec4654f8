/**
 * Goal: closing the client ends everything it holds, even what was under way: a socket still
 * opening when close() is called must not open afterwards and keep pinging (which would also
 * keep a Node process alive).
 * Method: the client against the real listeners over a scripted database
 * (test/server/harness.ts).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Client, ConnectionError } from "../../src/client/index.ts";
import { startTestServer } from "../server/harness.ts";

test("close() while the socket is still opening leaves no socket behind", async () => {
  const server = await startTestServer();
  try {
    const client = new Client(server.url, {});
    const started = client.start();
    await client.close();
    await started;
    assert.equal(client.connected, false, "no socket opened after close()");
  } finally {
    await server.close();
  }
});

test("close() fails requests in flight over HTTP too, at once", async () => {
  // They went on until their timeout (30 s by default) or the server's answer.
  const server = await startTestServer();
  try {
    server.db.answers.set("from slow", "hang");
    const client = new Client(server.url, { transport: "http" });
    await client.start();
    const pending = client.query("from slow");
    while (server.db.received.length === 0) await new Promise((r) => setTimeout(r, 5));
    await client.close();
    await assert.rejects(pending, (error: unknown) => {
      assert.ok(error instanceof ConnectionError, String(error));
      assert.equal(error.code, "DISCONNECTED");
      assert.match(error.message, /closed/);
      return true;
    });
  } finally {
    await server.close();
  }
});

test("transport http: the socket opened for subscriptions closes with the last of them", async () => {
  // It stayed open, idle and pinged, for the client's life.
  const server = await startTestServer();
  const client = new Client(server.url, { transport: "http" });
  try {
    await client.start();
    assert.equal(client.connected, false, "no socket before a subscription");
    for (const target of ["a", "b"]) {
      const subscription = client.subscribe({ table: target });
      const iterator = subscription[Symbol.asyncIterator]();
      assert.equal((await iterator.next()).value?.type, "snapshot");
      assert.equal(client.connected, true);
      subscription.close();
      assert.equal(client.connected, false, `closed with the last subscription (${target})`);
    }
  } finally {
    await client.close();
    await server.close();
  }
});
