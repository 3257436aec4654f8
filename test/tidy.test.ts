/**
 * Goal: keep the code base tidy by rule, not by review (modelled on TigerBeetle's tidy.zig).
 * Method: read every source file and check the house rules of STYLE.md: module headers, the
 * import direction between modules, banned calls outside their home files, line width,
 * function length, and that src never imports the test-only simulator.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative, dirname, resolve } from "node:path";
import ts from "typescript";

const root = resolve(import.meta.dirname, "..");

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(root, dir))) {
    const path = join(dir, name);
    if (statSync(join(root, path)).isDirectory()) out.push(...filesUnder(path));
    else if (name.endsWith(".ts")) out.push(path);
  }
  return out.sort();
}

const srcFiles = filesUnder("src");
const testFiles = filesUnder("test");
const read = (path: string): string => readFileSync(join(root, path), "utf8");

/** The module a src file belongs to: its first folder, or the file itself at the top. */
function moduleOf(path: string): string {
  const parts = relative("src", path).split("/");
  return parts.length === 1 ? parts[0]!.replace(/\.ts$/, "") : parts[0]!;
}

/** Which modules each module may import (STYLE.md, "Import direction"). */
const allowedImports: Record<string, readonly string[]> = {
  lib: [],
  storage: ["lib"],
  protocol: ["lib"],
  values: ["lib"],
  engine: ["lib"],
  expr: ["lib", "values"],
  primitives: ["engine", "values", "lib"],
  rql: ["primitives", "engine", "expr", "values", "lib", "types"],
  machines: ["primitives", "engine", "expr", "values", "lib", "types"],
  views: ["rql", "primitives", "engine", "expr", "values", "lib", "types"],
  log: ["engine", "storage", "values", "lib"],
  replication: ["log", "engine", "storage", "values", "lib", "types"],
  testing: ["*"],
  types: ["lib", "engine", "primitives", "values", "durability", "protocol"],
  database: ["*"],
  "create-options": ["lib", "types"],
  durability: ["log", "storage", "engine", "lib"],
  index: ["*"],
  server: ["database", "types", "protocol", "replication", "lib"],
  client: ["protocol", "lib"],
  cli: ["client", "server", "protocol", "database", "types", "lib", "log", "storage", "durability"],
};

test("every src file starts with a @module comment", () => {
  for (const file of srcFiles) {
    assert.match(read(file), /^\/\*\*\s*(\n\s*\*\s*)?@module /, `${file} lacks a @module header`);
  }
});

test("modules import only downward (STYLE.md import direction)", () => {
  const importPattern = /^(?:import|export)[^;]*?from\s+"(\.[^"]+)"/gms;
  for (const file of srcFiles) {
    const from = moduleOf(file);
    const allowed = allowedImports[from];
    assert.ok(allowed, `${file}: module "${from}" has no row in the import table`);
    for (const match of read(file).matchAll(importPattern)) {
      const target = resolve(root, dirname(file), match[1]!);
      const to = moduleOf(relative(root, target));
      if (to === from || allowed.includes("*")) continue;
      assert.ok(allowed.includes(to), `${file} imports ${match[1]} (${from} -> ${to})`);
    }
  }
});

test("src never imports the test-only simulator", () => {
  for (const file of srcFiles) {
    if (moduleOf(file) === "testing") continue;
    assert.doesNotMatch(read(file), /from\s+"[^"]*testing\//, `${file} imports src/testing`);
  }
});

test("banned calls stay in their home files", () => {
  const rules: Array<[RegExp, (file: string) => boolean, string]> = [
    [/\bDate\.now\(/, (f) => f === "src/lib/clock.ts", "Date.now( outside lib/clock.ts"],
    [/\bMath\.random\(/, (f) => f === "src/lib/prng.ts", "Math.random( outside lib/prng.ts"],
    [/\bconsole\./, (f) => f.startsWith("src/cli/"), "console. outside src/cli"],
    [/\bprocess\.exit\(/, (f) => f.startsWith("src/cli/"), "process.exit( outside src/cli"],
    [/\beval\(|new Function\(/, () => false, "eval or new Function"],
  ];
  for (const file of srcFiles) {
    const text = read(file);
    for (const [pattern, allowedIn, what] of rules) {
      if (!allowedIn(file)) assert.doesNotMatch(text, pattern, `${file}: ${what}`);
    }
  }
});

test("no FIXME or @ts-ignore anywhere", () => {
  for (const file of [...srcFiles, ...testFiles]) {
    if (file === "test/tidy.test.ts") continue;
    assert.doesNotMatch(read(file), /FIXME|@ts-ignore/, file);
  }
});

test("lines are at most 100 columns", () => {
  // Every long line at once: naming only the first left each author to find the rest.
  const long: string[] = [];
  for (const file of [...srcFiles, ...testFiles]) {
    read(file)
      .split("\n")
      .forEach((line, index) => {
        if (line.length > 100) long.push(`${file}:${index + 1} is ${line.length} columns`);
      });
  }
  assert.deepEqual(long, []);
});

/** Functions longer than this many lines fail; STYLE.md asks for at most 70. */
const functionLinesMax = 70;

test(`functions in src are at most ${functionLinesMax} lines`, () => {
  for (const file of srcFiles) {
    const source = ts.createSourceFile(file, read(file), ts.ScriptTarget.Latest, true);
    const visit = (node: ts.Node): void => {
      if (ts.isFunctionLike(node) && "body" in node && node.body !== undefined) {
        const start = source.getLineAndCharacterOfPosition(node.getStart()).line;
        const end = source.getLineAndCharacterOfPosition(node.getEnd()).line;
        const name = node.name?.getText() ?? "(anonymous)";
        assert.ok(
          end - start + 1 <= functionLinesMax,
          `${file}:${start + 1} ${name} is ${end - start + 1} lines`,
        );
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
});
