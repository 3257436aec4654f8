/**
 * Goal: the log's operator tools (`statebase verify`, `repair`, `inspect`, `wal`) tell the
 * truth about a real data directory, never modify it unless asked to repair, agree with what
 * the database itself does on open, and fail on a bad command line with exit code 2 and one
 * line, never a stack trace.
 * Method: build real data directories with `open({ path, durability: "sync" })` and small
 * segments (several per log), one of them with snapshots and retention; copy a fixture per
 * test, damage the copy by hand (a flipped byte mid-log, a torn last record), run
 * `node bin/statebase.js …` as a child process, and check exit codes, output, the files'
 * bytes (hashed before and after) and what reopening the database sees.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
} from "node:fs";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { open } from "../../src/index.ts";
import { crc32c } from "../../src/lib/crc32c.ts";
import { scanLog } from "../../src/log/index.ts";
import { scanProgress } from "../../src/cli/commands/log-tools.ts";
import { openLogDirectory } from "../../src/cli/data-directory.ts";

const bin = resolve(import.meta.dirname, "../../bin/statebase.js");
const segmentSizeBytes = 4096;
const bigValue = 2n ** 100n;

/** A line of `statebase wal`, as far as the tests read it. */
interface WALLine {
  seq: number;
  prev_hash: string;
  hash: string;
  changes: Array<Record<string, unknown>>;
}

interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI as a real process. */
function cli(...args: string[]): Promise<Run> {
  return new Promise((resolveRun) => {
    execFile(process.execPath, [bin, ...args], { encoding: "utf8" }, (error, stdout, stderr) => {
      const status = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
      resolveRun({ status, stdout, stderr });
    });
  });
}

let root = "";
/** 40 commits (2 schema, 38 inserts) in 3 segments; no snapshot. */
let plain = "";
/**
 * 40 commits with snapshots at seq 33 and 38; retention removed the segments that only hold
 * records the older snapshot covers, so the log begins mid-way (where depends on record sizes,
 * so tests read it from the files).
 */
let retained = "";

async function fill(path: string, snapshotAt: readonly number[]): Promise<void> {
  const db = await open({ path, durability: "sync", segmentSizeBytes, snapshotLogBytes: 0 });
  db.createNamespace("app");
  const table = db.createTable("app::t", {
    columns: { id: "int8", v: "utf8", big: "Option(int16)" },
    primaryKey: "id",
  });
  for (let id = 1; id <= 38; id++) {
    table.insert({ id, v: "x".repeat(50), big: bigValue });
    if (snapshotAt.includes(db.seq)) await db.snapshot();
  }
  await db.durable();
  await db.close();
}

/** A fresh copy of a fixture, so that each test damages its own. */
function copy(fixture: string): string {
  const path = mkdtempSync(join(root, "copy-"));
  cpSync(fixture, path, { recursive: true });
  return path;
}

/** The segment files (the log also keeps a spare segment, `next-segment.tmp`, beside them). */
function segments(dir: string): string[] {
  return readdirSync(join(dir, "wal"))
    .filter((name) => name.endsWith(".seg"))
    .sort();
}

/** The segment that holds `seq`: the last one whose name (its first seq) is not after it. */
function segmentHolding(dir: string, seq: number): string {
  return segments(dir)
    .filter((name) => Number(name.slice(0, 20)) <= seq)
    .at(-1)!;
}

/** The records of a segment file: offset, seq and size of each frame (docs/log-format.md). */
function frames(file: string): Array<{ offset: number; seq: number; sizeBytes: number }> {
  const bytes = readFileSync(file);
  const out = [];
  for (let offset = 24; offset + 16 <= bytes.length;) {
    const length = bytes.readUInt32BE(offset);
    if (length === 0) break;
    out.push({ offset, seq: Number(bytes.readBigUInt64BE(offset + 8)), sizeBytes: 16 + length });
    offset += 16 + length;
  }
  return out;
}

/** Changes bytes of a file in place. */
function patch(file: string, offset: number, change: (bytes: Buffer) => void): void {
  const bytes = readFileSync(file);
  change(bytes.subarray(offset));
  writeFileSync(file, bytes);
}

/** A hash of every file under `dir`, to show a tool modified nothing. */
function digest(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    out[path] = createHash("sha256").update(readFileSync(path)).digest("hex");
  }
  return out;
}

