/**
 * @module The writer lease: one key in a JetStream KV bucket whose time to live is the lease's.
 * A node becomes the writer by creating the key (it fails while another node holds it) and
 * stays the writer by updating it with compare-and-set on the revision it last wrote. When
 * the writer dies, the key expires and a follower creates it. The lease only elects; safety
 * comes from the log's fenced append, so a paused writer that wakes up is refused there.
 */
import type { KV } from "@nats-io/kv";
import { isWrongLastSequence } from "./nats-errors.ts";

export interface LeaseOptions {
  readonly kv: KV;
  readonly node: string;
  readonly ttlMs: number;
}

/** Name of the key holding the lease inside the lease bucket. */
export const leaseKey = "writer";

/**
 * A writer stops accepting commits when its last renewal is older than this part of the TTL,
 * so it gives up before the key can expire and another node can take over. The margin is one
 * renewal period: a busy writer whose renewal answers late must not lose its lease for it.
 */
const leaseSelfFenceFraction = 5 / 6;

export class WriterLease {
  private revision = 0;
  private renewedAtMs = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: LeaseOptions) {}

  /** Whether this node holds the lease by its own clock, with a margin before it expires. */
  get held(): boolean {
    if (this.revision === 0) return false;
    return performance.now() - this.renewedAtMs < this.options.ttlMs * leaseSelfFenceFraction;
  }

  /** Creates the key; false when another node holds it. */
  async acquire(): Promise<boolean> {
    const startedMs = performance.now();
    try {
      this.revision = await this.options.kv.create(leaseKey, this.value());
    } catch (error) {
      if (isWrongLastSequence(error)) return false;
      throw error;
    }
    this.renewedAtMs = startedMs;
    return true;
  }

  /** Extends the lease; false when it was lost (another node took it, or it expired). */
  async renew(): Promise<boolean> {
    if (this.revision === 0) return false;
    const startedMs = performance.now();
    try {
      const timeoutMs = this.options.ttlMs / 3; // a later answer is of no use
      this.revision = await this.options.kv.update(
        leaseKey,
        this.value(),
        this.revision,
        timeoutMs,
      );
    } catch (error) {
      if (!isWrongLastSequence(error)) throw error;
      this.revision = 0;
      return false;
    }
    // Measured from before the request: the server's TTL counts from when it stored the value.
    this.renewedAtMs = startedMs;
    return true;
  }

  /** Gives the lease up so a follower need not wait for it to expire. */
  async release(): Promise<void> {
    const revision = this.revision;
    this.revision = 0;
    if (revision === 0) return;
    try {
      await this.options.kv.delete(leaseKey, { previousSeq: revision });
    } catch (error) {
      // Someone else already holds it: nothing of ours to release.
      if (!isWrongLastSequence(error)) throw error;
    }
  }

  /** Forgets the lease without telling the bucket (after this node was fenced). */
  drop(): void {
    this.revision = 0;
  }

  /** The node named in the lease, if any node holds it. */
  async holder(): Promise<string | undefined> {
    const entry = await this.options.kv.get(leaseKey);
    return entry === null || entry.operation !== "PUT" ? undefined : entry.string();
  }

  private value(): string {
    return this.options.node;
  }
}
