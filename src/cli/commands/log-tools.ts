/**
 * @module The operator tools of the write-ahead log: `verify`, `repair`, `inspect` and `wal`.
 * They read the log of a stopped database's data directory (DIR/wal) directly, through the
 * log's own read-only scan (src/log/inspect.ts), which applies recovery's rules without
 * writing, so `verify` says what the next open would do. Only `repair` writes, and only when
 * the operator names the last seq to keep. Snapshots are listed by name; `verify` also reads
 * them back as open does, newest first up to the first intact one.
 */
import type { Command } from "commander";
import {
  describeDamage,
  encodeValue,
  firstSegmentSeq,
  listSnapshots,
  readSnapshot,
  scanLog,
  snapshotSeqOf,
  truncateLogAfter,
} from "../../log/index.ts";
import type { LogRecord, LogScan, SegmentLayout } from "../../log/index.ts";
import { walDirectoryName } from "../../durability.ts";
import { DbError } from "../../lib/errors.ts";
import { lockDirectory } from "../../storage/index.ts";
import type { Storage } from "../../storage/index.ts";
import { listSnapshotFiles, openLogDirectory, openSnapshotDirectory } from "../data-directory.ts";
import type { SnapshotFile } from "../data-directory.ts";
import { exitCodeFailed, exitCodeOk, parsePositive, parseSeq, UsageError } from "../output.ts";
import type { CliContext } from "../output.ts";

/** A scan quicker than this prints no progress; a longer one reports after each segment. */
const progressQuietMs = 1000;

/** Adds the log tools to `program`; each sets `context.exitCode`. */
export function addLogTools(program: Command, context: CliContext): void {
  program
    .command("verify")
    .description("check every header, checksum, seq and the hash chain; never writes")
    .argument("<dir>", "data directory")
    .action(async (dir: string) => {
      context.exitCode = await verifyCommand(context, dir);
    });
  program
    .command("repair")
    .description("remove every record after SEQ (only with --truncate-after)")
    .argument("<dir>", "data directory")
    .option("--truncate-after <seq>", "the last seq to keep", parseSeq)
    .action(async (dir: string, options: { truncateAfter?: number }) => {
      context.exitCode = await repairCommand(context, dir, options.truncateAfter);
    });
  program
    .command("inspect")
    .description("list segments, the seq range, sizes and snapshots")
    .argument("<dir>", "data directory")
    .option("--json", "print one JSON object")
    .action(async (dir: string, options: { json?: boolean }) => {
      context.exitCode = await inspectCommand(context, dir, options.json === true);
    });
  program
    .command("wal")
    .description("print records from SEQ on as JSON lines")
    .argument("<dir>", "data directory")
    .requiredOption("--from <seq>", "the first seq to print", parseSeq)
    .option("--limit <n>", "print at most N records", parsePositive)
    .action(async (dir: string, options: { from: number; limit?: number }) => {
      context.exitCode = await walCommand(context, dir, options);
    });
}

// ---- verify DIR ----

async function verifyCommand(context: CliContext, dir: string): Promise<number> {
  const { storage, walPath, missing } = await openLogDirectory(dir);
  const scan = await scanLog(storage, { onProgress: scanProgress(context, "verifying the log") });
  const snapshots = await listSnapshotFiles(dir);
  const damage = scan.damage;
  const gap = startGap(scan, snapshots ?? []);
  if (damage === undefined) {
    await context.line(`log ${gap === undefined ? "intact" : "cannot start"}: ${walPath}`);
    if (missing) {
      await context.line(
        `  no ${walDirectoryName}/: the next open starts from the newest snapshot and creates it`,
      );
    }
  } else {
    const verdict =
      damage.kind === "torn-tail"
        ? "torn tail (the next open cuts it off with a warning)"
        : "inner damage (the database refuses to start)";
    await context.line(`log damaged: ${walPath}: ${verdict}`);
    await context.line(`  first break: ${describeDamage(damage)}`);
  }
  if (gap !== undefined) await context.line(`  start: ${gap}`);
  await writeSummary(context, scan, snapshots);
  const snapshotsDamaged = await verifySnapshots(context, dir, scan);
  if (damage === undefined && gap === undefined && !snapshotsDamaged) return exitCodeOk;
  if (damage !== undefined) {
    await context.line(
      `  to drop everything from the break on: ` +
        `statebase repair ${dir} --truncate-after ${scan.lastSeq}`,
    );
  }
  return exitCodeFailed;
}

