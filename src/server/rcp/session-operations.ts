/**
 * @module Connection-level operations: HELLO, AUTH, PING, BYE, INFO (specs/rcp.md §2.6,
 * §1.3). They read and set session state only.
 */
import { findToken } from "../auth.ts";
import { RcpFailure, badRequest } from "./failure.ts";
import { serverFeatures, serverName, serverVersion } from "./core.ts";
import type { Operation, OperationContext } from "./operation.ts";
import { Params } from "./params.ts";

/** rstmdb's three features; Statebase's own are listed after them. */
const protocolVersion = 1;

// HELLO {protocol_version, client_name?, wire_modes?, features?}
const hello: Operation = {
  role: "none",
  write: false,
  transactional: true,
  run({ session }: OperationContext, raw: unknown) {
    const params = new Params(raw, "HelloParams");
    const version = params.u32("protocol_version");
    if (version !== protocolVersion) badRequestThrow(`unsupported protocol version: ${version}`);
    const modes = params.optStringList("wire_modes") ?? [];
    const wanted = params.optStringList("features") ?? [];
    session.clientName = params.optString("client_name");
    // Every HELLO sets a binary connection's output by rstmdb's rule (a repeated one too, so
    // a client can switch back). A JSON-lines connection stays JSON lines: its client reads
    // lines only.
    if (session.inputMode === "binary") {
      const jsonl = !modes.includes("binary_json") && modes.includes("jsonl");
      session.outputMode = jsonl ? "jsonl" : "binary";
    }
    return {
      protocol_version: protocolVersion,
      wire_mode: session.outputMode === "jsonl" ? "jsonl" : "binary_json",
      server_name: serverName,
      server_version: serverVersion,
      features: serverFeatures.filter((feature) => wanted.includes(feature)),
    };
  },
};

// AUTH {method: "bearer", token}
const auth: Operation = {
  role: "none",
  write: false,
  transactional: true,
  run({ core, session }: OperationContext, raw: unknown) {
    const params = new Params(raw, "AuthParams");
    const method = params.string("method");
    const token = params.string("token");
    if (method !== "bearer") authFailed(`unsupported auth method: ${method}`);
    if (!core.authRequired) {
      // Without configured tokens any non-empty token is accepted, as rstmdb does.
      if (token === "") authFailed("empty token");
      return { authenticated: true };
    }
    const entry = findToken(core.tokens, token);
    if (entry === undefined) authFailed("invalid token");
    session.role = entry.role;
    session.tokenName = entry.name;
    return { authenticated: true };
  },
};

// PING
const ping: Operation = {
  role: "none",
  write: false,
  transactional: true,
  run: () => ({ pong: true }),
};

// BYE: answers, then the connection closes (not inside a BATCH).
const bye: Operation = {
  role: "none",
  write: false,
  transactional: true,
  run({ session, inBatch }: OperationContext) {
    if (!inBatch) session.closeAfterResponse = true;
    return { goodbye: true };
  },
};

// INFO
const info: Operation = {
  role: "read",
  write: false,
  transactional: true,
  run({ core }: OperationContext) {
    return {
      server_name: serverName,
      server_version: serverVersion,
      protocol_version: protocolVersion,
      features: serverFeatures,
      max_frame_bytes: core.limits.frameSizeBytesMax,
      max_batch_ops: core.limits.batchOpsMax,
      durability: core.db.durability,
      read_only: core.readOnly,
      auth_required: core.authRequired,
      // Extra keys are allowed (decision 15): where the log lives and what protects it.
      ...(core.db.replication === undefined ? {} : { replication: core.db.replication }),
    };
  },
};

// REPLICATION_STATUS (rstmdb 0.2): `standalone` for a local log, else this node's status.
const replicationStatus: Operation = {
  role: "read",
  write: false,
  transactional: true,
  run({ core }: OperationContext) {
    const status = core.db.replication;
    if (status === undefined) return { role: "standalone" };
    return {
      role: status.role,
      mode: "jetstream",
      node: status.node,
      stream: status.stream,
      stream_replicas: status.streamReplicas,
      server_sync: status.serverSync,
      applied_sequence: status.appliedSeq,
      durable_sequence: status.durableSeq,
      lag_entries: status.lagCommits,
      lag_seconds: status.lagMs / 1000,
      writer: status.writer?.node ?? null,
    };
  },
};

function badRequestThrow(reason: string): never {
  throw badRequest(reason);
}

function authFailed(reason: string): never {
  throw new RcpFailure("AUTH_FAILED", `authentication failed: ${reason}`);
}

export const sessionOperations: Readonly<Record<string, Operation>> = {
  HELLO: hello,
  AUTH: auth,
  PING: ping,
  BYE: bye,
  INFO: info,
  REPLICATION_STATUS: replicationStatus,
};
