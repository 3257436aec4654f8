/**
 * Goal: the `statebase serve` contract of DESIGN.md holds: every flag is accepted (a feature
 * not built yet fails with a clear message, never an unknown-flag error), the process prints
 * one `ready` line with the bound addresses, and SIGTERM shuts it down with exit code 0.
 * Method: real server processes through test/support/server-process.ts on ephemeral ports.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { writeFile, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { makeTempDir, startServer } from "../support/server-process.ts";

const root = resolve(import.meta.dirname, "..", "..");

test("serve with --data --rcp --http --durability --config prints one ready line", async () => {
  const dir = await makeTempDir();
  const configPath = join(dir, "statebase.yaml");
  await writeFile(configPath, "timerTickMs: 50\nretention:\n  snapshotsKept: 3\n");
  const server = await startServer({
    dataDir: join(dir, "data"),
    args: ["--durability", "async", "--config", configPath],
  });
  try {
    assert.match(
      server.readyLine,
      /^statebase ready rcp=\S+ http=127\.0\.0\.1:\d+ data=\S+ durability=async$/,
    );
    assert.ok(server.http.port > 0, "the bound port, not 0, is printed");
    const health = await fetch(`http://127.0.0.1:${server.http.port}/healthz`);
    assert.equal(health.status, 200);
    assert.equal(
      server
        .output()
        .split("\n")
        .filter((l) => l.includes("ready")).length,
      1,
    );
  } finally {
    assert.equal(await server.stop(), 0, "SIGTERM exits with code 0");
    await rm(dir, { recursive: true, force: true });
  }
});

test("SIGINT shuts down cleanly too, and memory durability needs no data directory", async () => {
  const server = await startServer({ args: ["--durability", "memory"] });
  assert.match(server.readyLine, /data=none durability=memory/);
  const { code } = await server.kill("SIGINT");
  assert.equal(code, 0);
  await server.stop();
});

test("--replicate and --module are accepted flags, never unknown options", () => {
  for (const args of [
    ["--replicate", "nats://127.0.0.1:1"],
    ["--module", "./no-such-module.js"],
  ]) {
    const run = spawnSync(
      process.execPath,
      ["bin/statebase.js", "serve", "--durability", "memory", "--rcp", "off", ...args],
      { cwd: root, encoding: "utf8", timeout: 20_000, input: "" },
    );
    // Both fail here (no NATS on port 1, no such module), each with a message naming why.
    assert.notEqual(run.status, 0);
    assert.doesNotMatch(run.stderr, /unknown option/);
    assert.match(run.stderr, /replicat|module|NATS/i, run.stderr);
  }
});

test("a failure on the server thread ends the process with its message and exit code", async () => {
  // Port 0 would pick a free port: take one and hold it, so that listening on it fails.
  const held = createServer();
  await new Promise<void>((done) => held.listen(0, "127.0.0.1", done));
  const port = (held.address() as AddressInfo).port;
  try {
    for (const thread of ["worker", "main"]) {
      const run = spawnSync(
        process.execPath,
        ["bin/statebase.js", "serve", "--durability", "memory", "--rcp", `127.0.0.1:${port}`],
        {
          cwd: root,
          encoding: "utf8",
          timeout: 20_000,
          env: { ...process.env, STATEBASE_SERVE_THREAD: thread },
        },
      );
      assert.equal(run.status, 1, `${thread}: ${run.stderr}`);
      const message = `cannot listen for rcp on 127\\.0\\.0\\.1:${port}: .*\\(EADDRINUSE\\)`;
      assert.match(run.stderr, new RegExp(message));
      assert.doesNotMatch(run.stdout, /ready/);
    }
  } finally {
    held.close();
  }
});

test("STATEBASE_SERVE_THREAD=main serves on the main thread, and stops on SIGTERM", async () => {
  const server = await startServer({
    args: ["--durability", "memory"],
    env: { STATEBASE_SERVE_THREAD: "main" },
  });
  const health = await fetch(`http://127.0.0.1:${server.http.port}/healthz`);
  assert.equal(health.status, 200);
  assert.equal(await server.stop(), 0);
});

test("a bad config value is refused naming the key and where it came from", () => {
  const run = spawnSync(
    process.execPath,
    ["bin/statebase.js", "serve", "--durability", "memory", "--http", "localhost"],
    { cwd: root, encoding: "utf8", timeout: 20_000, env: { ...process.env } },
  );
  assert.equal(run.status, 2);
  assert.match(run.stderr, /config key http \(from flag --http\): must be HOST:PORT/);
});

test("serve --help documents every config key and environment variable", () => {
  const run = spawnSync(process.execPath, ["bin/statebase.js", "serve", "--help"], {
    cwd: root,
    encoding: "utf8",
  });
  assert.equal(run.status, 0);
  for (const flag of ["--data", "--rcp", "--http", "--durability", "--module", "--config"]) {
    assert.match(run.stdout, new RegExp(flag));
  }
  assert.match(run.stdout, /--replicate/);
  for (const name of ["STATEBASE_TOKENS", "STATEBASE_TLS_CERT", "STATEBASE_SNAPSHOTS_KEPT"]) {
    assert.match(run.stdout, new RegExp(name));
  }
});