async function writeSummary(
  context: CliContext,
  scan: LogScan,
  snapshots: readonly SnapshotFile[] | undefined,
): Promise<void> {
  const first = scan.segments[0];
  const last = scan.segments[scan.segments.length - 1];
  const names = first === undefined || last === undefined ? "" : ` (${first.name} .. ${last.name})`;
  await context.line(`  segments: ${scan.segments.length}${names}`);
  const removed =
    scan.firstSeq > 1 ? ` (records before ${scan.firstSeq} removed by retention)` : "";
  await context.line(`  valid records: ${scan.recordCount}, seq ${seqRange(scan)}${removed}`);
  const totals = segmentTotals(scan.segments);
  await context.line(`  bytes: ${totals.usedBytes} used, ${totals.sizeBytes} allocated`);
  if (snapshots === undefined) return;
  const newest = newestSnapshotSeq(snapshots, Number.MAX_SAFE_INTEGER);
  const at = newest === undefined ? "" : `, newest at seq ${newest}`;
  await context.line(`  snapshots: ${snapshots.length}${at}`);
}

/**
 * Reads the snapshots back newest first, as open does, up to the first intact one, and names
 * each damaged one and what the next open does about it. True when one is damaged.
 */
async function verifySnapshots(context: CliContext, dir: string, scan: LogScan): Promise<boolean> {
  const storage = await openSnapshotDirectory(dir);
  if (storage === undefined) return false;
  const damaged: string[] = [];
  let intactSeq = 0;
  for (const name of await listSnapshots(storage)) {
    try {
      intactSeq = (await readSnapshot(storage, name)).seq;
      break;
    } catch (error) {
      if (!(error instanceof DbError) || error.code !== "CORRUPT") throw error;
      const reason = error.message.replace(`snapshot ${name}: `, "");
      await context.line(`  snapshot damaged: ${name}: ${reason}`);
      damaged.push(name);
    }
  }
  if (damaged.length === 0) return false;
  const newestDamagedSeq = snapshotSeqOf(damaged[0]!)!;
  const reached = Math.max(intactSeq, scan.recordCount === 0 ? 0 : scan.lastSeq);
  await context.line(
    reached >= newestDamagedSeq
      ? "  the next open skips it for an older one and the log after it, with a warning"
      : `  the next open refuses: nothing else holds the commits up to seq ${newestDamagedSeq}`,
  );
  return true;
}

/**
 * Why the database could not start from this log even without damage: retention removed the
 * start of the log, and no snapshot covers the seq just before the first record left.
 */
/** Why an intact log still cannot start with these snapshots, as open would refuse it. */
function startGap(scan: LogScan, snapshots: readonly SnapshotFile[]): string | undefined {
  const newest = newestSnapshotSeq(snapshots, Number.MAX_SAFE_INTEGER);
  if (newest !== undefined && scan.recordCount > 0 && scan.lastSeq < newest) {
    return (
      `the newest snapshot (seq ${newest}) is ahead of the log, which ends at seq ` +
      `${scan.lastSeq}, so the database cannot start (wal/ is older than snapshots/)`
    );
  }
  if (scan.firstSeq === 1) return undefined;
  const covering = newestSnapshotSeq(snapshots, Math.max(scan.lastSeq, scan.firstSeq - 1));
  if (covering !== undefined && covering >= scan.firstSeq - 1) return undefined;
  return (
    `the log begins at seq ${scan.firstSeq} and no snapshot covers seq ${scan.firstSeq - 1}, ` +
    `so the database cannot start`
  );
}

/** The seq of the newest snapshot at or before `seqMax`. */
function newestSnapshotSeq(snapshots: readonly SnapshotFile[], seqMax: number): number | undefined {
  let newest: number | undefined;
  for (const { seq } of snapshots) {
    if (seq !== undefined && seq <= seqMax && (newest === undefined || seq > newest)) newest = seq;
  }
  return newest;
}

// ---- repair DIR --truncate-after SEQ ----

async function repairCommand(
  context: CliContext,
  dir: string,
  seq: number | undefined,
): Promise<number> {
  if (seq === undefined) {
    throw new UsageError(
      "repair removes records only when told which to keep: " +
        `statebase repair ${dir} --truncate-after SEQ (see statebase verify ${dir})`,
    );
  }
  const { storage, walPath } = await openLogDirectory(dir);
  // A server appending to this log meanwhile would undo the repair, or be undone by it.
  const lock = await lockDirectory(dir);
  try {
    return await repairLocked(context, dir, seq, storage, walPath);
  } finally {
    await lock.release();
  }
}

