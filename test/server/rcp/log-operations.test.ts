/**
 * Goal: WAL_STATS reports what the log holds, not what its preallocated segments take on
 * disk: `total_size_bytes` is the bytes of the segments' headers and records (what rstmdb,
 * whose segments are not preallocated, reports as the size of its files).
 * Method: a server on a data directory with small segments, written across several of them
 * and restarted in between (so some segments were closed by recovery, some by this process);
 * the answer is compared with the log tool's own scan of the files.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { open } from "../../../src/database.ts";
import { scanLog } from "../../../src/log/index.ts";
import { startRcpServer } from "../../../src/server/rcp/index.ts";
import { createNodeStorage } from "../../../src/storage/index.ts";
import { orderMachine } from "../../support/rcp-server.ts";
import { WireClient } from "../../support/rcp-wire.ts";

const segmentSizeBytes = 4096;

async function usedBytesOnDisk(dir: string): Promise<number> {
  const scan = await scanLog(await createNodeStorage(join(dir, "wal")));
  return scan.segments.reduce((sum, segment) => sum + segment.usedBytes, 0);
}

async function writeAndStat(dir: string, round: number): Promise<number> {
  const db = await open({ path: dir, durability: "sync", segmentSizeBytes, onMessage: () => {} });
  const server = await startRcpServer(db, { host: "127.0.0.1", port: 0 });
  const client = await WireClient.connect({ port: server.address.port });
  try {
    if (round === 0) {
      await client.ok("PUT_MACHINE", { machine: "order", version: 1, definition: orderMachine });
    }
    for (let i = 0; i < 30; i++) {
      const params = { machine: "order", version: 1, instance_id: `r${round}-${i}` };
      await client.ok("CREATE_INSTANCE", { ...params, initial_ctx: { note: "x".repeat(100) } });
    }
    const stats = await client.ok("WAL_STATS");
    assert.ok(stats.segment_count > 1, "the log spans several segments");
    return stats.total_size_bytes as number;
  } finally {
    client.socket.destroy();
    await server.close();
    await db.close();
  }
}

test("WAL_STATS total_size_bytes is the bytes the log holds, also after a restart", async () => {
  const dir = await mkdtemp(join(tmpdir(), "statebase-walstats-"));
  try {
    for (let round = 0; round < 2; round++) {
      const reported = await writeAndStat(dir, round);
      assert.equal(reported, await usedBytesOnDisk(dir));
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
