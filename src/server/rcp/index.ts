/**
 * @module The RCP server: rstmdb's wire protocol served from a Statebase database
 * (specs/rcp.md, docs/rcp.md). A request's path:
 *
 * 1. server.ts accepts the connection and reads its first byte: TLS handshake, JSON lines or
 *    binary frames; over the connection limit it answers one error frame and closes.
 * 2. session.ts decodes frames or lines (src/protocol); bytes that cannot be decoded get
 *    BAD_REQUEST with id "" and the connection closes; requests queue in arrival order.
 * 3. dispatch.ts looks the op up in operations.ts, checks authentication, role and
 *    read-only mode, and runs it: machine ops inside one transaction through
 *    `tx.machines`, so the log records an `rcp` origin for each commit.
 * 4. In `sync` durability the answer queues until the commits it observed are on disk; the
 *    next request runs meanwhile, so pipelined requests share one group fsync.
 * 5. failure.ts turns any error into one of the wire codes rstmdb clients know.
 * 6. Commits reach subscriptions (watch.ts) through one commit listener; each session
 *    writes their events between responses and ends lagging ones with `end: lagged`.
 */
export { startRcpServer } from "./server.ts";
export { rcpLimitsDefault } from "./options.ts";
export type { RcpLimits, RcpServer, RcpServerOptions } from "./options.ts";
export { operations as rcpOperations } from "./operations.ts";
export type { Operation as RcpOperation } from "./operation.ts";
export type { TlsConfig } from "../tls.ts";
export type { TokenEntry } from "../auth.ts";
