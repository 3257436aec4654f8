/**
 * @module The writer lease: one key in a JetStream KV bucket whose time to live is the lease's.
 * A node becomes the writer by creating the key (it fails while another node holds it) and
 * stays the writer by updating it with compare-and-set on the revision it last wrote. When
 * the writer dies, the key expires and a follower creates it. The lease only elects; safety
 * comes from the log's fenced append, so a paused writer that wakes up is refused there.
 * The key's value names the holder and the HTTP address it advertises, so followers know
 * where to forward writes; it is rewritten with every renewal, under the same revision check.
 * It also carries a token of the holding process, by which a writer whose renewal landed
 * but was never answered recognises the key as still its own.
 */
import { randomUUID } from "node:crypto";
import type { KV } from "@nats-io/kv";
import { isWrongLastSequence } from "./nats-errors.ts";

export interface LeaseOptions {
  readonly kv: KV;
  readonly node: string;
  readonly ttlMs: number;
  /** This node's advertised HTTP base URL, read at every write of the key (may appear late). */
  readonly advertiseHttp?: () => string | undefined;
}

/** Who holds the lease, as its value says. */
export interface LeaseHolder {
  readonly node: string;
  /** HTTP base URL the holder advertises; absent when it advertises none (yet). */
  readonly http?: string;
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
  private readonly token = randomUUID();
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
      // A renewal whose answer never came may have landed: the key then still holds this
      // lease's own value, at a later revision, and nobody else wrote it since.
      const landed = await this.ownRevision();
      if (landed === undefined || landed === this.revision) {
        this.revision = 0;
        return false;
      }
      this.revision = landed;
      return this.renew();
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

  /** The node named in the lease and the address it advertises, if any node holds it. */
  async holder(): Promise<LeaseHolder | undefined> {
    const entry = await this.options.kv.get(leaseKey);
    return entry === null || entry.operation !== "PUT" ? undefined : parseHolder(entry.string());
  }

  /** The key's revision when it holds this lease's value (this very process's), else undefined. */
  private async ownRevision(): Promise<number | undefined> {
    const entry = await this.options.kv.get(leaseKey);
    if (entry === null || entry.operation !== "PUT") return undefined;
    let token: unknown;
    try {
      token = (JSON.parse(entry.string()) as { token?: unknown }).token;
    } catch {
      return undefined; // a bare node name: written by another (older) process
    }
    return token === this.token ? entry.revision : undefined;
  }

  /** What this node writes into the key. */
  own(): LeaseHolder {
    const http = this.options.advertiseHttp?.();
    return http === undefined ? { node: this.options.node } : { node: this.options.node, http };
  }

  /** The key's value: the holder, and a token of this process (two nodes may share a name). */
  private value(): string {
    return JSON.stringify({ ...this.own(), token: this.token });
  }
}

/** Reads a lease value: JSON, or a bare node name as written before addresses were added. */
function parseHolder(text: string): LeaseHolder {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { node: text }; // a bare name: its writer advertises no address
  }
  if (parsed === null || typeof parsed !== "object") return { node: text };
  const { node, http } = parsed as Record<string, unknown>;
  if (typeof node !== "string") return { node: text };
  return typeof http === "string" ? { node, http } : { node };
}
