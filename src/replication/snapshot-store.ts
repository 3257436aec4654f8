/**
 * @module Snapshots in JetStream's object store, so a new node starts from the newest image
 * plus the stream after it instead of replaying the whole history. The image is the log's own
 * snapshot format (log/snapshot.ts), written through an in-memory directory and uploaded as
 * one object; its name carries both the commit seq and the stream sequence it covers.
 */
import type { ObjectStore } from "@nats-io/obj";
import { assert } from "../lib/assert.ts";
import { DbError } from "../lib/errors.ts";
import type { Engine } from "../engine/index.ts";
import { decodeSnapshot, writeSnapshot } from "../log/index.ts";
import type { SnapshotImage } from "../log/index.ts";
import { createMemoryStorage } from "../storage/index.ts";
import { isTransient } from "./nats-errors.ts";

/** A snapshot object: the commit it follows and that commit's stream sequence. */
export interface StoredSnapshot {
  readonly name: string;
  readonly seq: number;
  readonly streamSeq: number;
}

const objectNamePattern = /^snapshot-(\d{20})-(\d{20})$/;

export function snapshotObjectName(seq: number, streamSeq: number): string {
  return `snapshot-${String(seq).padStart(20, "0")}-${String(streamSeq).padStart(20, "0")}`;
}

/** Snapshot objects in the bucket, newest first. */
export async function listStoredSnapshots(store: ObjectStore): Promise<StoredSnapshot[]> {
  const found: StoredSnapshot[] = [];
  for (const info of await store.list()) {
    const match = objectNamePattern.exec(info.name);
    if (match === null || info.deleted) continue;
    found.push({ name: info.name, seq: Number(match[1]), streamSeq: Number(match[2]) });
  }
  return found.sort((a, b) => b.seq - a.seq);
}

/**
 * Writes the engine's state as of now (commit `engine.seq`, whose record hash is `hash`) and
 * uploads it once `durable` resolves (that commit is in the stream): a snapshot must never cover
 * history the stream could still refuse. `restoredTs` is the commit time of the snapshot the
 * engine was restored from: a snapshot taken before any commit since holds state that old.
 */
export async function uploadSnapshot(
  engine: Engine,
  store: ObjectStore,
  position: { hash: Uint8Array; streamSeq: number },
  durable: Promise<void>,
  restoredTs: number | undefined,
): Promise<{ stored: StoredSnapshot; sizeBytes: number }> {
  const storage = createMemoryStorage({ directory: "snapshot-upload" });
  // writeSnapshot captures the state before its first await: the caller's position matches.
  const info = await writeSnapshot(engine, storage, position.hash, { restoredTs });
  await durable;
  const file = await storage.open(info.name, { create: false });
  const bytes = await file.read(0, await file.size());
  await file.close();
  assert(bytes.length === info.sizeBytes, "snapshot read back short");
  const name = snapshotObjectName(info.seq, position.streamSeq);
  await store.putBlob({ name, description: `statebase snapshot after commit ${info.seq}` }, bytes);
  return {
    stored: { name, seq: info.seq, streamSeq: position.streamSeq },
    sizeBytes: bytes.length,
  };
}

/**
 * How long a download waits for an object's next chunk before it gives that try up. The
 * store's reader waits for chunks until the last one arrives, with no bound of its own: a
 * chunk deleted after the count was checked would be waited for forever. (The requests
 * before the chunks are bounded by the JetStream client's request timeout.)
 */
export const snapshotChunkWaitMsMax = 10_000;
/** Tries at one object while NATS fails transiently or a chunk is late, before giving up. */
export const snapshotDownloadTriesMax = 3;
/** Pause between two tries at one object. */
const snapshotDownloadRetryDelayMs = 250;

export interface DownloadOptions {
  /** Wait for the next chunk (default snapshotChunkWaitMsMax); tests make it short. */
  readonly chunkWaitMs?: number;
}

/**
 * Downloads and checks one snapshot: CORRUPT when the image does not verify, IO_ERROR when
 * NATS failed transiently (or a chunk never came) at every one of snapshotDownloadTriesMax
 * tries. Either way the caller may fall back to an older snapshot.
 */
export async function downloadSnapshot(
  store: ObjectStore,
  stored: StoredSnapshot,
  options: DownloadOptions = {},
): Promise<SnapshotImage | undefined> {
  const chunkWaitMs = options.chunkWaitMs ?? snapshotChunkWaitMsMax;
  assert(chunkWaitMs > 0, "a chunk wait must be positive");
  const bytes = await getObjectRetrying(store, stored.name, chunkWaitMs);
  if (bytes === null) return undefined; // removed by retention since it was listed
  // Decoded where it landed: a copy of a large snapshot into fresh memory costs as much as a
  // fifth of a new node's start.
  const image = decodeSnapshot(bytes, stored.name);
  if (image.seq !== stored.seq) {
    throw objectCorrupt(stored.name, `its name says commit ${stored.seq}, its image ${image.seq}`);
  }
  return image;
}

