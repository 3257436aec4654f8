/**
 * Goal: the connection flags' environment variables read as rstmdb-cli's do, and a value
 * that says neither yes nor no is a usage error instead of a silent plain connection.
 * Method: connectRcp against a plain in-process server with RSTMDB_TLS in the environment
 * passed to it; an unreadable value fails before any connection is made.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { connectRcp } from "../../src/cli/commands/rcp-connection.ts";
import { UsageError } from "../../src/cli/output.ts";
import { startTestRcp } from "../support/rcp-server.ts";
import type { TestRcp } from "../support/rcp-server.ts";

let rcp: TestRcp;

before(async () => {
  rcp = await startTestRcp();
});

after(async () => {
  await rcp.stop();
});

test("RSTMDB_TLS: yes-like values mean TLS, no-like plain, anything else is refused", async () => {
  const flags = { server: `127.0.0.1:${rcp.port}` };
  for (const value of ["", "0", "false", "FALSE", "no", "off"]) {
    const client = await connectRcp(flags, { RSTMDB_TLS: value });
    assert.deepEqual(await client.request("PING", {}), { pong: true }, `RSTMDB_TLS=${value}`);
    await client.close();
  }
  for (const value of ["1", "true", "TRUE", "yes", "on"]) {
    // A TLS handshake with a plain server fails: proof that TLS was asked for.
    await assert.rejects(connectRcp(flags, { RSTMDB_TLS: value }), {
      code: "ERR_SSL_WRONG_VERSION_NUMBER",
    });
  }
  for (const value of ["maybe", "2"]) {
    await assert.rejects(connectRcp(flags, { RSTMDB_TLS: value }), (error: unknown) => {
      assert.ok(error instanceof UsageError);
      assert.equal(error.message, `RSTMDB_TLS must be true or false (or 1, 0), got "${value}"`);
      return true;
    });
  }
});
