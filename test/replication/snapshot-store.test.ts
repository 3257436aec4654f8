/**
 * Goal: snapshots in the object store say the truth about the state they hold, and a node
 * meets a missing or damaged snapshot object with a clear outcome, never a crash.
 * Method: in-process replicated nodes against the nats-server at NATS_URL, each test on its own
 * stream; the objects are read (and damaged) with the NATS client directly.
 */
import { test } from "node:test";
import type { TestContext } from "node:test";
import assert from "node:assert/strict";
import { connect, headers as natsHeaders } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Objm } from "@nats-io/obj";
import type { ObjectStore } from "@nats-io/obj";
import { open, createManualClock, DbError } from "../../src/index.ts";
import type { Clock, ReplicateOptions } from "../../src/index.ts";
import { decodeSnapshot } from "../../src/log/index.ts";
import {
  downloadSnapshot,
  listStoredSnapshots,
  snapshotDownloadTriesMax,
} from "../../src/replication/snapshot-store.ts";
import {
  applyWorkloadStep,
  referenceDigest,
  stateDigest,
  workloadSetup,
} from "../support/crash-workload.ts";
import { deleteReplicatedLog, natsUrl, uniqueStream } from "../support/nats.ts";

const quiet = (): void => undefined;
const hourMs = 3_600_000;

function replicated(stream: string, node: string, clock: Clock, extra?: Partial<ReplicateOptions>) {
  return open({ replicate: { url: natsUrl, stream, node, ...extra }, clock, onMessage: quiet });
}

/** The commit times stamped in the stream's snapshot objects, newest (highest seq) first. */
async function storedSnapshotTimes(stream: string): Promise<number[]> {
  const nc = await connect({ servers: natsUrl });
  try {
    const store = await new Objm(nc).open(`${stream}_snapshots`);
    const names = (await store.list())
      .map((info) => info.name)
      .sort()
      .reverse();
    const times: number[] = [];
    for (const name of names) {
      const bytes = await store.getBlob(name);
      assert.ok(bytes !== null, `object ${name} reads back`);
      times.push(decodeSnapshot(bytes, name).ts);
    }
    return times;
  } finally {
    await nc.close();
  }
}

test("a snapshot taken right after a restart from a snapshot keeps its state's time", async (t) => {
  const stream = uniqueStream("snap_ts");
  t.after(() => deleteReplicatedLog(stream));
  const clock = createManualClock(1_800_000_000_000);
  const first = await replicated(stream, "a", clock);
  workloadSetup(first);
  for (let n = 1; n <= 5; n++) {
    clock.advance(1000);
    first.transact((tx) => applyWorkloadStep(tx, n));
  }
  await first.durable();
  const stateTs = clock.now();
  await first.snapshot();
  await first.close();
  clock.advance(hourMs);
  // Restored from that snapshot, no commit since: the state is an hour old, not new.
  const again = await replicated(stream, "a", clock);
  t.after(() => again.close());
  assert.equal(again.seq, 6);
  await again.snapshot();
  assert.deepEqual(await storedSnapshotTimes(stream), [stateTs, stateTs]);
});

/**
 * A writer with two snapshots (steps 1..20, then 1..30) and the stream purged below the older;
 * `damage` spoils the newer's object. A new node must warn naming it and start from the older.
 */
async function startsFromOlderSnapshot(
  t: TestContext,
  prefix: string,
  damage: (store: StoreAccess, name: string) => Promise<void>,
): Promise<void> {
  const stream = uniqueStream(prefix);
  t.after(() => deleteReplicatedLog(stream));
  const clock = createManualClock(1_800_000_000_000);
  const writer = await replicated(stream, "w", clock, { snapshotsKept: 2 });
  t.after(() => writer.close());
  workloadSetup(writer);
  for (let n = 1; n <= 30; n++) {
    writer.transact((tx) => applyWorkloadStep(tx, n));
    if (n === 20 || n === 30) await writer.snapshot();
  }
  await writer.durable();
  const nc = await connect({ servers: natsUrl });
  t.after(() => nc.close());
  const bucket = `${stream}_snapshots`;
  const access = { nc, bucket, store: await new Objm(nc).open(bucket) };
  const newest = (await access.store.list())
    .map((info) => info.name)
    .sort()
    .at(-1)!;
  await damage(access, newest);
  const warnings: string[] = [];
  const late = await open({
    replicate: { url: natsUrl, stream, node: "late", role: "follower" },
    onMessage: (kind, text) => {
      if (kind === "warning") warnings.push(text);
    },
  });
  t.after(() => late.close());
  assert.equal(late.seq, writer.seq);
  assert.equal(stateDigest(late), referenceDigest(30));
  assert.ok(
    warnings.some((w) => w.includes(newest) && /trying an older snapshot/.test(w)),
    warnings.join("\n"),
  );
}

interface StoreAccess {
  readonly nc: NatsConnection;
  readonly bucket: string;
  readonly store: ObjectStore;
}