/** getObject, tried again on a transient failure; IO_ERROR naming the object after the last. */
async function getObjectRetrying(
  store: ObjectStore,
  name: string,
  chunkWaitMs: number,
): Promise<Uint8Array | null> {
  for (let tryCount = 1; ; tryCount++) {
    try {
      return await getObject(store, name, chunkWaitMs);
    } catch (error) {
      // Our own IO_ERROR is a late chunk; a CORRUPT one is final, the client's may pass.
      const retry = error instanceof DbError ? error.code === "IO_ERROR" : isTransient(error);
      if (!retry) throw error;
      if (tryCount >= snapshotDownloadTriesMax) {
        const why = error instanceof DbError ? error.message : String(error);
        throw new DbError(
          "IO_ERROR",
          `snapshot object ${name}: not read in ${tryCount} tries: ${why}`,
          { object: name },
        );
      }
      await new Promise((resolve) => setTimeout(resolve, snapshotDownloadRetryDelayMs));
    }
  }
}

/**
 * The bytes of object `name`, gathered into one array of the object's size as its chunks
 * arrive (getBlob grows a buffer and copies it again); null when there is no such object.
 * The store checks the chunks' digest and reports a mismatch through `error`.
 */
async function getObject(
  store: ObjectStore,
  name: string,
  chunkWaitMs: number,
): Promise<Uint8Array | null> {
  const info = await store.info(name);
  if (info === null || info.deleted) return null;
  // The store reads chunks until the last one arrives: with some gone it would wait forever.
  const chunkSubject = `$O.${info.bucket}.C.${info.nuid}`;
  const status = await store.status({ subjects_filter: chunkSubject });
  const chunkCount = status.streamInfo.state.subjects?.[chunkSubject] ?? 0;
  if (chunkCount !== info.chunks) {
    throw objectCorrupt(name, `the store holds ${chunkCount} of its ${info.chunks} chunks`);
  }
  const result = await store.get(name).catch(readError(name));
  if (result === null) return null;
  const bytes = new Uint8Array(result.info.size);
  let filled = 0;
  const gather = async (): Promise<void> => {
    const reader = result.data.getReader();
    try {
      for (;;) {
        const { done, value } = await readChunk(reader, name, chunkWaitMs);
        if (done) return;
        if (filled + value.length > bytes.length) throw objectSizeError(name, bytes.length);
        bytes.set(value, filled);
        filled += value.length;
      }
    } catch (error) {
      // Stops the store's consumer; its own complaint, if any, is the error thrown here.
      await reader.cancel().catch(() => undefined);
      throw error;
    }
  };
  const [error] = await Promise.all([result.error, gather()]).catch(readError(name));
  // Resolves to undefined (not null, as typed) when the object read cleanly.
  if (error instanceof Error) readError(name)(error);
  if (filled !== bytes.length) throw objectSizeError(name, bytes.length);
  return bytes;
}

/** The next chunk, or IO_ERROR when none arrives within `chunkWaitMs`. */
async function readChunk(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  name: string,
  chunkWaitMs: number,
): ReturnType<ReadableStreamDefaultReader<Uint8Array>["read"]> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      const why = `no chunk arrived for ${chunkWaitMs} ms`;
      reject(new DbError("IO_ERROR", `snapshot object ${name}: ${why}`, { object: name }));
    }, chunkWaitMs);
  });
  try {
    return await Promise.race([reader.read(), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The store's own complaints about an object's description or digest mean CORRUPT. */
function readError(name: string): (error: unknown) => never {
  return (error) => {
    if (error instanceof Error && /digest/.test(error.message)) {
      throw objectCorrupt(name, error.message.replace(/\s+/g, " "));
    }
    throw error;
  };
}

function objectSizeError(name: string, sizeBytes: number): DbError {
  return objectCorrupt(name, `content differs from its ${sizeBytes} bytes`);
}

function objectCorrupt(name: string, why: string): DbError {
  return new DbError("CORRUPT", `snapshot object ${name}: ${why}`, { object: name });
}

/** Deletes all but the newest `kept` snapshots; returns the oldest one kept. */
export async function pruneSnapshots(
  store: ObjectStore,
  kept: number,
): Promise<StoredSnapshot | undefined> {
  assert(kept >= 1, "at least one snapshot must be kept");
  const snapshots = await listStoredSnapshots(store);
  for (const old of snapshots.slice(kept)) await store.delete(old.name);
  return snapshots[Math.min(kept, snapshots.length) - 1];
}
