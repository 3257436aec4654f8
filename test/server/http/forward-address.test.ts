/**
 * Goal: a follower forwards a write to exactly the writer's advertised address plus the
 * request's path, never follows a redirect with it, and says "sending it again is safe" for
 * every address fetch refuses before sending (found by the review of 03536b7/bf0e258).
 * Method: forwardWrite against real HTTP servers on 127.0.0.1 that record what reached them.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer as createHttpServer } from "node:http";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { FastifyRequest } from "fastify";
import { forwardWrite } from "../../../src/server/http/forward.ts";

const request = {
  headers: { authorization: "Bearer t" },
  url: "/v1/command",
  body: { rql: "insert x::y [{ k: 1 }]" },
} as unknown as FastifyRequest;

/** A writer recording "METHOD url" of each request, answering `status` with `headers`. */
async function recorder(
  seen: string[],
  status = 200,
  headers: Record<string, string> = {},
): Promise<{ server: Server; port: number }> {
  const server = createHttpServer((incoming, response) => {
    seen.push(`${incoming.method} ${incoming.url}`);
    incoming.resume();
    response.writeHead(status, { "content-type": "application/json", ...headers }).end("{}");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

const forwardingTo = (http: string) => ({ self: "me", writer: () => ({ node: "w", http }) });

test("the request's path follows the address's own path, one slash between", async () => {
  for (const [suffix, expected] of [
    ["", "POST /v1/command"],
    ["/", "POST /v1/command"],
    ["/statebase/", "POST /statebase/v1/command"],
  ] as const) {
    const seen: string[] = [];
    const { server, port } = await recorder(seen);
    try {
      const answer = await forwardWrite(forwardingTo(`http://127.0.0.1:${port}${suffix}`), request);
      assert.equal(answer.status, 200);
      assert.deepEqual(seen, [expected], `suffix ${JSON.stringify(suffix)}`);
    } finally {
      server.close();
    }
  }
});

test("an address with a query, a fragment or credentials is refused, not sent", async () => {
  const seen: string[] = [];
  const { server, port } = await recorder(seen);
  try {
    for (const http of [
      `http://127.0.0.1:${port}?a=1`,
      `http://127.0.0.1:${port}#f`,
      `http://user:pass@127.0.0.1:${port}`,
    ]) {
      await assert.rejects(forwardWrite(forwardingTo(http), request), (error: Error) => {
        assert.match(error.message, /sending it again is safe/, http);
        assert.doesNotMatch(error.message, /pass/, "the password is not told to the client");
        return true;
      });
    }
    assert.deepEqual(seen, [], "nothing reached the writer");
  } finally {
    server.close();
  }
});

test("a port fetch blocks before connecting is said to be not sent", async () => {
  await assert.rejects(forwardWrite(forwardingTo("http://127.0.0.1:6000"), request), {
    message: /bad port.*sending it again is safe/,
  });
});

test("a writer's redirect is not followed with the write: NOT_WRITER, may be applied", async () => {
  for (const status of [301, 302, 303, 307, 308]) {
    const elsewhere: string[] = [];
    const other = await recorder(elsewhere);
    const location = `http://127.0.0.1:${other.port}/v1/command`;
    const writer = await recorder([], status, { location });
    try {
      await assert.rejects(
        forwardWrite(forwardingTo(`http://127.0.0.1:${writer.port}`), request),
        (error: Error & { code?: string; status?: number }) => {
          assert.equal(error.code, "NOT_WRITER");
          assert.match(error.message, new RegExp(`redirect \\(${status}\\)`));
          assert.match(error.message, /may have applied the write/);
          return true;
        },
      );
      assert.deepEqual(elsewhere, [], `${status}: the write went on to ${location}`);
    } finally {
      writer.server.close();
      other.server.close();
    }
  }
});
