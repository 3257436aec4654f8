/**
 * Goal: `statebase serve --help` documents everything serve reads: every flag, every key of
 * the config file and every environment variable, so an operator never has to read the code.
 * Method: run the real CLI (`node bin/statebase.js serve --help`) once and look in its output
 * for each key of the config schema (test/support/config-keys.ts), each variable of
 * configEnvironment and the variables serve itself reads.
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { configEnvironment } from "../../src/server/config.ts";
import { configKeyPaths } from "../support/config-keys.ts";

const root = resolve(import.meta.dirname, "../..");
let help = "";

before(() => {
  help = execFileSync(process.execPath, ["bin/statebase.js", "serve", "--help"], {
    cwd: root,
    encoding: "utf8",
  });
});

test("serve --help names every config key", () => {
  // A nested key is shown by its own name inside its section (`retention: {snapshotsKept, ...}`).
  const missing = configKeyPaths().filter(
    (path) => !new RegExp(`\\b${path.split(".").at(-1)!}\\b`).test(help),
  );
  assert.deepEqual(missing, []);
});

test("serve --help names every environment variable serve reads", () => {
  const source = readFileSync(resolve(root, "src/cli/commands/serve.ts"), "utf8");
  const read = [...source.matchAll(/process\.env\.(STATEBASE_\w+)/g)].map((m) => m[1]!);
  assert.ok(read.length > 0, "serve reads a variable of its own");
  const names = [...configEnvironment.map(([name]) => name), ...read];
  assert.deepEqual(
    names.filter((name) => !new RegExp(`\\b${name}\\b`).test(help)),
    [],
  );
});

test("serve --help names every flag of the DESIGN.md contract", () => {
  for (const flag of ["data", "rcp", "http", "durability", "module", "config", "replicate"]) {
    assert.match(help, new RegExp(`--${flag} <`));
  }
});