test("a snapshot object failing its digest is passed over for an older one", async (t) => {
  await startsFromOlderSnapshot(t, "snap_digest", async ({ nc, bucket, store }, name) => {
    // Its description rewritten with another object's digest: the chunks no longer match.
    const infos = await store.list();
    const own = infos.find((info) => info.name === name)!;
    const other = infos.find((info) => info.name !== name)!;
    const meta = { ...own, digest: other.digest };
    const padded = Buffer.from(name).toString("base64").replaceAll("+", "-").replaceAll("/", "_");
    const subject = `$O.${bucket}.M.${padded}`;
    const headers = natsHeaders();
    headers.set("Nats-Rollup", "sub");
    await jetstream(nc).publish(subject, JSON.stringify(meta), { headers });
  });
});

test("a snapshot object whose chunks are gone is passed over, not waited for", async (t) => {
  await startsFromOlderSnapshot(t, "snap_chunks", async ({ nc, bucket, store }, name) => {
    const info = (await store.info(name))!;
    const jsm = await jetstreamManager(nc);
    await jsm.streams.purge(`OBJ_${bucket}`, { filter: `$O.${bucket}.C.${info.nuid}` });
  });
});

test("a node opening a stream purged whole, with no snapshot for it, is refused", async (t) => {
  const stream = uniqueStream("purged");
  t.after(() => deleteReplicatedLog(stream));
  const clock = createManualClock(1_800_000_000_000);
  const writer = await replicated(stream, "w", clock);
  workloadSetup(writer);
  for (let n = 1; n <= 5; n++) writer.transact((tx) => applyWorkloadStep(tx, n));
  await writer.durable();
  await writer.close();
  const nc = await connect({ servers: natsUrl });
  t.after(() => nc.close());
  await (await jetstreamManager(nc)).streams.purge(stream);
  await assert.rejects(
    replicated(stream, "late", clock),
    (e: unknown) =>
      e instanceof DbError &&
      e.code === "SEQ_NOT_RETAINED" &&
      /no snapshot covers the messages before it/.test(e.message),
  );
});

/**
 * A stream with one snapshot (steps 1..10) and the object store it is in, for tests that call
 * downloadSnapshot through a store whose calls they intercept.
 */
async function storeWithSnapshot(t: TestContext, prefix: string) {
  const stream = uniqueStream(prefix);
  t.after(() => deleteReplicatedLog(stream));
  const writer = await replicated(stream, "w", createManualClock(1_800_000_000_000));
  workloadSetup(writer);
  for (let n = 1; n <= 10; n++) writer.transact((tx) => applyWorkloadStep(tx, n));
  await writer.snapshot();
  await writer.close();
  const nc = await connect({ servers: natsUrl });
  t.after(() => nc.close());
  const bucket = `${stream}_snapshots`;
  const store = await new Objm(nc).open(bucket);
  const [stored] = await listStoredSnapshots(store);
  assert.ok(stored !== undefined);
  return { nc, bucket, store, stored };
}

/** `store` with `method` replaced by `replacement` (given the original). */
function intercepted<K extends keyof ObjectStore>(
  store: ObjectStore,
  method: K,
  replacement: (original: ObjectStore[K]) => ObjectStore[K],
): ObjectStore {
  const original = (store[method] as (...args: unknown[]) => unknown).bind(store);
  const swapped = replacement(original as ObjectStore[K]);
  return new Proxy(store, {
    get: (target, key, receiver) =>
      key === method ? swapped : (Reflect.get(target, key, receiver) as unknown),
  });
}

test("a download NATS fails transiently is tried again and reads the snapshot", async (t) => {
  const { store, stored } = await storeWithSnapshot(t, "snap_transient");
  let failuresLeft = 2;
  const flaky = intercepted(store, "info", (info) => async (name) => {
    if (failuresLeft-- > 0) throw new Error("TIMEOUT");
    return info(name);
  });
  const image = await downloadSnapshot(flaky, stored);
  assert.equal(image?.seq, stored.seq);
  assert.equal(failuresLeft, -1);
});

test("a download that keeps failing transiently gives up as IO_ERROR naming it", async (t) => {
  const { store, stored } = await storeWithSnapshot(t, "snap_down");
  let tries = 0;
  const down = intercepted(store, "info", () => () => {
    tries++;
    return Promise.reject(new Error("TIMEOUT"));
  });
  await assert.rejects(downloadSnapshot(down, stored), (e: unknown) => {
    assert.ok(e instanceof DbError, String(e));
    assert.equal(e.code, "IO_ERROR");
    assert.match(e.message, new RegExp(`snapshot object ${stored.name}: .*TIMEOUT`));
    return true;
  });
  assert.equal(tries, snapshotDownloadTriesMax);
});

// The timeout only turns a regression (a download that waits forever) into a failure.
test(
  "chunks deleted after the chunk count was checked: CORRUPT, not a hang",
  { timeout: 60_000 },
  async (t) => {
    const { nc, bucket, store, stored } = await storeWithSnapshot(t, "snap_race");
    const jsm = await jetstreamManager(nc);
    const racing = intercepted(store, "status", (status) => async (options) => {
      const answer = await status(options);
      const info = (await store.info(stored.name))!;
      await jsm.streams.purge(`OBJ_${bucket}`, { filter: `$O.${bucket}.C.${info.nuid}` });
      return answer;
    });
    await assert.rejects(downloadSnapshot(racing, stored, { chunkWaitMs: 200 }), (e: unknown) => {
      assert.ok(e instanceof DbError, String(e));
      assert.equal(e.code, "CORRUPT");
      assert.match(e.message, new RegExp(`snapshot object ${stored.name}: the store holds 0 of`));
      return true;
    });
  },
);
