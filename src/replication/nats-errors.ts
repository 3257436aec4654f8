/**
 * @module How the replication code reads NATS client errors: which mean "another writer got
 * there first" (a failed compare-and-set on a sequence) and which are transient (no answer
 * yet, no responders during a leader election, a reconnecting client) and worth a retry.
 */
import { JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";

/** JetStream's API code for a failed expected-last-sequence check. */
export const wrongLastSequenceCode = 10071;

/** The compare-and-set on a stream or KV sequence failed: someone else wrote first. */
export function isWrongLastSequence(error: unknown): boolean {
  return error instanceof JetStreamApiError && error.code === wrongLastSequenceCode;
}

/** JetStream has no stream of that name. */
export function isStreamNotFound(error: unknown): boolean {
  return error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound;
}

/** Failures that say nothing about the log's contents: the same request may be sent again. */
export function isTransient(error: unknown): boolean {
  if (error instanceof JetStreamApiError) {
    // 503: no leader for the stream yet (an election after a node failed).
    return error.status === 503;
  }
  if (!(error instanceof Error)) return false;
  const text = `${error.name} ${error.message}`.toLowerCase();
  return /timeout|no responders|not enabled|disconnect|connection|closed|reconnect/.test(text);
}
