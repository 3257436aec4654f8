// Goal: show that `statebase serve` refuses what would hurt a running server, with a message
// an operator can act on: a second server on a data directory in use exits with an error
// naming the holder's pid while the first keeps serving, a server killed with SIGKILL leaves
// nothing behind that keeps its restart out, and a listener address in use names the
// listener and the flag that changes it. Method: real server processes (test/support).
import { test } from "node:test";
import assert from "node:assert/strict";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { makeTempDir, startServer } from "../support/server-process.ts";

async function healthy(port: number): Promise<boolean> {
  const response = await fetch(`http://127.0.0.1:${port}/healthz`);
  return response.ok;
}

test("a second server on a data directory in use is refused; a SIGKILLed one is not", async (t) => {
  const root = await makeTempDir();
  t.after(() => rm(root, { recursive: true, force: true }));
  const dataDir = join(root, "data");
  const first = await startServer({ dataDir });
  const pid = first.process.pid!;
  await assert.rejects(startServer({ dataDir }), (error: unknown) => {
    const text = String(error);
    return text.includes("code 1") && text.includes(`is in use by process ${pid}`);
  });
  assert.ok(await healthy(first.http.port), "the first server keeps serving");
  await first.kill("SIGKILL");
  const restarted = await startServer({ dataDir });
  assert.ok(await healthy(restarted.http.port));
  assert.equal(await restarted.stop(), 0);
});

test("a listener address in use names the listener and the flag", async (t) => {
  const first = await startServer();
  t.after(() => first.stop());
  const taken = `127.0.0.1:${first.rcp.port}`;
  await assert.rejects(startServer({ args: ["--rcp", taken] }), (error: unknown) => {
    const text = String(error);
    return (
      text.includes("code 1") &&
      text.includes(`cannot listen for rcp on ${taken}: another process listens there`) &&
      text.includes("--rcp HOST:PORT")
    );
  });
});
