/**
 * @module Every named limit of Statebase in one place. Exceeding one at the edge is a
 * `LIMIT_EXCEEDED` error; exceeding one inside the engine is a failed assertion.
 */
import { assert } from "./assert.ts";

/** Longest object or namespace name, in UTF-16 code units. */
export const nameLengthMax = 128;
/** Columns in one table, ring buffer or series. */
export const columnsMax = 1024;
/**
 * Columns an update can name one by one in its changed-columns bits (a small integer). An
 * update of a wider row says "unknown", and views compare the columns they read instead.
 */
export const changedColumnsTrackedMax = 30;
/** Default log growth after which a snapshot is taken (a single node's and a replica's). */
export const snapshotLogBytesDefault = 256 * 1024 * 1024;
/** Snapshots kept by default (older ones and the log they cover are removed). */
export const snapshotsKeptDefault = 2;
/** Snapshots a replicated node may keep in the object store (a local log has no cap). */
export const replicatedSnapshotsKeptMax = 1000;
/**
 * Whole-number keys a table finds by array index instead of by hash (0 up to this): a
 * pointer per key covered (8 bytes in Node's 64-bit builds), so at most 32 MB per table, held
 * until the table is dropped; keys past it are found by hash.
 */
export const tableDenseKeysMax = 4 * 1024 * 1024;
/**
 * Keys a table's dense array may skip when a new key lies past its end (each skipped key
 * costs an empty entry): ids from 1, or with a few gaps, are still found by index.
 */
export const tableDenseKeysSkippedMax = 64;
/** Secondary indexes on one object. */
export const indexesPerObjectMax = 64;
/** Objects in the catalog (namespaces excluded). */
export const objectsMax = 100_000;
/** Size of one utf8 value, in UTF-16 code units. */
export const textLengthMax = 16 * 1024 * 1024;
/** Size of one blob value. */
export const blobSizeBytesMax = 64 * 1024 * 1024;
/** Nesting depth of JSON documents accepted as `json` values. */
export const jsonDepthMax = 64;
/** Changes in one transaction: a runaway loop fails instead of exhausting memory. */
export const changesPerTransactionMax = 10_000_000;
/**
 * Commits kept in memory for `db.changes({ fromSeq })` (older ones come from the log). Kept
 * small by default: retained commits outlive the young generation and make GC expensive.
 */
export const changeFeedCommitsRetainedDefault = 1024;
export const changeFeedCommitsRetainedMax = 10_000_000;
/** Commits buffered for one slow change-feed reader before it is ended as lagged. */
export const changeFeedPendingCommitsMax = 100_000;
/** Commit listeners registered at once. */
export const listenersMax = 10_000;
/** Capacity of one ring buffer (per partition). */
export const ringBufferCapacityMax = 100_000_000;
/** Views (transactional, deferred and subscription queries) maintained by one database. */
export const viewsMax = 10_000;
/** Rows a view's `sort … take N` holds past its window, when it can read its input again. */
export const viewTopKSpareRows = 1024;
/** Rows read from an input per step while a view is populated. */
export const viewPopulateChunkRowsMax = 4096;
/** Length of an expression's source text, in UTF-16 code units. */
export const expressionLengthMax = 1024 * 1024;
/** Nesting depth of an expression; bounds parser recursion. */
export const queryDepthMax = 256;
/** Arguments of one function call in an expression. */
export const functionArgumentsMax = 64;
/** Messages claimed by one queue claim. */
export const queueClaimCountMax = 10_000;
/** Attempts allowed by a queue definition. */
export const queueAttemptsMax = 1_000_000;
/**
 * A queue's visibility or delay (definition, claim, enqueue, nack): 100 years, so a deadline
 * `now + ms` stays a whole time below 2^53 ms, as a machine timer's does.
 */
export const queueDelayMsMax = 100 * 365 * 24 * 60 * 60 * 1000;
/** Length of a queue message's dedup key, in UTF-16 code units (kept while it is queued). */
export const queueDedupKeyLengthMax = 1024;
/** Length of one RQL script's text, in UTF-16 code units. */
export const rqlScriptLengthMax = 4 * 1024 * 1024;
/** Statements in one RQL script. */
export const rqlStatementsMax = 10_000;
/** Parsed RQL scripts kept for reuse (an LRU by text): repeated queries skip parsing. */
export const rqlScriptCacheEntriesMax = 1024;
/** Procedure calls nested inside one another (a procedure calling procedures). */
export const procedureCallDepthMax = 32;
/** Registered procedures (TypeScript and RQL). */
export const proceduresMax = 10_000;
// ---- State machines ----
/** Versions of one machine definition (rstmdb's `max_machine_versions`; options may lower it). */
export const machineVersionsMax = 65_536;
/** States in one machine definition. */
export const machineStatesMax = 10_000;
/** Transitions in one machine definition. */
export const machineTransitionsMax = 100_000;
/** Effects declared on one transition. */
export const machineEffectsPerTransitionMax = 64;
/** Length of an instance id, in UTF-16 code units. */
export const machineInstanceIdLengthMax = 1024;
/** Length of an idempotency key, in UTF-16 code units (each is kept for the whole window). */
export const machineIdempotencyKeyLengthMax = 1024;
/** Instances one `listInstances` call returns; a larger `limit` is clamped (has_more says so). */
export const machineListInstancesMax = 100_000;
/** Expired idempotency keys removed by one write that stores a key (amortised clean-up). */
export const machineIdempotencyPurgeBatchMax = 16;
/** Default idempotency window: 24 h (rcp.md decision 6). */
export const machineIdempotencyWindowMsDefault = 24 * 60 * 60 * 1000;
/**
 * A durable timer's delay: 100 years. The deadline `now + ms` must stay a time the instance
 * row can hold (below 2^53 ms), whatever the clock reads.
 */
