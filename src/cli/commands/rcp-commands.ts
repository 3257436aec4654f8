/**
 * @module rstmdb-cli's commands against a Statebase server over RCP (specs/rcp.md §5):
 * `ping`, `info`, `put-machine`, `get-machine`, `list-machines`, `create-instance`,
 * `get-instance`, `list-instances`, `delete-instance`, `apply-event`, `wal-read`,
 * `wal-stats`, `compact`, `watch-instance`, `watch-all`, `unwatch`, plus the offline
 * `hash-token`. Each command is data: how it builds its request and prints its result.
 */
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { InvalidArgumentError } from "commander";
import { FrameError, RcpClientError } from "../../protocol/index.ts";
import type { RcpClient } from "../../protocol/index.ts";
import { hashToken } from "../../server/auth.ts";
import {
  exitCodeFailed,
  exitCodeOk,
  exitCodeUsage,
  parsePositive,
  parseSeq,
  UsageError,
} from "../output.ts";
import type { CliContext } from "../output.ts";
import { addConnectionFlags, connectRcp } from "./rcp-connection.ts";
import type { ConnectionFlags } from "./rcp-connection.ts";
import { formatResult } from "./rcp-format.ts";
import { addRepl } from "./repl.ts";
import { watchCommand } from "./rcp-watch.ts";

type Options = ConnectionFlags & Record<string, unknown>;

interface ClientCommand {
  name: string;
  description: string;
  configure: (command: Command) => Command;
  /** `args` are the positional arguments, each as its parser (if any) returned it. */
  request: (args: unknown[], options: Options) => { op: string; params: unknown };
}

/** Parses a JSON argument; `@file.json` reads the file (put-machine's convention). */
export function parseJsonArgument(text: string): unknown {
  let source = text;
  if (text.startsWith("@")) {
    try {
      source = readFileSync(text.slice(1), "utf8");
    } catch (error) {
      throw new InvalidArgumentError(`cannot read ${text.slice(1)}: ${String(error)}`);
    }
  }
  try {
    return JSON.parse(source) as unknown;
  } catch (error) {
    throw new InvalidArgumentError(`not JSON: ${(error as Error).message}`);
  }
}

function parseVersion(text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value > 0xffff_ffff) {
    throw new InvalidArgumentError("VERSION must be a whole number.");
  }
  return value;
}

