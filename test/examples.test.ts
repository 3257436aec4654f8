/**
 * Goal: the README's embedded example works exactly as documented.
 * Method: run examples/embedded.ts in a fresh Node process (as `npm run example` does) and
 * compare its output with the lines the README shows.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");

test("examples/embedded.ts prints what the README promises", () => {
  const output = execFileSync(process.execPath, ["--import", "tsx", "examples/embedded.ts"], {
    cwd: root,
    encoding: "utf8",
  });
  const readme = readFileSync(resolve(root, "README.md"), "utf8");
  const shown = /```text\n([\s\S]*?)```/.exec(readme);
  assert.ok(shown, "README.md shows the example's output in a ```text block");
  assert.equal(output, shown[1]);
  assert.match(output, /^balances: ada=70 bob=80$/m);
  assert.match(output, /^refused: TXN_ABORTED$/m);
});

test("the README shows examples/embedded.ts verbatim", () => {
  const readme = readFileSync(resolve(root, "README.md"), "utf8");
  const example = readFileSync(resolve(root, "examples/embedded.ts"), "utf8");
  assert.ok(readme.includes("```ts\n" + example + "```"), "README's example differs from the file");
});

test("examples/tour.ts runs and the README shows it verbatim", () => {
  const output = execFileSync(process.execPath, ["--import", "tsx", "examples/tour.ts"], {
    cwd: root,
    encoding: "utf8",
  });
  assert.match(output, /^tour ok: \d+ commits$/m);
  const readme = readFileSync(resolve(root, "README.md"), "utf8");
  const tour = readFileSync(resolve(root, "examples/tour.ts"), "utf8");
  assert.ok(readme.includes("```ts\n" + tour + "```"), "README's tour differs from the file");
});

test("examples/durable.ts runs and the README shows it verbatim", () => {
  const output = execFileSync(process.execPath, ["--import", "tsx", "examples/durable.ts"], {
    cwd: root,
    encoding: "utf8",
  });
  assert.match(output, /^durable ok$/m);
  const readme = readFileSync(resolve(root, "README.md"), "utf8");
  const example = readFileSync(resolve(root, "examples/durable.ts"), "utf8");
  assert.ok(readme.includes("```ts\n" + example + "```"), "README's durable example differs");
});

test("examples/rql.ts runs and the README shows it verbatim", () => {
  const output = execFileSync(process.execPath, ["--import", "tsx", "examples/rql.ts"], {
    cwd: root,
    encoding: "utf8",
  });
  assert.match(output, /^ada's orders: \[\{"id":1,"total":150\},\{"id":3,"total":20\}\]$/m);
  assert.match(output, /"customer":"ada","n":1,"total":20\}/);
  const readme = readFileSync(resolve(root, "README.md"), "utf8");
  const example = readFileSync(resolve(root, "examples/rql.ts"), "utf8");
  assert.ok(readme.includes("```ts\n" + example + "```"), "README's RQL example differs");
});

test("the README names what `npm test` needs besides Node, as .ci/run provides it", () => {
  const readme = readFileSync(resolve(root, "README.md"), "utf8");
  const section = /## Tests and checks\n([\s\S]*?)\n## /.exec(readme)?.[1];
  assert.ok(section, "README.md has a Tests and checks section");
  const ci = readFileSync(resolve(root, ".ci/run"), "utf8");
  const installed = [...ci.matchAll(/apt-get install -y -qq ([\w-]+)/g)].map((m) => m[1]!);
  assert.ok(installed.length > 0, ".ci/run installs the services the tests need");
  for (const name of [...installed, "NATS_URL", "JetStream"]) {
    assert.ok(section.includes(name), `the README's test section names ${name}`);
  }
});

test("every example imports the package as a user's code would, never ../src", () => {
  const dir = resolve(root, "examples");
  for (const name of readdirSync(dir).filter((file) => file.endsWith(".ts"))) {
    const text = readFileSync(resolve(dir, name), "utf8");
    const sources = [...text.matchAll(/^import .* from "([^"]+)";$/gm)].map((m) => m[1]!);
    const internal = sources.filter((from) => from.startsWith("."));
    assert.deepEqual(internal, [], `${name} imports the package's files by path`);
    assert.ok(sources.includes("statebase"), `${name} imports "statebase"`);
  }
});

test("docs' TypeScript samples import the package's exports, or say they need a checkout", () => {
  const exported = new Set(["statebase", "statebase/client"]);
  const docs = readdirSync(resolve(root, "docs")).filter((file) => file.endsWith(".md"));
  for (const name of [...docs.map((file) => `docs/${file}`), "README.md"]) {
    const page = readFileSync(resolve(root, name), "utf8");
    for (const block of page.matchAll(/([^\n]*)\n\n```ts\n([\s\S]*?)```/g)) {
      const sources = [...block[2]!.matchAll(/^import .* from "([^"]+)";$/gm)].map((m) => m[1]!);
      const inner = sources.filter((from) => !exported.has(from) && !from.startsWith("node:"));
      if (inner.length === 0) continue;
      assert.match(block[1]!, /checkout/, `${name}: a sample imports ${inner.join(", ")}`);
    }
  }
});

test("npm run docs:sync copies an edited example into README.md and docs/machines.md", () => {
  const copy = mkdtempSync(join(tmpdir(), "statebase-sync-"));
  try {
    for (const dir of ["docs", "examples"])
      cpSync(resolve(root, dir), join(copy, dir), { recursive: true });
    cpSync(resolve(root, "README.md"), join(copy, "README.md"));
    for (const name of ["embedded.ts", "machines.ts"]) {
      const path = join(copy, "examples", name);
      writeFileSync(path, `${readFileSync(path, "utf8")}// edited\n`);
    }
    execFileSync(process.execPath, ["--import", "tsx", "scripts/sync-readme.ts", copy], {
      cwd: root,
      encoding: "utf8",
    });
    for (const [page, name] of [
      ["README.md", "embedded.ts"],
      ["docs/machines.md", "machines.ts"],
    ]) {
      const example = readFileSync(join(copy, "examples", name!), "utf8");
      const text = readFileSync(join(copy, page!), "utf8");
      assert.ok(text.includes("```ts\n" + example + "```"), `${page} shows the edited ${name}`);
    }
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
});
