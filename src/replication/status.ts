/**
 * @module The one-line description of a replicated node's durability that `statebase serve`
 * prints at start and INFO can include: which stream, how many replicas, what the server
 * syncs, and this node's role and position.
 */
import type { ReplicationStatus } from "../types.ts";

export function formatReplicationStatus(status: ReplicationStatus): string {
  const replicas =
    status.streamReplicas === 1
      ? "1 replica (no copy survives losing it)"
      : `${status.streamReplicas} replicas`;
  return (
    `replication: node ${status.node} is ${status.role} on stream ${status.stream} ` +
    `(${replicas}; nats-server ${status.serverVersion}, sync ${status.serverSync}); ` +
    `applied seq ${status.appliedSeq}, lag ${status.lagCommits} commits`
  );
}
