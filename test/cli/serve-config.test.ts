/**
 * Goal: `statebase serve` refuses a configuration it cannot run with at once, naming the key
 * and where its value came from, with exit code 2 (a usage error), before it listens.
 * Method: run the real CLI with a module path that does not exist, given by flag and by
 * environment variable, and read its exit code and stderr.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";

const root = resolve(import.meta.dirname, "../..");

function serve(args: string[], env: Record<string, string> = {}) {
  const flags = ["--durability", "memory", "--rcp", "127.0.0.1:0", "--http", "off", ...args];
  return spawnSync(process.execPath, ["bin/statebase.js", "serve", ...flags], {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, ...env },
    // A server that starts instead of refusing is stopped, and the test then fails.
    timeout: 60_000,
  });
}

test("a module or TLS file that cannot be read is refused naming its key and source", () => {
  const byFlag = serve(["--module", "no-such-module.js"]);
  assert.equal(byFlag.status, 2);
  assert.match(byFlag.stderr, /config key module \(from flag --module\): cannot read/);
  const pem = resolve(root, "no-such.pem");
  const byEnv = serve([], { STATEBASE_TLS_CERT: pem, STATEBASE_TLS_KEY: pem });
  assert.equal(byEnv.status, 2);
  assert.match(
    byEnv.stderr,
    /config key tls\.cert \(from environment variable STATEBASE_TLS_CERT\): cannot read/,
  );
  assert.doesNotMatch(byFlag.stdout + byEnv.stdout, /ready/);
});

test("STATEBASE_SERVE_THREAD other than main or worker is refused, not ignored", () => {
  const run = serve([], { STATEBASE_SERVE_THREAD: "Main" });
  assert.equal(run.status, 2);
  assert.match(run.stderr, /STATEBASE_SERVE_THREAD must be main or worker .*got "Main"/);
});
