/**
 * Goal: `statebase serve` told to stop (SIGTERM) while it recovers a large log stops then,
 * not once the whole log has been replayed: exit code 0, no ready line, a line saying the
 * recovery was stopped and the data directory is unchanged; a later open recovers every
 * commit. Before, the signal waited for the end of the recovery (about 40 s for 140 MB).
 * Method: a data directory with a log of a few seconds' recovery, written in this process;
 * a real server process on it (worker thread and main thread), whose procedure module marks
 * the moment the start reaches open(); SIGTERM then. The module loads just before open().
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { rm, stat, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { open } from "../../src/index.ts";
import { eventually } from "../support/nats.ts";
import { makeTempDir } from "../support/server-process.ts";

/** Rows in the log: its recovery takes seconds, far longer than a signal takes to arrive. */
const rowCount = 150_000;
const rowsPerCommit = 100;

async function writeLog(path: string): Promise<void> {
  const db = await open({ path, durability: "async", snapshotLogBytes: 0 });
  db.createNamespace("app");
  const items = db.createTable("app::items", {
    columns: { id: "int8", v: "utf8" },
    primaryKey: "id",
  });
  for (let first = 0; first < rowCount; first += rowsPerCommit) {
    db.transact(() => {
      for (let id = first; id < first + rowsPerCommit; id++) items.insert({ id, v: `v${id}` });
    });
    if (first % (100 * rowsPerCommit) === 0) await db.writable();
  }
  await db.close();
}

/** Starts `serve` on `data`, SIGTERMs it as its start reaches open(); its exit and output. */
async function serveAndStop(root: string, data: string, thread: string) {
  const marker = join(root, `opening-${thread}`);
  const module = join(root, `mark-${thread}.mjs`);
  await writeFile(
    module,
    `import { writeFileSync } from "node:fs";\n` +
      `writeFileSync(${JSON.stringify(marker)}, "");\n` +
      `export const procedures = {};\n`,
  );
  const bin = resolve(import.meta.dirname, "../../bin/statebase.js");
  const args = [bin, "serve", "--data", data, "--module", module, "--rcp", "127.0.0.1:0"];
  const child = spawn(process.execPath, [...args, "--http", "off"], {
    env: { ...process.env, STATEBASE_SERVE_THREAD: thread === "main" ? "main" : "" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((done) => child.once("exit", done));
  const marked = (): Promise<boolean> =>
    stat(marker).then(
      () => true,
      () => false,
    );
  await eventually(marked, "the start reaching open()", 30_000);
  child.kill("SIGTERM");
  return { code: await exited, output };
}

test("SIGTERM while serve recovers a large log stops the recovery; nothing lost", async (t) => {
  const root = await makeTempDir();
  t.after(() => rm(root, { recursive: true, force: true }));
  const data = join(root, "data");
  await writeLog(data);
  for (const thread of ["worker", "main"]) {
    const { code, output } = await serveAndStop(root, data, thread);
    assert.equal(code, 0, output);
    assert.match(output, /stopped during recovery: .*the data directory is unchanged/, output);
    assert.match(output, /SIGTERM: shutting down/);
    assert.doesNotMatch(output, /ready/);
  }
  const db = await open({ path: data, onMessage: () => undefined });
  t.after(() => db.close());
  assert.equal(db.table("app::items").size, rowCount);
  assert.equal(db.seq, 2 + rowCount / rowsPerCommit);
});
