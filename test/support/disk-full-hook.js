// Loaded into a server process with `--import` (test/server/serve.test.ts): once the file
// named by STATEBASE_TEST_DISK_FULL exists, every file write fails with ENOSPC, as it does on
// a full disk. Both ways the log writes are covered: `fs.writeSync` (small group commits,
// written in the calling thread) and FileHandle writes (large ones, snapshots).
import fs from "node:fs";
import process from "node:process";
import { syncBuiltinESMExports } from "node:module";

const trigger = process.env.STATEBASE_TEST_DISK_FULL;
const full = () => trigger !== undefined && fs.existsSync(trigger);

function noSpace() {
  const error = new Error("ENOSPC: no space left on device, write");
  return Object.assign(error, { code: "ENOSPC", errno: -28, syscall: "write" });
}

const writeSync = fs.writeSync;
fs.writeSync = function (...args) {
  if (full()) throw noSpace();
  return writeSync.apply(this, args);
};
syncBuiltinESMExports(); // `import { writeSync } from "node:fs"` sees the wrapper too

const probe = await fs.promises.open(process.execPath, "r");
const fileHandle = Object.getPrototypeOf(probe);
await probe.close();
const write = fileHandle.write;
fileHandle.write = async function (...args) {
  if (full()) throw noSpace();
  return write.apply(this, args);
};
