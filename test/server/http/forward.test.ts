/**
 * Goal: a follower that cannot reach a writer answers NOT_WRITER (503) saying why, within a
 * bound, instead of hanging or failing with an internal error.
 * Method: forwardWrite with a writer that is unknown, one that advertises no address, one
 * whose address refuses connections (a port that was just closed), and writers that misbehave
 * on the wire: one that closes the connection without answering, one that answers bytes that
 * are not HTTP, and one that closes the connection halfway through its answer's body.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer as createHttpServer } from "node:http";
import { createServer } from "node:net";
import type { AddressInfo, Socket } from "node:net";
import { forwardWrite } from "../../../src/server/http/forward.ts";
import { ProtocolError } from "../../../src/server/wire-error.ts";
import { forwardedRequest as request, withRawWriter } from "../../support/forward-writers.ts";

async function refusedWith(
  writer: { node: string; http?: string } | undefined,
  pattern: RegExp,
): Promise<void> {
  await assert.rejects(forwardWrite({ self: "me", writer: () => writer }, request), (error) => {
    assert.ok(error instanceof ProtocolError, String(error));
    assert.equal(error.code, "NOT_WRITER");
    assert.equal(error.status, 503);
    assert.match(error.message, pattern);
    return true;
  });
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  return typeof address === "object" && address !== null ? address.port : 1;
}

test("no writer, no address, or an unreachable writer: NOT_WRITER with the reason", async () => {
  await refusedWith(undefined, /no writer is known/);
  await refusedWith({ node: "me", http: "http://127.0.0.1:1" }, /no writer is known/);
  await refusedWith({ node: "w" }, /writer w advertises no HTTP address/);
  const http = `http://127.0.0.1:${await closedPort()}`;
  await refusedWith({ node: "w", http }, /writer w at http:\/\/127\.0\.0\.1:\d+ did not answer/);
  // An address no request can be sent to (a lease written by hand, or by another version).
  for (const bad of ["ftp://writer:21", "http://wri ter:8090", "writer:8090"]) {
    await refusedWith({ node: "w", http: bad }, /writer w advertises .* not an http\(s\) URL/);
  }
  // Refused before the request left: the write cannot have been applied.
  await refusedWith({ node: "w", http }, /did not reach it: sending it again is safe/);
});

test("a request in absolute form is forwarded to the writer's own path", async () => {
  // The request's URL was appended to the writer's address as sent: `POST http://x/v1/command`
  // (which the router takes) became `http://writer:8090http://x/v1/command`, so a follower
  // sent it to a host the client's URL spelled, or failed.
  const paths: string[] = [];
  const writer = createHttpServer((incoming, response) => {
    paths.push(incoming.url ?? "");
    response.writeHead(200, { "content-type": "application/json" }).end('{"frames":[]}');
  });
  await new Promise<void>((resolve) => writer.listen(0, "127.0.0.1", resolve));
  const port = (writer.address() as AddressInfo).port;
  try {
    const absolute = { ...request, url: "http://elsewhere.example/v1/command?x=1" };
    const forwarding = {
      self: "me",
      writer: () => ({ node: "w", http: `http://127.0.0.1:${port}` }),
    };
    const answer = await forwardWrite(forwarding, absolute);
    assert.equal(answer.status, 200);
    assert.deepEqual(paths, ["/v1/command?x=1"]);
  } finally {
    writer.close();
  }
});

test("a writer that hangs up, answers no HTTP or cuts its answer: maybe applied", async () => {
  const misbehaviours: Array<[string, (socket: Socket) => void]> = [
    ["hangs up", (socket) => socket.once("data", () => socket.destroy())],
    ["answers no HTTP", (socket) => socket.once("data", () => socket.end("garbage\r\n\r\n"))],
    [
      "cuts its answer short",
      (socket) =>
        socket.once("data", () => {
          socket.write(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n" +
              '{"frames":',
          );
          setTimeout(() => socket.destroy(), 20);
        }),
    ],
  ];
  for (const [what, onSocket] of misbehaviours) {
    await withRawWriter(onSocket, (http) =>
      // It received the request: it may have applied the write, and the answer says so.
      refusedWith({ node: "w", http }, /did not answer.*: it may have applied the write/).catch(
        (error: unknown) => assert.fail(`a writer that ${what}: ${String(error)}`),
      ),
    );
  }
});
