/**
 * @module The RCP server's options, limits and the state its connections share.
 */
import {
  rcpBatchOpsMax,
  rcpConnectionsMax,
  rcpFrameSizeBytesMax,
  rcpIdleTimeoutMs,
  rcpPendingEventsMax,
  rcpSubscriptionsPerConnectionMax,
} from "../../lib/limits.ts";
import type { TokenEntry, TokenRole } from "../auth.ts";
import type { TlsConfig } from "../tls.ts";

/** Limits of one server (specs/rcp.md §1.5); each defaults to its constant in lib/limits.ts. */
export interface RcpLimits {
  frameSizeBytesMax: number;
  batchOpsMax: number;
  connectionsMax: number;
  /** Connections without subscriptions and without traffic for this long are closed. */
  idleTimeoutMs: number;
  /** Stream events written to a connection that does not read before it gets `end: lagged`. */
  pendingEventsMax: number;
  subscriptionsPerConnectionMax: number;
}

export const rcpLimitsDefault: Readonly<RcpLimits> = {
  frameSizeBytesMax: rcpFrameSizeBytesMax,
  batchOpsMax: rcpBatchOpsMax,
  connectionsMax: rcpConnectionsMax,
  idleTimeoutMs: rcpIdleTimeoutMs,
  pendingEventsMax: rcpPendingEventsMax,
  subscriptionsPerConnectionMax: rcpSubscriptionsPerConnectionMax,
};

export interface RcpServerOptions {
  host: string;
  /** 0 picks an ephemeral port (see `RcpServer.address`). */
  port: number;
  /** TLS on the same port as plain connections (the first byte tells them apart). */
  tls?: TlsConfig;
  /** Bearer tokens (hashed); when non-empty every op but HELLO/AUTH/PING/BYE needs AUTH. */
  tokens?: TokenEntry[];
  limits?: Partial<RcpLimits>;
  /** Refuse writes with READ_ONLY_MODE (a follower). */
  readOnly?: boolean;
  /** The role each procedure needs for CALL (its declared role); unlisted ones need write. */
  procedureRoles?: ReadonlyMap<string, TokenRole>;
  /** Called after every operation (sub-ops of BATCH included), for metrics. */
  onRequest?: (op: string, code: string | undefined, durationMs: number) => void;
  /** Called when a connection opens or closes (for a connections gauge). */
  onConnection?: (open: boolean) => void;
}

export interface RcpServer {
  readonly address: { host: string; port: number };
  /** Open connections. */
  readonly connections: number;
  /** Stops accepting, ends every connection; the caller then flushes and closes the db. */
  close(): Promise<void>;
}
