/**
 * @module Every named limit of Statebase in one place. Exceeding one at the edge is a
 * `LIMIT_EXCEEDED` error; exceeding one inside the engine is a failed assertion.
 */
import { assert } from "./assert.ts";

/** Longest object or namespace name, in UTF-16 code units. */
export const nameLengthMax = 128;
/** Columns in one table, ring buffer or series. */
export const columnsMax = 1024;
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
/** Histogram precision, in significant decimal digits (HDR-style). */
export const histogramDigitsMax = 5;
/** Histogram range: the largest trackable value. */
export const histogramValueMax = Number.MAX_SAFE_INTEGER;

assert(changeFeedCommitsRetainedDefault <= changeFeedCommitsRetainedMax);
assert(queryDepthMax > 0 && queryDepthMax <= 1024, "queryDepthMax must keep recursion shallow");
assert(nameLengthMax < textLengthMax);
assert(histogramDigitsMax >= 1 && histogramDigitsMax <= 5);
