/**
 * @module `statebase repl`: rstmdb-cli's interactive shell over one RCP connection, with
 * its commands and short aliases (`help`, `quit`, `reconnect`, `ping`, `info`, `pm`, `gm`,
 * `lm`, `c`, `g`, `li`, `d`, `a`, `wal`, `ws`). JSON arguments may contain spaces: a word
 * that starts with `{` or `[` runs to its matching bracket.
 */
import { createInterface } from "node:readline";
import type { Command } from "commander";
import type { RcpClient } from "../../protocol/index.ts";
import { RcpClientError } from "../../protocol/index.ts";
import type { CliContext } from "../output.ts";
import { addConnectionFlags, connectRcp } from "./rcp-connection.ts";
import type { ConnectionFlags } from "./rcp-connection.ts";
import { parseJsonArgument, printResult } from "./rcp-commands.ts";

type Request = { op: string; params: Record<string, unknown> };

interface ReplCommand {
  names: readonly string[];
  usage: string;
  request: (args: string[]) => Request;
}

const int = (text: string | undefined, what: string): number => {
  const value = Number(text);
  if (text === undefined || !/^\d+$/.test(text)) throw new Error(`${what} must be a number`);
  return value;
};
const need = (text: string | undefined, what: string): string => {
  if (text === undefined) throw new Error(`missing ${what}`);
  return text;
};

const replCommands: readonly ReplCommand[] = [
  { names: ["ping"], usage: "ping", request: () => ({ op: "PING", params: {} }) },
  { names: ["info"], usage: "info", request: () => ({ op: "INFO", params: {} }) },
  {
    names: ["put-machine", "pm"],
    usage: "put-machine <name> <version> <json|@file>",
    request: ([name, version, definition]) => ({
      op: "PUT_MACHINE",
      params: {
        machine: need(name, "name"),
        version: int(version, "version"),
        definition: parseJsonArgument(need(definition, "definition")),
      },
    }),
  },
  {
    names: ["get-machine", "gm"],
    usage: "get-machine <name> <version>",
    request: ([name, version]) => ({
      op: "GET_MACHINE",
      params: { machine: need(name, "name"), version: int(version, "version") },
    }),
  },
  {
    names: ["list-machines", "lm"],
    usage: "list-machines",
    request: () => ({ op: "LIST_MACHINES", params: {} }),
  },
  {
    names: ["create", "c"],
    usage: "create <machine> <version> [id] [ctx]",
    request: ([machine, version, id, ctx]) => ({
      op: "CREATE_INSTANCE",
      params: {
        machine: need(machine, "machine"),
        version: int(version, "version"),
        ...(id === undefined ? {} : { instance_id: id }),
        ...(ctx === undefined ? {} : { initial_ctx: parseJsonArgument(ctx) }),
      },
    }),
  },
  {
    names: ["get", "g"],
    usage: "get <id>",
    request: ([id]) => ({ op: "GET_INSTANCE", params: { instance_id: need(id, "id") } }),
  },
  {
    names: ["list-instances", "li"],
    usage: "list-instances [machine] [state]",
    request: ([machine, state]) => ({
      op: "LIST_INSTANCES",
      params: {
        limit: 50,
        ...(machine === undefined ? {} : { machine }),
        ...(state === undefined ? {} : { state }),
      },
    }),
  },
  {
    names: ["delete", "d"],
    usage: "delete <id>",
    request: ([id]) => ({ op: "DELETE_INSTANCE", params: { instance_id: need(id, "id") } }),
  },
  {
    names: ["apply", "a"],
    usage: "apply <id> <event> [payload]",
    request: ([id, event, payload]) => ({
      op: "APPLY_EVENT",
      params: {
        instance_id: need(id, "id"),
        event: need(event, "event"),
        ...(payload === undefined ? {} : { payload: parseJsonArgument(payload) }),
      },
    }),
  },
  {
    names: ["wal"],
    usage: "wal [from] [limit]",
    request: ([from, limit]) => ({
      op: "WAL_READ",
      params: {
        from_offset: from === undefined ? 0 : int(from, "from"),
        ...(limit === undefined ? {} : { limit: int(limit, "limit") }),
      },
    }),
  },
  {
    names: ["wal-stats", "ws"],
    usage: "wal-stats",
    request: () => ({ op: "WAL_STATS", params: {} }),
  },
];

