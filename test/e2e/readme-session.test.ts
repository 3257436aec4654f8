/**
 * Goal: the README's server session works exactly as shown.
 * Method: start a real `statebase serve`, read the README's ```sh block under
 * `<!-- session: server -->`, run each command in a shell (with `npx statebase` pointed at
 * this checkout and the default ports replaced by the test server's), and check the answers
 * the README promises.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { startServer } from "../support/server-process.ts";

const root = resolve(import.meta.dirname, "../..");

/** The session's commands: continuation lines joined, comments dropped. */
function readmeSession(): string[] {
  const readme = readFileSync(resolve(root, "README.md"), "utf8");
  const block = /<!-- session: server -->\n\n```sh\n([\s\S]*?)```/.exec(readme);
  assert.ok(block, "README.md has the server session block");
  const commands: string[] = [];
  let pending = "";
  for (const line of block[1]!.split("\n")) {
    if (line.startsWith("#") || line.trim() === "") continue;
    pending += pending === "" ? line : `\n${line}`;
    // A command ends where its quotes are balanced and it is not continued with `\`.
    const quotes = (pending.match(/'/g) ?? []).length;
    if (quotes % 2 === 0 && !pending.endsWith("\\")) {
      commands.push(pending);
      pending = "";
    }
  }
  assert.equal(pending, "", "the session's last command is complete");
  return commands;
}

test("the README's server session runs against a real server", async () => {
  const server = await startServer();
  try {
    const http = `${server.http.host}:${server.http.port}`;
    const rcp = `${server.rcp.host}:${server.rcp.port}`;
    const outputs = readmeSession().map((command) => {
      const local = command
        .replaceAll("127.0.0.1:8090", http)
        .replace(/^npx statebase (query|call) /, `npx statebase $1 --http ${http} `)
        .replace(/^npx statebase ([a-z-]+) /, (all, name: string) =>
          ["query", "call"].includes(name) ? all : `npx statebase ${name} -s ${rcp} `,
        );
      return execFileSync("bash", ["-c", local], { cwd: root, encoding: "utf8" });
    });
    const curl = outputs.find((out) => out.startsWith("{"));
    assert.deepEqual(JSON.parse(curl ?? "null"), {
      frames: [[{ id: 1, customer: "ada", total: 150 }]],
    });
    assert.match(outputs.at(-1)!, /^o-1\s+paid$/m);
  } finally {
    await server.stop();
  }
});
