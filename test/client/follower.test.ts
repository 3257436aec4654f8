/**
 * Goal: a write sent over the WebSocket to a replicated follower, which refuses it with
 * NOT_WRITER (only its HTTP endpoint forwards writes to the writer, docs/scale-out.md), goes
 * again over HTTP and is forwarded there, so the client behaves the same on either transport.
 * Method: the client against the real listeners over a scripted database that refuses
 * writes with NOT_WRITER; HTTP goes through the client's `fetch` option, standing in for a
 * follower that forwards and relays the writer's answer.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { DbError } from "../../src/lib/errors.ts";
import { connect } from "../../src/client/index.ts";
import { startTestServer } from "../server/harness.ts";

const forwarded = { frames: [[{ inserted: 1 }]] };

test("a write a follower refused over the WebSocket goes again over HTTP", async () => {
  const server = await startTestServer();
  const posted: string[] = [];
  const forwardingFetch: typeof fetch = (url) => {
    posted.push(new URL(url instanceof Request ? url.url : url).pathname);
    const body = JSON.stringify(forwarded);
    const headers = { "content-type": "application/json" };
    return Promise.resolve(new Response(body, { status: 200, headers }));
  };
  const refusal = new DbError("NOT_WRITER", "this node follows and cannot write");
  server.db.answers.set("insert t", refusal);
  server.db.answers.set("from t", refusal);
  server.db.procedures.set("pay", () => {
    throw refusal;
  });
  const options = { fetch: forwardingFetch };
  const client = await connect(server.url, options);
  const strict = await connect(server.url, { ...options, transport: "websocket" });
  try {
    assert.equal(client.connected, true);
    assert.deepEqual(await client.command("insert t"), forwarded);
    assert.deepEqual(await client.admin("insert t"), forwarded);
    await client.call("pay", {});
    assert.deepEqual(posted, ["/v1/command", "/v1/admin", "/v1/call/pay"]);
    // A query never writes; with transport "websocket" nothing goes over HTTP.
    await assert.rejects(client.query("from t"), { code: "NOT_WRITER" });
    await assert.rejects(strict.command("insert t"), { code: "NOT_WRITER" });
    assert.equal(posted.length, 3);
  } finally {
    await client.close();
    await strict.close();
    await server.close();
  }
});