/** Flips one byte in the body of record `seq` of the first segment: inner damage. */
function flipInFirstSegment(dir: string, seq: number): { segment: string; offset: number } {
  const segment = segments(dir)[0]!;
  const frame = frames(join(dir, "wal", segment)).find((f) => f.seq === seq)!;
  patch(join(dir, "wal", segment), frame.offset + 90, (bytes) => (bytes[0]! ^= 0x40));
  return { segment, offset: frame.offset };
}

/** Zeroes the end of the last record of the last segment, as a crash mid-write leaves it. */
function tearLastRecord(dir: string): { segment: string; offset: number; seq: number } {
  const segment = segments(dir).at(-1)!;
  const frame = frames(join(dir, "wal", segment)).at(-1)!;
  patch(join(dir, "wal", segment), frame.offset + frame.sizeBytes - 20, (b) => b.fill(0, 0, 20));
  return { segment, offset: frame.offset, seq: frame.seq };
}

/** Opens the database on `dir`, returns its seq and warnings, and closes it. */
async function reopen(dir: string): Promise<{ seq: number; warnings: string[] }> {
  const warnings: string[] = [];
  const db = await open({
    path: dir,
    durability: "sync",
    segmentSizeBytes,
    onMessage: (_, m) => {
      warnings.push(m);
    },
  });
  const seq = db.seq;
  await db.close();
  return { seq, warnings };
}

before(async () => {
  root = mkdtempSync(join(tmpdir(), "statebase-cli-"));
  plain = join(root, "plain");
  retained = join(root, "retained");
  await fill(plain, []);
  await fill(retained, [33, 38]);
});

after(() => rmSync(root, { recursive: true, force: true }));

