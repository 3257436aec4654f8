/**
 * Goal: the tools' read-only scan of the log (scanLog: verify, inspect, wal, repair) says how
 * far it is within a large segment, not only at each segment's end: one 64 MiB segment (the
 * default size) kept `statebase verify` silent until it was read whole.
 * Method: records written through the real WAL onto the in-memory storage, in one segment of
 * several MiB; the progress reports of a scan are collected.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { WAL, listSegments, scanLog, zeroHash } from "../../src/log/index.ts";
import { scanProgressIntervalBytes } from "../../src/log/inspect.ts";
import { createMemoryStorage } from "../../src/storage/index.ts";

test("scanLog reports progress within a segment, every interval of log read", async () => {
  const storage = createMemoryStorage();
  const tail = {
    segment: undefined,
    segmentFirstSeq: 1,
    offset: 0,
    lastSeq: 0,
    lastHash: zeroHash,
  };
  const segmentSizeBytes = 8 * scanProgressIntervalBytes;
  const wal = new WAL({ storage, tail, segmentSizeBytes, windowMs: 5 });
  const recordCount = Math.ceil((4 * scanProgressIntervalBytes) / 1000);
  for (let seq = 1; seq <= recordCount; seq++) {
    const after = { id: seq, note: "n".repeat(1000) };
    const change = { object: "t::rows", kind: "insert", key: seq, before: undefined, after };
    wal.append({ seq, ts: seq, origin: { kind: "test" }, changes: [change] }, "window");
  }
  await wal.flush();
  await wal.close();
  assert.equal((await listSegments(storage)).length, 1);
  const reports: Array<[number, number]> = [];
  const scan = await scanLog(storage, {
    onProgress: (done, total) => void reports.push([done, total]),
  });
  assert.equal(scan.recordCount, recordCount);
  assert.ok(reports.length >= 4, JSON.stringify(reports));
  const dones = reports.map(([done]) => done);
  assert.deepEqual(
    dones,
    [...dones].sort((a, b) => a - b),
    "progress never goes back",
  );
  assert.deepEqual(reports.at(-1), [segmentSizeBytes, segmentSizeBytes]);
});
