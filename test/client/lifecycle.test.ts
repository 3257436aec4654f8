/**
 * Goal: closing the client ends everything it holds, even what was under way: a socket still
 * opening when close() is called must not open afterwards and keep pinging (which would also
 * keep a Node process alive).
 * Method: the client against the real listeners over a scripted database
 * (test/server/harness.ts).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Client, ConnectionError, StatebaseError } from "../../src/client/index.ts";
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

test("transport http: the socket for subscriptions closes with the last of them", async () => {
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

test("an onMessage callback that throws ends its subscription, not the client", async () => {
  // The throw escaped into the socket's message handler: an uncaught exception, and the
  // frames after it were never delivered, to any subscription.
  const server = await startTestServer();
  const client = new Client(server.url, {});
  try {
    await client.start();
    const bug = new Error("bug in the app's callback");
    let reported: unknown;
    const failing = client.subscribe(
      { table: "a" },
      {
        onMessage: (message) => {
          if (message.type === "delta") throw bug;
        },
        onError: (error) => (reported = error),
      },
    );
    const healthy = client.subscribe({ table: "b" });
    const failed = failing[Symbol.asyncIterator]();
    const fine = healthy[Symbol.asyncIterator]();
    assert.equal((await failed.next()).value?.type, "snapshot");
    assert.equal((await fine.next()).value?.type, "snapshot");
    server.db.publish([{ op: "insert", key: 1, row: { id: 1 } }]);
    server.db.publish([{ op: "insert", key: 2, row: { id: 2 } }]);
    await assert.rejects(failed.next(), (error: unknown) => {
      assert.ok(error instanceof StatebaseError, String(error));
      assert.equal(error.code, "CALLBACK_FAILED");
      assert.equal(error.cause, bug);
      return true;
    });
    assert.equal(reported instanceof StatebaseError && reported.code, "CALLBACK_FAILED");
    assert.equal((await fine.next()).value?.seq, 1);
    assert.equal((await fine.next()).value?.seq, 2);
    assert.equal(client.connected, true);
  } finally {
    await client.close();
    await server.close();
  }
});

test("an onError callback that throws still ends its subscription with the error", async () => {
  // The throw escaped into the socket's message handler (an uncaught exception) before the
  // subscription ended: its iterator waited forever and the failure was never seen.
  const server = await startTestServer();
  const client = new Client(server.url, {});
  const uncaught: unknown[] = [];
  const onUncaught = (error: unknown): void => void uncaught.push(error);
  process.prependListener("uncaughtException", onUncaught);
  try {
    await client.start();
    const bug = new Error("bug in the app's onError");
    const failing = client.subscribe(
      { table: "missing" },
      {
        onError: () => {
          throw bug;
        },
      },
    );
    const healthy = client.subscribe({ table: "b" });
    await assert.rejects(failing[Symbol.asyncIterator]().next(), (error: unknown) => {
      assert.ok(error instanceof StatebaseError, String(error));
      assert.equal(error.code, "CALLBACK_FAILED");
      assert.equal(error.cause, bug);
      const failure = error.details?.["error"];
      assert.ok(failure instanceof StatebaseError, String(failure));
      assert.equal(failure.code, "UNKNOWN_OBJECT");
      assert.match(error.message, /UNKNOWN_OBJECT/);
      return true;
    });
    const fine = healthy[Symbol.asyncIterator]();
    assert.equal((await fine.next()).value?.type, "snapshot");
    server.db.publish([{ op: "insert", key: 1, row: { id: 1 } }]);
    assert.equal((await fine.next()).value?.seq, 1);
    assert.deepEqual(uncaught, []);
  } finally {
    process.removeListener("uncaughtException", onUncaught);
    await client.close();
    await server.close();
  }
});