async function repairLocked(
  context: CliContext,
  dir: string,
  seq: number,
  storage: Storage,
  walPath: string,
): Promise<number> {
  const snapshotStorage = await openSnapshotDirectory(dir);
  const snapshotNames = snapshotStorage === undefined ? [] : await listSnapshots(snapshotStorage);
  const scan = await scanLog(storage, { onProgress: scanProgress(context, "reading the log") });
  const refusal = repairRefusal(scan, snapshotNames, seq);
  if (refusal !== undefined) throw new UsageError(`refusing to repair ${walPath}: ${refusal}`);
  // Snapshots go first: one newer than the log would be loaded and contradict it. After a
  // crash in between, the longer log still opens and the repair can simply run again.
  const newerSnapshots = snapshotNames.filter((name) => snapshotSeqOf(name)! > seq);
  for (const name of newerSnapshots) await snapshotStorage!.remove(name);
  if (newerSnapshots.length > 0) await snapshotStorage!.syncDirectory();
  const truncation = await truncateLogAfter(storage, seq);
  const removedCount = truncation.lastSeqBefore - seq;
  await context.line(`repaired ${walPath}: the log now ends at seq ${seq}`);
  await context.line(
    removedCount === 0
      ? `  removed no valid records`
      : `  removed valid records ${seq + 1}..${truncation.lastSeqBefore} (${removedCount})`,
  );
  if (truncation.damage !== undefined) {
    await context.line(`  removed the damage after them: ${describeDamage(truncation.damage)}`);
  }
  if (truncation.zeroed !== undefined) {
    const { segment, offset, sizeBytes } = truncation.zeroed;
    await context.line(`  zeroed ${segment} from offset ${offset} to its end (${sizeBytes} bytes)`);
  }
  for (const name of truncation.removedSegments) await context.line(`  removed segment ${name}`);
  for (const name of newerSnapshots) await context.line(`  removed snapshot ${name}`);
  return exitCodeOk;
}

/** Why truncating after `seq` must not happen, checked before anything is modified. */
function repairRefusal(
  scan: LogScan,
  snapshotNames: readonly string[],
  seq: number,
): string | undefined {
  if (seq > scan.lastSeq) {
    return `seq ${seq} is past the last valid record (seq ${scan.lastSeq})`;
  }
  if (seq < scan.firstSeq - 1) {
    return `seq ${seq} is before the log, which begins at seq ${scan.firstSeq}`;
  }
  if (scan.firstSeq === 1) return undefined;
  const covered = snapshotNames.some((name) => {
    const snapshotSeq = snapshotSeqOf(name)!;
    return snapshotSeq >= scan.firstSeq - 1 && snapshotSeq <= seq;
  });
  return covered
    ? undefined
    : `the log begins at seq ${scan.firstSeq}, and no snapshot at or before seq ${seq} ` +
        `would cover seq ${scan.firstSeq - 1}`;
}

// ---- inspect DIR [--json] ----

async function inspectCommand(context: CliContext, dir: string, json: boolean): Promise<number> {
  const { storage, walPath } = await openLogDirectory(dir);
  const scan = await scanLog(storage, { onProgress: scanProgress(context, "reading the log") });
  const snapshots = await listSnapshotFiles(dir);
  if (json) {
    await context.line(JSON.stringify(inspectJSON(walPath, scan, snapshots)));
    return exitCodeOk;
  }
  await context.line(`log: ${walPath}`);
  const header = ["segment", "first seq", "last seq", "records", "used bytes", "size bytes"];
  const rows = scan.segments.map((s) => [
    s.headerDamage === undefined ? s.name : `${s.name} (bad header: ${s.headerDamage})`,
    String(s.firstRecordSeq ?? "-"),
    String(s.lastRecordSeq ?? "-"),
    String(s.recordCount),
    String(s.usedBytes),
    String(s.sizeBytes),
  ]);
  for (const line of formatTable([header, ...rows])) await context.line(line);
  const totals = segmentTotals(scan.segments);
  await context.line(`seq range: ${seqRange(scan)} (${scan.recordCount} valid records)`);
  await context.line(
    `total: ${plural(scan.segments.length, "segment")}, ` +
      `${totals.usedBytes} bytes used of ${totals.sizeBytes} allocated`,
  );
  const damage = scan.damage;
  await context.line(
    damage === undefined ? "status: intact" : `status: ${damage.kind}: ${describeDamage(damage)}`,
  );
  if (snapshots === undefined) {
    await context.line("snapshots: none (no snapshot directory)");
  } else {
    await context.line(`snapshots: ${snapshots.length}`);
    for (const file of snapshots) await context.line(`  ${file.name}  ${file.sizeBytes} bytes`);
  }
  return exitCodeOk;
}

