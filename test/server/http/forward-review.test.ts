/**
 * Goal: try to break 03536b7 and bf0e258 (a failed forward says whether sending again is safe;
 * an address fetch cannot send to is refused as not sent) at the edges their tests left:
 * a writer that answers an error itself, a writer whose answer is large, a writer that answers
 * its headers and then stalls past the forward's time limit, and one that never answers.
 * Method: forwardWrite against real HTTP and TCP servers on 127.0.0.1.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { forwardTimeoutMs, forwardWrite } from "../../../src/server/http/forward.ts";
import { ProtocolError } from "../../../src/server/wire-error.ts";
import {
  forwardedRequest as request,
  forwardingTo,
  withRawWriter,
  withWriter,
} from "../../support/forward-writers.ts";

/** The forward fails as NOT_WRITER 503 saying the writer may have applied the write. */
async function maybeApplied(http: string): Promise<number> {
  const started = performance.now();
  await assert.rejects(forwardWrite(forwardingTo(http), request), (error) => {
    assert.ok(error instanceof ProtocolError, String(error));
    assert.equal(error.code, "NOT_WRITER");
    assert.equal(error.status, 503);
    assert.match(error.message, /did not answer.*: it may have applied the write/);
    return true;
  });
  return performance.now() - started;
}

test("a writer's own errors (500, 503 NOT_WRITER, 400) are relayed as they are", async () => {
  const answers: Array<[number, string]> = [
    [500, '{"error":{"code":"INTERNAL","message":"boom"}}'],
    [503, '{"error":{"code":"NOT_WRITER","message":"lost the lease"}}'],
    [400, '{"error":{"code":"INVALID_ARGUMENT","message":"bad"}}'],
  ];
  for (const [status, text] of answers) {
    await withWriter(
      (incoming, response) => {
        incoming.resume();
        incoming.on("end", () =>
          response.writeHead(status, { "content-type": "application/json" }).end(text),
        );
      },
      async (http) => {
        const answer = await forwardWrite(forwardingTo(http), request);
        assert.deepEqual(answer, { status, contentType: "application/json", body: text });
      },
    );
  }
});

test("a large answer (8 MB) is relayed whole, byte for byte", async () => {
  const text = JSON.stringify({ frames: [[{ blob: "x".repeat(8 * 1024 * 1024) }]] });
  await withWriter(
    (incoming, response) => {
      incoming.resume();
      response.writeHead(200, { "content-type": "application/json" }).end(text);
    },
    async (http) => {
      const answer = await forwardWrite(forwardingTo(http), request);
      assert.equal(answer.status, 200);
      assert.equal(answer.body.length, text.length);
      assert.ok(answer.body === text);
    },
  );
});

test("a forwarded request carries the body, the authorization and the forwarded mark", async () => {
  const seen: Array<{ url: string | undefined; headers: Record<string, unknown>; body: string }> =
    [];
  await withWriter(
    (incoming, response) => {
      let body = "";
      incoming.setEncoding("utf8");
      incoming.on("data", (chunk: string) => (body += chunk));
      incoming.on("end", () => {
        seen.push({ url: incoming.url, headers: incoming.headers, body });
        response.writeHead(200, { "content-type": "application/json" }).end("{}");
      });
    },
    async (http) => {
      await forwardWrite(forwardingTo(http), request);
    },
  );
  assert.equal(seen.length, 1);
  assert.equal(seen[0]!.url, "/v1/command");
  assert.equal(seen[0]!.headers["authorization"], "Bearer t");
  assert.equal(seen[0]!.headers["x-statebase-forwarded"], "me");
  assert.deepEqual(JSON.parse(seen[0]!.body), request.body);
});

test("a writer silent, or stalled after its headers, past the limit: maybe applied", async () => {
  // Both read the request; neither finishes an answer. The forward gives up at its limit
  // (forwardTimeoutMs), not before and not much after, and says the write may be applied.
  const silent = withRawWriter(
    (socket) => socket.resume(),
    async (http) => {
      const took = await maybeApplied(http);
      assert.ok(took >= forwardTimeoutMs - 50, `gave up after ${took} ms`);
      assert.ok(took < forwardTimeoutMs + 5_000, `gave up after ${took} ms`);
    },
  );
  const stalled = withRawWriter(
    (socket) =>
      socket.once("data", () =>
        socket.write(
          "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{",
        ),
      ),
    async (http) => {
      const took = await maybeApplied(http);
      assert.ok(took >= forwardTimeoutMs - 50, `gave up after ${took} ms`);
    },
  );
  await Promise.all([silent, stalled]);
});
