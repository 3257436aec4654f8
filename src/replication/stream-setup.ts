/**
 * @module Connecting a node to its replicated log: the NATS connection, the stream holding the
 * commit records (one subject, one message per commit, deduplication by record hash), the KV
 * bucket of the writer lease and the object store of snapshots. Creates what is missing with
 * this node's settings and reports what durability the stream actually has.
 */
import { randomUUID } from "node:crypto";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import {
  jetstream,
  jetstreamManager,
  JetStreamApiCodes,
  JetStreamApiError,
  RetentionPolicy,
} from "@nats-io/jetstream";
import type { JetStreamClient, JetStreamManager, StreamInfo } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { KV } from "@nats-io/kv";
import { Objm, setSha256Backend } from "@nats-io/obj";
import type { ObjectStore } from "@nats-io/obj";
import { DbError } from "../lib/errors.ts";
import { isTransient } from "./nats-errors.ts";
import type { ReplicateOptions } from "../types.ts";

export interface LogConnection {
  readonly nc: NatsConnection;
  readonly leaseNc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly kv: KV;
  readonly store: ObjectStore;
  readonly stream: string;
  readonly subject: string;
  readonly node: string;
  readonly streamReplicas: number;
  /** This node's lease time to live: `leaseTtlMs`, or the bucket's when unset. */
  readonly leaseTtlMs: number;
  /** The lease bucket's time to live: how long a dead writer's key lasts. */
  readonly leaseBucketTtlMs: number;
  /** When the stream was created: one created again under the same name is another log. */
  readonly streamCreated: string;
  /** The limits by which the stream discards messages itself, described; undefined if none. */
  readonly streamLimits: string | undefined;
  readonly serverVersion: string;
  readonly serverSync: string;
}

// Snapshots are tens of MB: the object store's pure-JS SHA-256 would hold the event loop for
// seconds (and cost the writer its lease); Node's native one does not.
setSha256Backend("native");

export const streamNameDefault = "statebase";
/** Default lease time to live: the bound on failover after the writer dies. */
export const leaseTtlMsDefault = 3000;
/** Shortest lease: renewals every TTL/6 must fit between NATS round trips. */
export const leaseTtlMsMin = 100;
/** Longest lease, ten minutes: a failover bound past it would be no failover. */
export const leaseTtlMsMax = 10 * 60 * 1000;
/** Retried publishes within this window are recognised by their message id. */
const duplicateWindowMs = 2 * 60 * 1000;
/** How long a connection attempt may take before open fails. */
const connectTimeoutMs = 5000;
/** How long open keeps retrying while JetStream has no leader (a NATS node just died). */
const setupRetryMs = 30_000;
/** The pause between two tries of a request that failed transiently. */
const retryTransientPauseMs = 250;
const streamNamePattern = /^[A-Za-z0-9_-]{1,200}$/;

/** Connects and makes sure the stream and both buckets exist. */
export async function connectLog(options: ReplicateOptions): Promise<LogConnection> {
  const stream = options.stream ?? streamNameDefault;
  if (!streamNamePattern.test(stream)) {
    throw new DbError("INVALID_ARGUMENT", `replicate.stream must be letters, digits, _ or -`, {
      value: stream,
    });
  }
  const replicas = options.replicas ?? 1;
  if (![1, 3, 5].includes(replicas)) {
    throw new DbError("INVALID_ARGUMENT", "replicate.replicas must be 1, 3 or 5", {
      value: replicas,
    });
  }
  const node = options.node ?? `node-${randomUUID().slice(0, 8)}`;
  const servers = typeof options.url === "string" ? options.url : [...options.url];
  const nc = await connectTo(servers, `statebase ${node}`);
  // The lease has a connection of its own: renewals must not queue behind a burst of
  // publishes on the log's connection, or a busy writer would lose its lease.
  const leaseNc = await connectTo(servers, `statebase ${node} lease`).catch(
    async (error: unknown) => {
      await nc.close();
      throw error;
    },
  );
  try {
    return await setUpLog({ nc, leaseNc }, options, { stream, node, replicas });
  } catch (error) {
    await nc.close();
    await leaseNc.close();
    throw setUpError(error, stream, replicas);
  }
}

/** JetStream's API code for a replica count the servers cannot hold. */
const replicasUnsupportedCode = 10074;

