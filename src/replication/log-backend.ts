/**
 * @module The log backend contract: where a database's commits become durable. The local
 * segment files (durability.ts) and a JetStream stream (replicated-log.ts) both implement it,
 * so database.ts, the engine, views, subscriptions and recovery never ask which one is used:
 * each backend installs its own commit preparer on the engine and restores state on open.
 */
import type { DbError } from "../lib/errors.ts";
import type { ReplicationStatus } from "../types.ts";

/** What the database asks of its log, whichever one it is. */
export interface LogBackend {
  readonly kind: "local" | "jetstream";
  /** Resolves when commit `seq` is durable (on disk, or acknowledged by JetStream). */
  waitDurable(seq: number): Promise<void>;
  /** Resolves when every commit so far is durable. */
  flush(): Promise<void>;
  /** Back-pressure: resolves once the log has room for more commits. */
  writable(): Promise<void>;
  /** Writes a snapshot of the current state; commits go on meanwhile. */
  snapshot(): Promise<{ seq: number; sizeBytes: number }>;
  /** Role, position and lag of a replicated log; undefined for the local one. */
  status(): ReplicationStatus | undefined;
  /**
   * Why the log takes no more commits, for good (an IO failure; a replicated writer fenced
   * by another); undefined while it works. Only a restart, which recovers from the log,
   * serves again.
   */
  failure(): DbError | undefined;
  close(): Promise<void>;
}

/**
 * What the local adapter needs of durability.ts's DurableLog, stated structurally so the
 * replication module does not depend on the file-backed implementation.
 */
export interface LocalLog {
  readonly wal: {
    waitDurable(seq: number): Promise<void>;
    flush(): Promise<void>;
    readonly failure: DbError | undefined;
  };
  writable(): Promise<void>;
  snapshot(): Promise<{ seq: number; sizeBytes: number }>;
  close(): Promise<void>;
}

/** The local segment files as a {@link LogBackend}. */
export function createLocalBackend(log: LocalLog): LogBackend {
  return {
    kind: "local",
    waitDurable: (seq) => log.wal.waitDurable(seq),
    flush: () => log.wal.flush(),
    writable: () => log.writable(),
    snapshot: async () => {
      const info = await log.snapshot();
      return { seq: info.seq, sizeBytes: info.sizeBytes };
    },
    status: () => undefined,
    failure: () => log.wal.failure,
    close: () => log.close(),
  };
}
