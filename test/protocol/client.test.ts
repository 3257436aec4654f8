/**
 * Goal: the RCP client (the CLI's transport) never leaves a request unanswered: a request
 * made after the connection closed is refused with CONNECTION_CLOSED.
 * Method: a real client against an in-process server on a real socket, which is then stopped.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:net";
import type { AddressInfo, Socket } from "node:net";
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

test("a connect whose TLS handshake gets no answer times out and frees the socket", async (t) => {
  const sockets: Socket[] = [];
  // Reads and drops what arrives (the ClientHello), so the client's close reaches it.
  const silent = createServer((socket) => void sockets.push(socket.resume()));
  await new Promise<void>((done) => silent.listen(0, "127.0.0.1", done));
  t.after(() => silent.close());
  const port = (silent.address() as AddressInfo).port;
  const connecting = RcpClient.connect({ host: "127.0.0.1", port, tls: {}, connectTimeoutMs: 100 });
  await assert.rejects(connecting, (error: unknown) => {
    assert.ok(error instanceof RcpClientError);
    assert.equal(error.code, "CONNECT_TIMEOUT");
    assert.equal(
      error.message,
      `could not connect to 127.0.0.1:${port} within 100 ms (TLS handshake included)`,
    );
    return true;
  });
  // The client closed its side: the server sees the socket end.
  assert.equal(sockets.length, 1);
  await new Promise((resolve) =>
    sockets[0]!.destroyed ? resolve(0) : sockets[0]!.on("close", resolve),
  );
  await assert.rejects(
    RcpClient.connect({ host: "127.0.0.1", port, connectTimeoutMs: 0 }),
    /connectTimeoutMs must be an integer from 1 to 2147483647, got 0/,
  );
});
