/**
 * Goal: a follower forwards a write to exactly the writer's advertised address plus the
 * request's path, never follows a redirect with it, and says "sending it again is safe" for
 * every address fetch refuses before sending (found by the review of 03536b7/bf0e258).
 * Method: forwardWrite against real HTTP servers on 127.0.0.1 that record what reached them.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { IncomingMessage, ServerResponse } from "node:http";
import { forwardWrite } from "../../../src/server/http/forward.ts";
import {
  forwardedRequest as request,
  forwardingTo,
  withWriter,
} from "../../support/forward-writers.ts";

/** A writer's handler recording "METHOD url" into `seen`, answering `status` with `headers`. */
function recording(seen: string[], status = 200, headers: Record<string, string> = {}) {
  return (incoming: IncomingMessage, response: ServerResponse): void => {
    seen.push(`${incoming.method} ${incoming.url}`);
    incoming.resume();
    response.writeHead(status, { "content-type": "application/json", ...headers }).end("{}");
  };
}

test("the request's path follows the address's own path, one slash between", async () => {
  for (const [suffix, expected] of [
    ["", "POST /v1/command"],
    ["/", "POST /v1/command"],
    ["/statebase/", "POST /statebase/v1/command"],
  ] as const) {
    const seen: string[] = [];
    await withWriter(recording(seen), async (http) => {
      const answer = await forwardWrite(forwardingTo(`${http}${suffix}`), request);
      assert.equal(answer.status, 200);
    });
    assert.deepEqual(seen, [expected], `suffix ${JSON.stringify(suffix)}`);
  }
});

test("an address with a query, a fragment or credentials is refused, not sent", async () => {
  const seen: string[] = [];
  await withWriter(recording(seen), async (http) => {
    const port = new URL(http).port;
    for (const address of [`${http}?a=1`, `${http}#f`, `http://user:pass@127.0.0.1:${port}`]) {
      await assert.rejects(forwardWrite(forwardingTo(address), request), (error: Error) => {
        assert.match(error.message, /sending it again is safe/, address);
        assert.doesNotMatch(error.message, /pass/, "the password is not told to the client");
        return true;
      });
    }
  });
  assert.deepEqual(seen, [], "nothing reached the writer");
});

test("a port fetch blocks before connecting is said to be not sent", async () => {
  await assert.rejects(forwardWrite(forwardingTo("http://127.0.0.1:6000"), request), {
    message: /bad port.*sending it again is safe/,
  });
});

test("a writer's redirect is not followed with the write: NOT_WRITER, may be applied", async () => {
  for (const status of [301, 302, 303, 307, 308]) {
    const elsewhere: string[] = [];
    await withWriter(recording(elsewhere), async (other) => {
      const location = `${other}/v1/command`;
      await withWriter(recording([], status, { location }), async (http) => {
        await assert.rejects(
          forwardWrite(forwardingTo(http), request),
          (error: Error & { code?: string }) => {
            assert.equal(error.code, "NOT_WRITER");
            assert.match(error.message, new RegExp(`redirect \\(${status}\\)`));
            assert.match(error.message, /may have applied the write/);
            return true;
          },
        );
      });
    });
    assert.deepEqual(elsewhere, [], `${status}: the write went on to the redirect's location`);
  }
});