/** Splits a line into words; quotes group words, `{…}` and `[…]` stay one word. */
export function splitReplLine(line: string): string[] {
  const words: string[] = [];
  let i = 0;
  while (i < line.length) {
    if (/\s/.test(line[i]!)) {
      i++;
      continue;
    }
    const end = wordEnd(line, i);
    const word = line.slice(i, end);
    words.push(/^(".*"|'.*')$/s.test(word) ? word.slice(1, -1) : word);
    i = end;
  }
  return words;
}

function wordEnd(line: string, start: number): number {
  const open = line[start]!;
  if (open === '"' || open === "'") {
    const close = line.indexOf(open, start + 1);
    return close === -1 ? line.length : close + 1;
  }
  if (open !== "{" && open !== "[") {
    const match = /\s/.exec(line.slice(start));
    return match === null ? line.length : start + match.index;
  }
  let depth = 0;
  let inString = false;
  for (let i = start; i < line.length; i++) {
    const ch = line[i]!;
    if (inString) {
      if (ch === "\\") i++;
      else if (ch === '"') inString = false;
    } else if (ch === '"') inString = true;
    else if (ch === "{" || ch === "[") depth++;
    else if ((ch === "}" || ch === "]") && --depth === 0) return i + 1;
  }
  return line.length;
}

/** Adds `repl`. */
export function addRepl(program: Command, context: CliContext): void {
  const command = addConnectionFlags(
    program.command("repl").description("interactive shell with rstmdb-cli's commands"),
  ).action(async () => {
    context.exitCode = await runRepl(context, command.opts<ConnectionFlags>());
  });
}

async function runRepl(context: CliContext, flags: ConnectionFlags): Promise<number> {
  let client: RcpClient = await connectRcp(flags);
  const lines = createInterface({ input: process.stdin, terminal: process.stdin.isTTY });
  if (process.stdin.isTTY) lines.setPrompt("statebase> ");
  lines.prompt();
  try {
    for await (const line of lines) {
      const [name, ...args] = splitReplLine(line);
      if (name === undefined) {
        lines.prompt();
        continue;
      }
      if (["quit", "exit", "q"].includes(name)) break;
      if (["reconnect", "rc"].includes(name)) {
        await client.close();
        client = (await reconnect(context, flags)) ?? client;
      } else {
        await runReplCommand(context, client, name, args, flags.json === true);
      }
      lines.prompt();
    }
  } finally {
    lines.close();
    await client.close();
  }
  return 0;
}

/** A new connection, or undefined (said as an error line) when there is none to be had. */
async function reconnect(
  context: CliContext,
  flags: ConnectionFlags,
): Promise<RcpClient | undefined> {
  try {
    const client = await connectRcp(flags);
    await context.line("reconnected");
    return client;
  } catch (error) {
    // The server is down or refuses the token: the session goes on, `rc` may be tried again.
    const text =
      error instanceof RcpClientError ? `${error.code}: ${error.message}` : String(error);
    await context.line(`error: cannot connect to ${flags.server}: ${text}`);
    return undefined;
  }
}

async function runReplCommand(
  context: CliContext,
  client: RcpClient,
  name: string,
  args: string[],
  asJson: boolean,
): Promise<void> {
  if (name === "help" || name === "?") {
    for (const c of replCommands) await context.line(`  ${c.usage}  (${c.names.join(", ")})`);
    await context.line("  reconnect (rc)   quit (exit, q)");
    return;
  }
  const command = replCommands.find((c) => c.names.includes(name));
  if (command === undefined) {
    await context.line(`unknown command "${name}" (try help)`);
    return;
  }
  try {
    const { op, params } = command.request(args);
    await printResult(context, op, await client.request(op, params), asJson);
  } catch (error) {
    const text =
      error instanceof RcpClientError ? `${error.code}: ${error.message}` : String(error);
    await context.line(`error: ${text}`);
  }
}
