/**
 * @module Operations on the log and snapshots: WAL_READ, WAL_STATS, COMPACT and
 * SNAPSHOT_INSTANCE (specs/rcp.md §2.6). Offsets are commit sequence numbers (decision 4):
 * WAL_READ returns every commit from `from_offset` on, machine operations in rstmdb's entry
 * shapes and other commits as `{"type": "commit"}`, read from memory or the log's index.
 */
import { randomUUID } from "node:crypto";
import { crc32c } from "../../lib/crc32c.ts";
import { rcpWalReadRecordsDefault, rcpWalReadRecordsMax } from "../../lib/limits.ts";
import type { Commit, Database } from "../../types.ts";
import { badRequest } from "./failure.ts";
import type { Operation, OperationContext } from "./operation.ts";
import { Params } from "./params.ts";

interface WalRecord {
  sequence: number;
  offset: number;
  entry: unknown;
}

/** Commits read per step while filling a WAL_READ answer. */
const commitsPerRead = 256;

// WAL_READ {from_offset, limit?}
const walRead: Operation = {
  role: "read",
  write: false,
  transactional: false,
  async run({ core }: OperationContext, raw: unknown) {
    const params = new Params(raw, "WalReadParams");
    if (!params.has("from_offset")) throw badRequest("missing from_offset");
    const from = Math.max(1, params.u64("from_offset"));
    const limit = params.optU64("limit") ?? rcpWalReadRecordsDefault;
    if (limit > rcpWalReadRecordsMax) {
      throw badRequest(`limit ${limit} is above the maximum of ${rcpWalReadRecordsMax}`);
    }
    const records = await readRecords(core.db, from, limit);
    const last = records.at(-1);
    return { records, next_offset: last === undefined ? null : last.offset + 1 };
  },
};

/** Records from `from` on; a commit's entries are never split across two answers. */
async function readRecords(db: Database, from: number, limit: number): Promise<WalRecord[]> {
  const records: WalRecord[] = [];
  let next = from;
  while (records.length < limit && next <= db.seq) {
    const commits = await db.readCommits(next, Math.min(commitsPerRead, limit - records.length));
    if (commits.length === 0) break;
    for (const commit of commits) {
      if (records.length >= limit) break;
      for (const entry of entriesOf(db, commit)) {
        records.push({ sequence: commit.seq, offset: commit.seq, entry });
      }
      next = commit.seq + 1;
    }
  }
  return records;
}

function entriesOf(db: Database, commit: Commit): unknown[] {
  const entries = db.machines.entriesOf(commit);
  if (entries.length > 0) return entries;
  const objects = [...new Set(commit.changes.map((change) => change.object))];
  return [
    {
      type: "commit",
      seq: commit.seq,
      ts: commit.ts,
      origin: commit.origin.kind,
      objects,
      change_count: commit.changes.length,
    },
  ];
}

// WAL_STATS (params ignored)
const walStats: Operation = {
  role: "read",
  write: false,
  transactional: false,
  async run({ core }: OperationContext) {
    const stats = await core.db.logStats();
    const seq = core.db.seq;
    return {
      entry_count: seq,
      segment_count: stats?.segmentCount ?? 0,
      // What the log holds, as rstmdb's (not preallocated) segment files measure it.
      total_size_bytes: stats?.usedBytes ?? 0,
      latest_offset: seq === 0 ? null : seq,
      durable_offset: stats?.durableSeq ?? seq,
      io_stats: {
        bytes_written: stats?.bytesWritten ?? 0,
        bytes_read: 0,
        writes: stats?.writeCount ?? 0,
        reads: 0,
        fsyncs: stats?.fsyncCount ?? 0,
      },
    };
  },
};

// COMPACT {force_snapshot?}: writes a snapshot; retention then removes the log it covers.
const compact: Operation = {
  role: "admin",
  write: true,
  transactional: false,
  async run({ core }: OperationContext, raw: unknown) {
    new Params(raw, "CompactParams").optBool("force_snapshot");
    const before = await core.db.logStats();
    if (before === undefined) {
      throw badRequest("compaction needs a data directory (this server keeps state in memory)");
    }
    const snapshot = await core.db.snapshot();
    const after = (await core.db.logStats())!;
    return {
      snapshots_created: 1,
      segments_deleted: Math.max(0, before.segmentCount - after.segmentCount),
      bytes_reclaimed: Math.max(0, before.sizeBytes - after.sizeBytes),
      total_snapshots: after.snapshotCount,
      wal_segments: after.segmentCount,
      snapshot_offset: snapshot.seq,
    };
  },
};

// SNAPSHOT_INSTANCE {instance_id}: the instance's image with a checksum. Statebase's
// snapshots cover the whole database, so no separate file is written for one instance.
const snapshotInstance: Operation = {
  role: "read",
  write: false,
  transactional: true,
  run({ machines }: OperationContext, raw: unknown) {
    const id = new Params(raw, "SnapshotInstanceParams").any("instance_id");
    if (typeof id !== "string") throw badRequest("missing instance_id");
    const instance = machines.getInstance(id);
    const image = Buffer.from(JSON.stringify({ state: instance.state, ctx: instance.ctx }));
    return {
      instance_id: id,
      snapshot_id: `snap-${randomUUID()}`,
      wal_offset: instance.last_wal_offset,
      size_bytes: image.length,
      checksum: crc32c(image).toString(16).padStart(8, "0"),
    };
  },
};

export const logOperations: Readonly<Record<string, Operation>> = {
  WAL_READ: walRead,
  WAL_STATS: walStats,
  COMPACT: compact,
  SNAPSHOT_INSTANCE: snapshotInstance,
};