/** The machine form of `inspect`: absent values are null, sizes in bytes. */
function inspectJSON(
  walPath: string,
  scan: LogScan,
  snapshots: readonly SnapshotFile[] | undefined,
): unknown {
  const totals = segmentTotals(scan.segments);
  return {
    path: walPath,
    segments: scan.segments.map((s) => ({
      name: s.name,
      firstSeq: s.firstRecordSeq ?? null,
      lastSeq: s.lastRecordSeq ?? null,
      recordCount: s.recordCount,
      usedBytes: s.usedBytes,
      sizeBytes: s.sizeBytes,
      headerDamage: s.headerDamage ?? null,
    })),
    firstSeq: scan.recordCount === 0 ? null : scan.firstSeq,
    lastSeq: scan.recordCount === 0 ? null : scan.lastSeq,
    recordCount: scan.recordCount,
    usedBytes: totals.usedBytes,
    sizeBytes: totals.sizeBytes,
    damage: scan.damage === undefined ? null : { ...scan.damage },
    snapshots: snapshots?.map((file) => ({ ...file, seq: file.seq ?? null })) ?? null,
  };
}

function formatTable(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, index) => (widths[index] = Math.max(widths[index] ?? 0, cell.length)));
  }
  // The first column (names) is aligned left, the numbers right.
  return rows.map((row) =>
    row
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
      .join("  ")
      .trimEnd(),
  );
}

// ---- wal DIR --from SEQ [--limit N] ----

async function walCommand(
  context: CliContext,
  dir: string,
  options: { from: number; limit?: number },
): Promise<number> {
  const { storage } = await openLogDirectory(dir);
  // Seqs start at 1, so `--from 0` means the same as `--from 1`; and the log's first record,
  // when retention removed those before it: `--limit` counts from the first one printed.
  const firstSeq = (await firstSegmentSeq(storage)) ?? 1;
  const from = Math.max(options.from, 1, firstSeq);
  if (options.from < firstSeq && firstSeq > 1) {
    context.warn(
      `retention removed the log before seq ${firstSeq} (the snapshots hold that state); ` +
        `printing from seq ${firstSeq}`,
    );
  }
  const untilSeq =
    options.limit === undefined
      ? undefined
      : Math.min(from + options.limit - 1, Number.MAX_SAFE_INTEGER);
  const scan = await scanLog(storage, {
    onRecord: async (record) => {
      if (record.seq >= from) await context.line(recordJSON(record));
    },
    ...(untilSeq === undefined ? {} : { untilSeq }),
    onProgress: scanProgress(context, "reading the log"),
  });
  const damage = scan.damage;
  if (damage === undefined || (untilSeq !== undefined && scan.lastSeq >= untilSeq)) {
    // Nothing printed is no answer to a mistyped seq: say where the log ends.
    if (scan.recordCount === 0) context.warn("the log holds no record");
    else if (scan.lastSeq < from) {
      context.warn(`the log ends at seq ${scan.lastSeq}: no record from seq ${from}`);
    }
    return exitCodeOk;
  }
  context.warn(
    `the log breaks after seq ${scan.lastSeq} (${damage.kind}): ${describeDamage(damage)}`,
  );
  return exitCodeFailed;
}

/**
 * Reports a scan's progress on stderr once it has run for {@link progressQuietMs}, so that an
 * operator checking a large log sees it move (1 M records take several seconds per check),
 * then at most once per `quietMs` (the scan reports every MiB) and when it is done.
 */
export function scanProgress(
  context: CliContext,
  what: string,
  quietMs = progressQuietMs,
): (bytesDone: number, bytesTotal: number) => void {
  const started = performance.now();
  let reportedAt = started;
  return (bytesDone, bytesTotal) => {
    const now = performance.now();
    if (now - started < quietMs) return;
    if (bytesDone < bytesTotal && now - reportedAt < quietMs) return;
    reportedAt = now;
    context.progress(`${what}: ${Math.round((100 * bytesDone) / Math.max(1, bytesTotal))}%`);
  };
}

/** One record as a JSON line; values in the log's tagged JSON form (src/log/codec.ts). */
function recordJSON(record: LogRecord): string {
  const changes = record.changes.map(
    (c) =>
      `{"object":${JSON.stringify(c.object)},"kind":${JSON.stringify(c.kind)},` +
      `"key":${encodeValue(c.key)},"before":${encodeValue(c.before)},` +
      `"after":${encodeValue(c.after)}}`,
  );
  return (
    `{"seq":${record.seq},"ts":${record.ts},"origin":${encodeValue(record.origin)},` +
    `"changes":[${changes.join(",")}],"prev_hash":"${hex(record.prevHash)}",` +
    `"hash":"${hex(record.hash)}"}`
  );
}

// ---- Shared ----

function seqRange(scan: LogScan): string {
  return scan.recordCount === 0 ? "none" : `${scan.firstSeq}..${scan.lastSeq}`;
}

function segmentTotals(segments: readonly SegmentLayout[]): {
  usedBytes: number;
  sizeBytes: number;
} {
  let usedBytes = 0;
  let sizeBytes = 0;
  for (const segment of segments) {
    usedBytes += segment.usedBytes;
    sizeBytes += segment.sizeBytes;
  }
  return { usedBytes, sizeBytes };
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}
