/**
 * Goal: closing the client ends everything it holds, even what was under way: a socket still
 * opening when close() is called must not open afterwards and keep pinging (which would also
 * keep a Node process alive).
 * Method: the client against the real listeners over a scripted database
 * (test/server/harness.ts).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Client } from "../../src/client/index.ts";
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