const commands: readonly ClientCommand[] = [
  {
    name: "ping",
    description: "check that the server answers",
    configure: (c) => c,
    request: () => ({ op: "PING", params: {} }),
  },
  {
    name: "info",
    description: "server name, version, features and limits",
    configure: (c) => c,
    request: () => ({ op: "INFO", params: {} }),
  },
  {
    name: "put-machine",
    description: "store a machine definition version (JSON or @file.json)",
    configure: (c) =>
      c
        .requiredOption("-n, --name <name>", "machine name")
        .requiredOption("-v, --version <version>", "definition version", parseVersion)
        // Parsed by commander, which names the argument when it is not JSON.
        .argument("<definition>", "the definition: JSON text or @file.json", parseJsonArgument),
    request: ([definition], o) => ({
      op: "PUT_MACHINE",
      params: { machine: o.name, version: o.version, definition },
    }),
  },
  {
    name: "get-machine",
    description: "print a stored definition and its checksum",
    configure: (c) =>
      c
        .requiredOption("-n, --name <name>", "machine name")
        .requiredOption("-v, --version <version>", "definition version", parseVersion),
    request: (_args, o) => ({ op: "GET_MACHINE", params: { machine: o.name, version: o.version } }),
  },
  {
    name: "list-machines",
    description: "list machines and their versions",
    configure: (c) => c,
    request: () => ({ op: "LIST_MACHINES", params: {} }),
  },
  {
    name: "create-instance",
    description: "create an instance of a machine version",
    configure: (c) =>
      c
        .requiredOption("-m, --machine <machine>", "machine name")
        .requiredOption("-V, --machine-version <version>", "machine version", parseVersion)
        .option("-i, --id <id>", "instance id (default: a new UUID)")
        .option("-c, --ctx <json>", "initial context (a JSON object)", parseJsonArgument)
        .option("--idempotency-key <key>", "makes a retry return the first result"),
    request: (_args, o) => ({
      op: "CREATE_INSTANCE",
      params: defined({
        machine: o.machine,
        version: o.machineVersion,
        instance_id: o.id,
        initial_ctx: o.ctx,
        idempotency_key: o.idempotencyKey,
      }),
    }),
  },
  {
    name: "get-instance",
    description: "print an instance's state and context",
    configure: (c) => c.argument("<id>", "instance id"),
    request: ([id]) => ({ op: "GET_INSTANCE", params: { instance_id: id } }),
  },
  {
    name: "list-instances",
    description: "list instances, ordered by id",
    configure: (c) =>
      c
        .option("-m, --machine <machine>", "only this machine")
        .option("--state <state>", "only instances in this state")
        .option("-l, --limit <n>", "at most N instances (default 100)", parsePositive)
        .option("--offset <n>", "skip N instances", parseSeq),
    request: (_args, o) => ({
      op: "LIST_INSTANCES",
      params: defined({ machine: o.machine, state: o.state, limit: o.limit, offset: o.offset }),
    }),
  },
  {
    name: "delete-instance",
    description: "delete an instance (its history stays in the log)",
    configure: (c) => c.argument("<id>", "instance id"),
    request: ([id]) => ({ op: "DELETE_INSTANCE", params: { instance_id: id } }),
  },
  {
    name: "apply-event",
    description: "apply an event to an instance",
    configure: (c) =>
      c
        .requiredOption("-i, --instance <id>", "instance id")
        .requiredOption("-e, --event <event>", "event name")
        .option(
          "-p, --payload <json>",
          "event payload (merged into the context)",
          parseJsonArgument,
        )
        .option("--expected-state <state>", "fail with CONFLICT unless in this state")
        .option("--expected-offset <offset>", "fail with CONFLICT unless at this offset", parseSeq)
        .option("--event-id <id>", "an id recorded with the transition")
        .option("--idempotency-key <key>", "makes a retry return the first result"),
    request: (_args, o) => ({
      op: "APPLY_EVENT",
      params: defined({
        instance_id: o.instance,
        event: o.event,
        payload: o.payload,
        expected_state: o.expectedState,
        expected_wal_offset: o.expectedOffset,
        event_id: o.eventId,
        idempotency_key: o.idempotencyKey,
      }),
    }),
  },
  {
    name: "wal-read",
    description: "print log records from an offset (commit seq)",
    configure: (c) =>
      c
        .option("-f, --from <offset>", "first offset", parseSeq, 0)
        .option("-l, --limit <n>", "at most N records", parsePositive),
    request: (_args, o) => ({
      op: "WAL_READ",
      params: defined({ from_offset: o.from, limit: o.limit }),
    }),
  },
  {
    name: "wal-stats",
    description: "log size, segments and IO counters",
    configure: (c) => c,
    request: () => ({ op: "WAL_STATS", params: {} }),
  },
  {
    name: "compact",
    description: "write a snapshot so retention can remove the log it covers",
    configure: (c) => c.option("-f, --force", "also re-snapshot (accepted for rstmdb-cli)"),
    request: (_args, o) => ({ op: "COMPACT", params: { force_snapshot: o.force === true } }),
  },
  {
    name: "unwatch",
    description: "remove a subscription of this connection (rstmdb-cli compatibility)",
    configure: (c) => c.argument("<subscription>", "subscription id"),
    request: ([id]) => ({ op: "UNWATCH", params: { subscription_id: id } }),
  },
];

function defined(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).filter(([, item]) => item !== undefined));
}

