/**
 * Goal: the RCP client (the CLI's transport) never leaves a request unanswered: a request
 * made after the connection closed is refused with CONNECTION_CLOSED.
 * Method: a real client against an in-process server on a real socket, which is then stopped.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { RcpClient, RcpClientError } from "../../src/protocol/index.ts";
import { startTestRcp } from "../support/rcp-server.ts";

test("a request after the server closed the connection is refused, not left hanging", async () => {
  const own = await startTestRcp();
  const client = await RcpClient.connect({ host: "127.0.0.1", port: own.port });
  assert.deepEqual(await client.request("PING"), { pong: true });
  await own.stop();
  await client.closed;
  const answer = await Promise.race([
    client.request("PING").then(
      () => "answered",
      (error: unknown) => (error instanceof RcpClientError ? error.code : String(error)),
    ),
    new Promise((resolve) => setTimeout(resolve, 2_000, "no answer")),
  ]);
  assert.equal(answer, "CONNECTION_CLOSED");
});