describe("statebase log tools", { concurrency: 3 }, () => {
  test("verify: an intact log exits 0 with a summary", async () => {
    const run = await cli("verify", plain);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^log intact: /);
    assert.match(run.stdout, /segments: 3 \(00000000000000000001\.seg \.\. /);
    assert.match(run.stdout, /valid records: 40, seq 1\.\.40\n/);
    assert.match(run.stdout, /bytes: \d+ used, 12288 allocated/);
  });

  test("verify: a record rewritten with a new CRC is a hash mismatch; open reads it", async () => {
    // What tampering looks like: a body byte changed and the CRC recomputed. Only the chain
    // can tell, and opening does not recompute it (docs/log-format.md, recovery rule 2).
    const dir = copy(plain);
    const segment = segments(dir)[0]!;
    const frame = frames(join(dir, "wal", segment)).find((f) => f.seq === 7)!;
    patch(join(dir, "wal", segment), frame.offset, (bytes) => {
      bytes[frame.sizeBytes - 40] = bytes[frame.sizeBytes - 40]! ^ 0x01;
      bytes.writeUInt32BE(crc32c(bytes.subarray(8, frame.sizeBytes)), 4);
    });
    const run = await cli("verify", dir);
    assert.equal(run.status, 1);
    assert.ok(run.stdout.includes(`seq 7: record 7: hash mismatch`), run.stdout);
    assert.equal((await reopen(dir)).seq, 40);
  });

  test("verify: a flipped byte mid-log is inner damage, named, and nothing changes", async () => {
    const dir = copy(plain);
    const { segment, offset } = flipInFirstSegment(dir, 7);
    const before = digest(dir);
    const run = await cli("verify", dir);
    assert.equal(run.status, 1);
    assert.match(run.stdout, /inner damage/);
    assert.ok(
      run.stdout.includes(`segment ${segment}, offset ${offset}, seq 7: checksum mismatch`),
      run.stdout,
    );
    assert.match(run.stdout, /valid records: 6, seq 1\.\.6/);
    assert.ok(run.stdout.includes(`statebase repair ${dir} --truncate-after 6`), run.stdout);
    assert.deepEqual(digest(dir), before);
    // The database agrees: it refuses to start on this log.
    await assert.rejects(reopen(dir), { code: "CORRUPT" });
  });

  test("verify: a torn tail exits 1, says so, and modifies nothing", async () => {
    const dir = copy(plain);
    const torn = tearLastRecord(dir);
    assert.equal(torn.seq, 40);
    const before = digest(dir);
    const run = await cli("verify", dir);
    assert.equal(run.status, 1);
    assert.match(run.stdout, /torn tail/);
    assert.ok(run.stdout.includes(`segment ${torn.segment}, offset ${torn.offset}, seq 40`));
    assert.deepEqual(digest(dir), before);
    // The database agrees: it cuts the torn record with a warning and starts at seq 39.
    const reopened = await reopen(dir);
    assert.equal(reopened.seq, 39);
    assert.match(reopened.warnings.join("\n"), /torn/);
  });

  test("repair: refuses without --truncate-after or past the last valid record", async () => {
    const dir = copy(plain);
    const before = digest(dir);
    const [bare, past] = await Promise.all([
      cli("repair", dir),
      cli("repair", dir, "--truncate-after", "41"),
    ]);
    assert.equal(bare.status, 2);
    assert.match(bare.stderr, /--truncate-after SEQ/);
    assert.equal(past.status, 2);
    assert.match(past.stderr, /seq 41 is past the last valid record \(seq 40\)/);
    assert.deepEqual(digest(dir), before);
  });

  test("repair: refuses, changing nothing, while a database has the directory open", async () => {
    const dir = copy(plain);
    const before = digest(dir);
    const db = await open({ path: dir, durability: "sync", segmentSizeBytes });
    try {
      const run = await cli("repair", dir, "--truncate-after", "20");
      assert.equal(run.status, 1);
      assert.match(run.stderr, new RegExp(`is in use by process ${process.pid}: one process`));
      assert.deepEqual(digest(dir), before);
    } finally {
      await db.close();
    }
  });

  test("repair: cuts inner damage; verify is then clean and the database reopens", async () => {
    const dir = copy(plain);
    flipInFirstSegment(dir, 7);
    const run = await cli("repair", dir, "--truncate-after", "6");
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /the log now ends at seq 6/);
    assert.match(run.stdout, /removed the damage after them: segment \S+, offset \d+, seq 7/);
    assert.ok(run.stdout.includes(`removed segment ${segments(plain)[1]!}`), run.stdout);
    assert.deepEqual(segments(dir), ["00000000000000000001.seg"]);
    assert.equal((await cli("verify", dir)).status, 0);
    assert.equal((await reopen(dir)).seq, 6);
  });

  test("repair: truncates an intact log mid-segment; new commits continue after", async () => {
    const dir = copy(plain);
    const run = await cli("repair", dir, "--truncate-after", "20");
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /removed valid records 21\.\.40 \(20\)/);
    assert.ok(run.stdout.includes(`zeroed ${segmentHolding(plain, 21)} from offset `), run.stdout);
    const db = await open({ path: dir, durability: "sync", segmentSizeBytes });
    assert.equal(db.seq, 20);
    db.table("app::t").insert({ id: 100, v: "after", big: null });
    await db.close();
    const verify = await cli("verify", dir);
    assert.equal(verify.status, 0, verify.stdout);
    assert.match(verify.stdout, /valid records: 21, seq 1\.\.21/);
  });

  test("a log older than the newest snapshot: verify and open both refuse it", async () => {
    const dir = mkdtempSync(join(root, "older-log-"));
    const db = await open({ path: dir, durability: "sync", segmentSizeBytes });
    const counter = db.createCounter("default::n");
    for (let i = 0; i < 10; i++) counter.add(1);
    await db.flush();
    const olderWal = join(root, "older-wal");
    cpSync(join(dir, "wal"), olderWal, { recursive: true }); // a backup of wal/ alone
    for (let i = 0; i < 5; i++) counter.add(1);
    await db.snapshot(); // at seq 16
    await db.close();
    rmSync(join(dir, "wal"), { recursive: true });
    cpSync(olderWal, join(dir, "wal"), { recursive: true }); // restored from the older one
    const ahead = /the newest snapshot \(seq 16\) is ahead of the log, which ends at seq 11/;
    const run = await cli("verify", dir);
    assert.equal(run.status, 1);
    assert.match(run.stdout, /^log cannot start: /);
    assert.match(run.stdout, ahead);
    await assert.rejects(open({ path: dir, segmentSizeBytes }), (error: unknown) => {
      const { code, message } = error as { code: string; message: string };
      return code === "CORRUPT" && ahead.test(message) && message.includes("move wal/ aside");
    });
    // As the message says: moved aside, the database goes on from the snapshot.
    renameSync(join(dir, "wal"), join(dir, "wal-aside"));
    const reopened = await open({ path: dir, segmentSizeBytes });
    assert.equal(reopened.counter("default::n").get(), 15);
    await reopened.close();
    assert.equal((await cli("verify", dir)).status, 0);
  });

  test("snapshots without wal/: the tools read it as an empty log, as open does", async () => {
    // What open's "move wal/ aside" advice leaves: the database starts from the snapshot, so
    // the tools must not call the directory "not a data directory" (exit 2), nor create wal/.
    const dir = copy(retained);
    rmSync(join(dir, "wal"), { recursive: true });
    const before = digest(dir);
    const [verify, inspect, wal] = await Promise.all([
      cli("verify", dir),
      cli("inspect", dir, "--json"),
      cli("wal", dir, "--from", "1"),
    ]);
    assert.equal(verify.status, 0, verify.stderr);
    assert.match(verify.stdout, /no wal\/: the next open starts from the newest snapshot/);
    assert.match(verify.stdout, /valid records: 0, seq none/);
    assert.match(verify.stdout, /snapshots: 2, newest at seq 38/);
    assert.equal(inspect.status, 0, inspect.stderr);
    const json = JSON.parse(inspect.stdout) as { recordCount: number; snapshots: unknown[] };
    assert.deepEqual([json.recordCount, json.snapshots.length], [0, 2]);
    assert.deepEqual(
      [wal.status, wal.stdout, wal.stderr],
      [0, "", "statebase: the log holds no record\n"],
    );
    assert.deepEqual(digest(dir), before);
    assert.equal(existsSync(join(dir, "wal")), false);
    assert.equal((await reopen(dir)).seq, 38);
  });

  test("verify: a damaged newest snapshot is named, as open skips or refuses it", async () => {
    const dir = copy(retained);
    const newest = readdirSync(join(dir, "snapshots")).sort().at(-1)!;
    patch(join(dir, "snapshots", newest), 100, (bytes) => (bytes[0]! ^= 0x20));
    const before = digest(dir);
    const run = await cli("verify", dir);
    assert.equal(run.status, 1, run.stdout);
    assert.ok(run.stdout.includes(`snapshot damaged: ${newest}: checksum mismatch`), run.stdout);
    assert.match(run.stdout, /the next open skips it for an older one/);
    assert.deepEqual(digest(dir), before);
    // The database agrees: it warns, and the log after the older snapshot holds the rest.
    const reopened = await reopen(dir);
    assert.equal(reopened.seq, 40);
    assert.match(reopened.warnings.join("\n"), new RegExp(`${newest}: checksum mismatch`));
    // Without the log after the older snapshot, nothing holds its commits: both refuse.
    rmSync(join(dir, "wal"), { recursive: true });
    const bare = await cli("verify", dir);
    assert.equal(bare.status, 1, bare.stdout);
    assert.match(bare.stdout, /the next open refuses: nothing else holds the commits up to seq 38/);
    await assert.rejects(reopen(dir), { code: "CORRUPT" });
  });

  test("retention: verify and inspect see snapshots; repair keeps them coherent", async () => {
    const dir = copy(retained);
    const [verify, inspect] = await Promise.all([
      cli("verify", dir),
      cli("inspect", dir, "--json"),
    ]);
    assert.equal(verify.status, 0, verify.stdout);
    const report = JSON.parse(inspect.stdout);
    const first = Number(segments(dir)[0]!.slice(0, 20));
    // The fixture must leave a seq before the older snapshot for the refusal below.
    assert.ok(first > 1 && first <= 32, `fixture: the retained log begins at ${first}`);
    assert.equal(report.firstSeq, first);
    assert.ok(
      verify.stdout.includes(`seq ${first}..40 (records before ${first} removed by retention)`),
      verify.stdout,
    );
    assert.match(verify.stdout, /snapshots: 2, newest at seq 38/);
    assert.deepEqual(
      report.snapshots.map((s: { seq: number }) => s.seq),
      [33, 38],
    );
    // Truncated before the older snapshot, no kept snapshot would cover where the log starts.
    const tooEarly = await cli("repair", dir, "--truncate-after", String(first));
    assert.equal(tooEarly.status, 2);
    assert.ok(
      tooEarly.stderr.includes(
        `no snapshot at or before seq ${first} would cover seq ${first - 1}`,
      ),
      tooEarly.stderr,
    );
    const repair = await cli("repair", dir, "--truncate-after", "35");
    assert.equal(repair.status, 0, repair.stderr);
    assert.match(repair.stdout, /removed snapshot snapshot-00000000000000000038\.jsonl/);
    assert.equal((await reopen(dir)).seq, 35);
    // Without a snapshot the retained log cannot start, and verify says so.
    rmSync(join(dir, "snapshots"), { recursive: true });
    const orphan = await cli("verify", dir);
    assert.equal(orphan.status, 1);
    assert.ok(
      orphan.stdout.includes(`log begins at seq ${first} and no snapshot covers seq ${first - 1}`),
      orphan.stdout,
    );
  });

  test("inspect: text lists segments, seq range, sizes and snapshots", async () => {
    const dir = copy(plain);
    mkdirSync(join(dir, "snapshots"), { recursive: true });
    writeFileSync(join(dir, "snapshots", "note.txt"), "12345");
    const run = await cli("inspect", dir);
    assert.equal(run.status, 0, run.stderr);
    const lines = run.stdout.split("\n");
    assert.match(lines[1]!, /^segment\s+first seq\s+last seq\s+records\s+used bytes\s+size bytes$/);
    const inFirst = frames(join(dir, "wal", segments(dir)[0]!)).length;
    assert.match(
      lines[2]!,
      new RegExp(`^00000000000000000001\\.seg\\s+1\\s+${inFirst}\\s+${inFirst}\\s+\\d+\\s+4096$`),
    );
    assert.equal(lines.filter((line) => line.endsWith(".seg") || /\.seg\s/.test(line)).length, 3);
    assert.match(run.stdout, /seq range: 1\.\.40 \(40 valid records\)/);
    assert.match(run.stdout, /total: 3 segments, \d+ bytes used of 12288 allocated/);
    assert.match(run.stdout, /status: intact/);
    assert.match(run.stdout, /snapshots: 1\n {2}note\.txt {2}5 bytes/);
  });

  test("inspect --json: one parseable object that matches the files", async () => {
    const run = await cli("inspect", plain, "--json");
    assert.equal(run.status, 0, run.stderr);
    const report = JSON.parse(run.stdout);
    assert.deepEqual(
      report.segments.map((s: { name: string }) => s.name),
      segments(plain),
    );
    assert.deepEqual(report.segments[0], {
      name: "00000000000000000001.seg",
      firstSeq: 1,
      lastSeq: frames(join(plain, "wal", segments(plain)[0]!)).length,
      recordCount: frames(join(plain, "wal", segments(plain)[0]!)).length,
      usedBytes:
        frames(join(plain, "wal", segments(plain)[0]!)).at(-1)!.offset +
        frames(join(plain, "wal", segments(plain)[0]!)).at(-1)!.sizeBytes,
      sizeBytes: segmentSizeBytes,
      headerDamage: null,
    });
    assert.equal(report.firstSeq, 1);
    assert.equal(report.lastSeq, 40);
    assert.equal(report.recordCount, 40);
    assert.equal(report.damage, null);
    assert.deepEqual(report.snapshots, []);
  });

  test("wal --from: the records from SEQ as JSON lines in the log's tagged form", async () => {
    const [tail, window, beyond] = await Promise.all([
      cli("wal", plain, "--from", "38"),
      cli("wal", plain, "--from", "5", "--limit", "2"),
      cli("wal", plain, "--from", "41"),
    ]);
    assert.equal(tail.status, 0, tail.stderr);
    const records = tail.stdout
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line) as WALLine);
    assert.deepEqual(
      records.map((r) => r.seq),
      [38, 39, 40],
    );
    for (const record of records) {
      assert.deepEqual(Object.keys(record), [
        "seq",
        "ts",
        "origin",
        "changes",
        "prev_hash",
        "hash",
      ]);
      assert.match(record.hash, /^[0-9a-f]{64}$/);
    }
    assert.equal(records[1]!.prev_hash, records[0]!.hash);
    const change = records[2]!.changes[0]!;
    assert.deepEqual(Object.keys(change), ["object", "kind", "key", "before", "after"]);
    assert.deepEqual(change.before, { $undef: 1 });
    assert.deepEqual(change.after, { id: 38, v: "x".repeat(50), big: { $int: String(bigValue) } });
    assert.deepEqual(
      window.stdout
        .trimEnd()
        .split("\n")
        .map((line) => (JSON.parse(line) as WALLine).seq),
      [5, 6],
    );
    assert.equal(beyond.status, 0);
    assert.equal(beyond.stdout, "");
    assert.equal(beyond.stderr, "statebase: the log ends at seq 40: no record from seq 41\n");
    assert.equal(window.stderr, "");
  });

  test("wal: stops at damage with exit 1 and says where", async () => {
    const dir = copy(plain);
    flipInFirstSegment(dir, 7);
    const run = await cli("wal", dir, "--from", "5");
    assert.equal(run.status, 1);
    assert.deepEqual(
      run.stdout
        .trimEnd()
        .split("\n")
        .map((line) => (JSON.parse(line) as WALLine).seq),
      [5, 6],
    );
    assert.match(run.stderr, /^statebase: the log breaks after seq 6 \(inner\): .*seq 7/);
  });

  test("wal --limit N: N records even when retention removed the log before --from", async () => {
    const first = Number(segments(retained)[0]!.slice(0, 20));
    assert.ok(first > 3, `fixture: the retained log begins at ${first}`);
    const run = await cli("wal", retained, "--from", "1", "--limit", "3");
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(
      run.stdout
        .trimEnd()
        .split("\n")
        .map((line) => (JSON.parse(line) as WALLine).seq),
      [first, first + 1, first + 2],
    );
    // Asked for a seq retention removed, it says so rather than start later in silence.
    const later = await cli("wal", retained, "--from", "2", "--limit", "1");
    assert.equal(later.status, 0, later.stderr);
    assert.equal(
      later.stderr,
      `statebase: retention removed the log before seq ${first} (the snapshots hold that ` +
        `state); printing from seq ${first}\n`,
    );
  });

  test("a scan starts over when retention removes segments it listed (a server runs)", async () => {
    /** Scans a copy of `plain`; after its first segment, retention removes the first two. */
    const scanWhileRetained = async (onRecord?: (record: { seq: number }) => void) => {
      const dir = copy(plain);
      const names = segments(dir);
      assert.equal(names.length, 3, "fixture: three segments");
      const { storage } = await openLogDirectory(dir);
      let removed = false;
      const onProgress = (): void => {
        if (removed) return;
        removed = true;
        for (const name of names.slice(0, 2)) rmSync(join(dir, "wal", name));
      };
      const scan = await scanLog(storage, { onProgress, ...(onRecord ? { onRecord } : {}) });
      return { scan, first: Number(names[2]!.slice(0, 20)) };
    };
    // verify and inspect: the log as it is now, not an IO error on a vanished file.
    const { scan, first } = await scanWhileRetained();
    assert.deepEqual([scan.firstSeq, scan.lastSeq, scan.damage], [first, 40, undefined]);
    // wal, which printed the records before the gap: says so rather than skip them silently.
    const seqs: number[] = [];
    await assert.rejects(
      scanWhileRetained((record) => void seqs.push(record.seq)),
      (error: Error) => {
        assert.equal((error as { code?: string }).code, "IO_ERROR");
        const gap = `records ${seqs.at(-1)! + 1}..${first - 1} were removed while being read`;
        assert.ok(error.message.startsWith(gap), error.message);
        return true;
      },
    );
  });

  test("progress: a scan past its quiet second reports each segment on stderr", async () => {
    const { storage } = await openLogDirectory(plain);
    const lines: string[] = [];
    const context = {
      line: () => Promise.resolve(),
      warn: () => assert.fail("no warning expected"),
      progress: (text: string) => void lines.push(text),
      exitCode: 0,
    };
    // Quiet for 0 ms: every segment reports, with the share of the log's bytes read so far.
    const scan = await scanLog(storage, { onProgress: scanProgress(context, "verifying", 0) });
    assert.equal(scan.segments.length, 3);
    assert.deepEqual(lines, ["verifying: 33%", "verifying: 67%", "verifying: 100%"]);
    // The real CLI on a small log stays within its quiet second: nothing on stderr.
    const run = await cli("verify", plain);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stderr, "");
  });

  test("usage errors exit 2 with one line and no stack trace", async () => {
    const notData = mkdtempSync(join(root, "empty-"));
    const cases = [
      ["verify"],
      ["verify", join(root, "missing")],
      ["verify", notData],
      ["repair", plain, "--truncate-after", "abc"],
      ["wal", plain],
      ["wal", plain, "--from", "1", "--limit", "0"],
      ["frobnicate"],
    ];
    const runs = await Promise.all(cases.map((args) => cli(...args)));
    runs.forEach((run, index) => {
      const what = cases[index]!.join(" ");
      assert.equal(run.status, 2, `${what}: ${run.stderr}`);
      assert.equal(run.stdout, "", what);
      assert.match(run.stderr, /^statebase: [^\n]+\n$/, `${what}: ${run.stderr}`);
    });
    assert.deepEqual(readdirSync(notData), [], "a tool never creates a data directory");
  });

  test("--version prints the package version", async () => {
    const run = await cli("--version");
    assert.equal(run.status, 0);
    const pkg = JSON.parse(
      readFileSync(resolve(import.meta.dirname, "../../package.json"), "utf8"),
    );
    assert.equal(run.stdout, `${pkg.version}\n`);
  });
});