/** Adds every client command, `watch-*`, `hash-token` and `repl` to `program`. */
export function addRcpCommands(program: Command, context: CliContext): void {
  for (const spec of commands) {
    const command = addConnectionFlags(spec.configure(program.command(spec.name)));
    command.description(spec.description).action(async (...input: unknown[]) => {
      const options = command.opts<Options>();
      const args = input.slice(0, command.registeredArguments.length);
      context.exitCode = await runClientCommand(context, options, spec.request(args, options));
    });
  }
  watchCommand(program, context);
  program
    .command("hash-token")
    .description("print the SHA-256 of a token, as stored in the server's config (offline)")
    .argument("<token>", "the token")
    .action(async (token: string) => {
      // `hash-token "$TOKEN"` with TOKEN unset: the hash of "" would let an empty token in.
      if (token === "") throw new UsageError("the token is empty: give the token to hash");
      await context.line(hashToken(token));
    });
  addRepl(program, context);
}

/** Connects, sends one request, prints its result; returns the exit code. */
async function runClientCommand(
  context: CliContext,
  options: Options,
  request: { op: string; params: unknown },
): Promise<number> {
  return withClient(context, options, async (client) => {
    const result = await client.request(request.op, request.params);
    await printResult(context, request.op, result, options.json === true);
  });
}

export async function printResult(
  context: CliContext,
  op: string,
  result: unknown,
  asJson: boolean,
): Promise<void> {
  const lines = asJson ? [JSON.stringify(result)] : formatResult(op, result);
  for (const line of lines) await context.line(line);
}

/** Errors of a connection that could not be made or was lost: the address is the news. */
const connectFailureCodes: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EPIPE",
]);

/**
 * What went wrong in a TLS handshake, with what to try, or undefined for another error.
 * OpenSSL's own text is several lines naming its source files; its reason is the news.
 */
function describeTlsFailure(error: unknown): string | undefined {
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code !== "string" || typeof message !== "string") return undefined;
  if (code === "ERR_SSL_WRONG_VERSION_NUMBER" || code === "ERR_SSL_PACKET_LENGTH_TOO_LONG") {
    const reason = code === "ERR_SSL_WRONG_VERSION_NUMBER" ? "wrong version number" : code;
    return `${reason} (does the server use TLS on this port? try without --tls)`;
  }
  if (code.startsWith("ERR_SSL_")) return `${code} (${message.split("\n")[0]!.trim()})`;
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID" || /CERT|SELF_SIGNED|UNABLE_TO_/.test(code)) {
    return (
      `${message} (${code}); trust its CA with --ca-cert FILE, name the certificate's host ` +
      `with --server-name, or skip the check with -k`
    );
  }
  return undefined;
}

/** Runs `use` with a connected client; server errors become one line and exit code 1 or 2. */
export async function withClient(
  context: CliContext,
  options: ConnectionFlags,
  use: (client: RcpClient) => Promise<void>,
): Promise<number> {
  let client: RcpClient | undefined;
  try {
    client = await connectRcp(options);
    await use(client);
    return exitCodeOk;
  } catch (error) {
    if (error instanceof RcpClientError) {
      context.warn(`${error.code}: ${error.message}`);
      return error.code === "BAD_REQUEST" ? exitCodeUsage : exitCodeFailed;
    }
    if (error instanceof FrameError) {
      // Most often the HTTP port given for the RCP one: its answer starts with "HTTP".
      context.warn(
        `${options.server} does not answer in RCP (${error.message}); is it the RCP ` +
          `listener? statebase serve listens for RCP on 127.0.0.1:7401 and HTTP on 8090`,
      );
      return exitCodeFailed;
    }
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== undefined && connectFailureCodes.has(code)) {
      context.warn(`cannot connect to ${options.server}: ${code}`);
      return exitCodeFailed;
    }
    const tls = describeTlsFailure(error);
    if (tls !== undefined) {
      context.warn(`TLS with ${options.server} failed: ${tls}`);
      return exitCodeFailed;
    }
    throw error;
  } finally {
    await client?.close();
  }
}
