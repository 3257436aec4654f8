/**
 * @module Scale-out: the log backend contract and its JetStream implementation. A database
 * opened with `replicate` keeps its log in a NATS JetStream stream: the writer publishes each
 * commit with a fenced append (publisher.ts), followers apply the stream in order
 * (follower.ts), a KV lease elects the writer (lease.ts) and snapshots live in the object
 * store (snapshot-store.ts). replicated-log.ts ties them together. This file only re-exports;
 * database.ts loads it on demand so memory-only databases never load the NATS client.
 */
export { createLocalBackend } from "./log-backend.ts";
export type { LocalLog, LogBackend } from "./log-backend.ts";
export { checkReplicatedDurability, isNatsUrl, openReplicatedLog } from "./replicated-log.ts";
export {
  leaseTtlMsDefault,
  leaseTtlMsMax,
  leaseTtlMsMin,
  streamNameDefault,
} from "./stream-setup.ts";
export { formatReplicationStatus } from "./status.ts";