export const machineTimerDelayMsMax = 100 * 365 * 24 * 60 * 60 * 1000;
/** Timers one `fireDueTimers` call fires; the caller calls again for the rest. */
export const machineTimersPerFireMax = 10_000;
/** Histogram precision, in significant decimal digits (HDR-style). */
export const histogramDigitsMax = 5;
/** Histogram range: the largest trackable value. */
export const histogramValueMax = Number.MAX_SAFE_INTEGER;

// ---- RCP server (specs/rcp.md §1.5) ----
/** Largest RCP frame payload, as rstmdb's `MAX_PAYLOAD_SIZE` (16 MiB). */
export const rcpFrameSizeBytesMax = 16 * 1024 * 1024;
/** Longest JSON line in JSON-lines mode: the frame limit plus room for the newline. */
export const rcpLineSizeBytesMax = rcpFrameSizeBytesMax + 1;
/** Operations in one BATCH request. */
export const rcpBatchOpsMax = 100;
/** Open RCP connections; one more gets one error frame and is closed. */
export const rcpConnectionsMax = 1000;
/** A connection with no request and no subscription for this long is closed. */
export const rcpIdleTimeoutMs = 300_000;
/** Subscriptions on one connection. */
export const rcpSubscriptionsPerConnectionMax = 1024;
/** Stream events queued for one connection before its subscriptions end as lagged. */
export const rcpPendingEventsMax = 10_000;
/** Requests read ahead (pipelined) on one connection before reading pauses. */
export const rcpPendingRequestsMax = 1024;
/** Records one WAL_READ returns when the request names no limit. */
export const rcpWalReadRecordsDefault = 1000;
/** Records one WAL_READ may return. */
export const rcpWalReadRecordsMax = 100_000;

// ---- HTTP and WebSocket server (defaults; the server config may change each) ----
/** Size of one HTTP request body. */
export const httpBodySizeBytesMax = 4 * 1024 * 1024;
/** Size of one WebSocket message from a client. */
export const wsMessageSizeBytesMax = 4 * 1024 * 1024;
/** Open WebSocket connections; one more is refused with 503 before the upgrade. */
export const wsConnectionsMax = 10_000;
/** Bytes queued for one WebSocket before its subscriptions are ended as lagged. */
export const wsBufferedSizeBytesMax = 8 * 1024 * 1024;
/** Commits queued for one subscription before it is ended as lagged. */
export const subscriptionPendingCommitsMax = 10_000;
/** Subscriptions open on one WebSocket. */
export const wsSubscriptionsMax = 1_000;
/** Requests in flight on one WebSocket before new ones are refused. */
export const wsPendingRequestsMax = 1_000;
/** How long a request may take before it is answered with a timeout, in ms. */
export const requestTimeoutMsDefault = 30_000;
/**
 * How long the server thread may go without answering (a procedure in an endless loop, a
 * query of minutes): past it the process stops with exit code 1, so a supervisor restarts it
 * from the log instead of every client waiting forever.
 */
export const serverStallMsDefault = 60_000;
/** How often the main thread asks the server thread whether it still answers. */
export const serverStallCheckMs = 1_000;
/**
 * The young generation of the server's thread (V8 splits it into two 64 MiB semi-spaces and
 * room for large new objects). Node's default, 16 MiB semi-spaces, is scavenged every few
 * thousand requests under load, while requests wait for their group fsync and the commit
 * ring holds the last commits: those survive and are copied, then promoted. With 64 MiB most
 * of them die young; an RCP server under bench/rcp-profile spent about a fifth less CPU.
 */
export const serverYoungGenerationSizeMb = 192;

// ---- Time travel ----
/**
 * Past states (`db.at`, RQL `as of`) asked for at once: each holds a whole copy of the state
 * while it is built, so they are built one at a time and at most this many wait; more are
 * LIMIT_EXCEEDED (a read token's loop of `as of` queries must not run the server out of heap).
 */
export const timeTravelWaitingMax = 8;

// ---- Replication through JetStream ----
/** Commits published to JetStream and not yet acknowledged; more waits in `db.writable()`. */
export const replicationInFlightCommitsMax = 65_536;
/** Commits published together in one JetStream message (also bounded by its size). */
export const replicationBatchCommitsMax = 4096;

assert(changeFeedCommitsRetainedDefault <= changeFeedCommitsRetainedMax);
assert(queryDepthMax > 0 && queryDepthMax <= 1024, "queryDepthMax must keep recursion shallow");
assert(nameLengthMax < textLengthMax);
assert(histogramDigitsMax >= 1 && histogramDigitsMax <= 5);
assert(rcpWalReadRecordsDefault <= rcpWalReadRecordsMax);
assert(rcpLineSizeBytesMax > rcpFrameSizeBytesMax);