/** A refusal by JetStream while setting up, as a DbError naming the stream (and option). */
function setUpError(error: unknown, stream: string, replicas: number): unknown {
  if (!(error instanceof JetStreamApiError)) return error;
  if (error.code === replicasUnsupportedCode) {
    return new DbError(
      "INVALID_ARGUMENT",
      `replicate.replicas is ${replicas} but NATS refused it for stream ${stream}: ` +
        error.message,
      { value: replicas },
    );
  }
  return new DbError("IO_ERROR", `setting up stream ${stream} on NATS: ${error.message}`, {
    stream,
  });
}

async function connectTo(servers: string | string[], name: string): Promise<NatsConnection> {
  try {
    // noAsyncTraces: a stack trace captured for every publish would cost more than the publish.
    return await connect({
      servers,
      name,
      timeout: connectTimeoutMs,
      maxReconnectAttempts: -1,
      noAsyncTraces: true,
    });
  } catch (error) {
    throw new DbError("IO_ERROR", `cannot reach NATS at ${String(servers)}: ${String(error)}`);
  }
}

async function setUpLog(
  { nc, leaseNc }: { nc: NatsConnection; leaseNc: NatsConnection },
  options: ReplicateOptions,
  names: { stream: string; node: string; replicas: number },
): Promise<LogConnection> {
  const { stream, node, replicas } = names;
  const jsm = await retryTransient("reaching JetStream", () => jetstreamManager(nc));
  const subject = `${stream}.log`;
  const info = await retryTransient(`opening stream ${stream}`, () =>
    ensureStream(jsm, stream, subject, replicas),
  );
  const { kv, ttlMs, bucketTtlMs } = await openLeaseBucket(leaseNc, options.leaseTtlMs, {
    stream,
    replicas,
  });
  const store = await retryTransient("opening the snapshot bucket", () =>
    new Objm(nc).create(`${stream}_snapshots`, { replicas }),
  );
  const serverVersion = nc.info?.version ?? "unknown";
  return {
    nc,
    leaseNc,
    js: jetstream(nc),
    jsm,
    kv,
    store,
    stream,
    subject,
    node,
    streamReplicas: info.config.num_replicas,
    leaseTtlMs: ttlMs,
    leaseBucketTtlMs: bucketTtlMs,
    streamCreated: info.created,
    streamLimits: describeStreamLimits(info),
    serverVersion,
    serverSync: await describeServerSync(options.monitorUrl, serverVersion),
  };
}

/**
 * Opens the lease bucket, creating it with this node's TTL. An existing bucket keeps the TTL
 * it was created with. A node that times the lease longer than the key lives could write on
 * after its key expired and another node took over (then it is fenced, for good), so a node
 * given a longer `leaseTtlMs` is refused; a shorter one only renews more often (the caller
 * warns); one given none takes the bucket's.
 */
async function openLeaseBucket(
  leaseNc: NatsConnection,
  leaseTtlMs: number | undefined,
  { stream, replicas }: { stream: string; replicas: number },
): Promise<{ kv: KV; ttlMs: number; bucketTtlMs: number }> {
  const bucket = `${stream}_lease`;
  const open = (ttlMs: number): Promise<KV> =>
    retryTransient("opening the lease bucket", () =>
      // A renewal slower than a third of the lease is of no use: it times out by then.
      new Kvm(leaseNc).create(bucket, { history: 1, ttl: ttlMs, replicas, timeout: ttlMs / 3 }),
    );
  const ttlMs = leaseTtlMs ?? leaseTtlMsDefault;
  const kv = await open(ttlMs);
  const bucketTtlMs = (await retryTransient("reading the lease bucket", () => kv.status())).ttl;
  if (bucketTtlMs === ttlMs) return { kv, ttlMs, bucketTtlMs };
  if (bucketTtlMs <= 0) {
    throw new DbError(
      "INVALID_ARGUMENT",
      `the lease bucket ${bucket} has no TTL: a writer that dies would hold the lease ` +
        `forever; delete the bucket (every node stopped) so that a node creates it again`,
      { value: bucket },
    );
  }
  if (leaseTtlMs === undefined) {
    return { kv: await open(bucketTtlMs), ttlMs: bucketTtlMs, bucketTtlMs };
  }
  if (leaseTtlMs < bucketTtlMs) return { kv, ttlMs, bucketTtlMs };
  throw new DbError(
    "INVALID_ARGUMENT",
    `replicate.leaseTtlMs is ${leaseTtlMs} but the lease bucket ${bucket} has a TTL of ` +
      `${bucketTtlMs} ms, set when it was created: a node must not time the lease longer ` +
      `than its key lives; give every node of stream ${stream} the same leaseTtlMs (or ` +
      `none, to take the bucket's)`,
    { value: leaseTtlMs },
  );
}

async function ensureStream(
  jsm: JetStreamManager,
  stream: string,
  subject: string,
  replicas: number,
): Promise<StreamInfo> {
  try {
    const info = await jsm.streams.info(stream);
    if (!info.config.subjects.includes(subject)) {
      throw new DbError("INVALID_ARGUMENT", `stream ${stream} exists but lacks subject ${subject}`);
    }
    const retention = info.config.retention;
    if (retention !== RetentionPolicy.Limits) {
      // Such a stream removes a message once it is read or acknowledged: the log would lose
      // the history that nodes opened later must read.
      throw new DbError(
        "INVALID_ARGUMENT",
        `stream ${stream} has retention ${retention}: it removes messages once delivered, and ` +
          `the log must keep them; use a stream with limits retention (or let Statebase ` +
          `create it)`,
        { value: retention },
      );
    }
    return info;
  } catch (error) {
    const missing =
      error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound;
    if (!missing) throw error;
  }
  return jsm.streams.add({
    name: stream,
    subjects: [subject],
    num_replicas: replicas,
    duplicate_window: duplicateWindowMs * 1_000_000,
    deny_delete: true,
  });
}

/**
 * The limits by which the stream discards messages by itself, described; undefined when it
 * has none. Commits it discards before a snapshot covers them are lost to nodes opened later.
 */
function describeStreamLimits(info: StreamInfo): string | undefined {
  const { max_age, max_msgs, max_bytes, max_msgs_per_subject } = info.config;
  const limits = [
    max_age > 0 ? `max_age ${max_age / 1e9} s` : "",
    max_msgs > 0 ? `max_msgs ${max_msgs}` : "",
    max_bytes > 0 ? `max_bytes ${max_bytes}` : "",
    max_msgs_per_subject > 0 ? `max_msgs_per_subject ${max_msgs_per_subject}` : "",
  ].filter((limit) => limit !== "");
  if (limits.length === 0) return undefined;
  return (
    `stream ${info.config.name} discards messages: ${limits.join(", ")}; commits it ` +
    `discards before a snapshot covers them cannot be read by nodes opened later`
  );
}

/**
 * The server's fsync setting, read from its monitoring endpoint when one is given: JetStream
 * acknowledges a write once it is in the page cache of a quorum of replicas; only
 * `sync_interval: always` (nats-server 2.10 or later) adds an fsync before the acknowledgement.
 */
async function describeServerSync(url: string | undefined, version: string): Promise<string> {
  if (url === undefined) return "unknown (pass replicate.monitorUrl to read it)";
  try {
    const response = await fetch(`${url.replace(/\/$/, "")}/varz`, {
      signal: AbortSignal.timeout(connectTimeoutMs),
    });
    const varz = (await response.json()) as {
      jetstream?: { config?: { sync_interval?: number; sync_always?: boolean } };
    };
    const config = varz.jetstream?.config;
    if (config?.sync_always === true) return "always";
    if (typeof config?.sync_interval === "number") {
      return `every ${config.sync_interval / 1e9} s`;
    }
    return `default (nats-server ${version}: fsync every 2 min)`;
  } catch (error) {
    return `unknown (${String(error)})`;
  }
}

/**
 * Runs `fn` again while it fails transiently (no JetStream leader yet), up to a bound. Once
 * `abandoned` (its caller closed the node meanwhile) it stops with the last error instead:
 * on a closed connection every try fails as a lost one does, for the whole bound.
 */
export async function retryTransient<T>(
  what: string,
  fn: () => Promise<T>,
  abandoned: () => boolean = () => false,
): Promise<T> {
  const startedMs = performance.now();
  for (;;) {
    try {
      return await fn();
    } catch (error) {
      if (!isTransient(error)) throw error;
      if (performance.now() - startedMs > setupRetryMs) {
        throw new DbError("IO_ERROR", `${what}: ${String(error)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, retryTransientPauseMs));
      if (abandoned()) throw error;
    }
  }
}
