/**
 * @module `statebase query 'RQL'` and `statebase call NAME --args JSON`: a running server's
 * RQL entry points and procedures over HTTP, through the TypeScript client (src/client).
 * Results print as one aligned table per frame, or with `--json` as the server's JSON.
 * Errors print as one line with the server's code (exit code 2 for the caller's mistakes).
 */
import type { Command } from "commander";
import { InvalidArgumentError } from "commander";
import { connect, StatebaseError } from "../../client/index.ts";
import type { Client, QueryResult } from "../../client/index.ts";
import { addHttpTlsFlags, createHttpTlsFetch } from "./http-tls.ts";
import type { HttpTlsFlags } from "./http-tls.ts";
import { tlsOf, tokenOf } from "./rcp-connection.ts";
import { exitCodeFailed, exitCodeOk, exitCodeUsage, UsageError } from "../output.ts";
import type { CliContext } from "../output.ts";

interface RemoteOptions extends HttpTlsFlags {
  http: string;
  token?: string;
  json?: boolean;
}

const entries = ["query", "command", "admin"] as const;
type Entry = (typeof entries)[number];

/** Adds `query` and `call` to `program`. */
export function addQueryCommands(program: Command, context: CliContext): void {
  const query = program
    .command("query")
    .description("run RQL on a server over HTTP")
    .argument("<rql>", "the RQL script")
    .option("--http <host:port>", "the server's HTTP listener", "127.0.0.1:8090")
    .option("--token <token>", "bearer token (default $RSTMDB_TOKEN or $STATEBASE_TOKEN)")
    .option("--entry <entry>", "query, command or admin", parseEntry, "query")
    .option("--params <json>", "parameters: a JSON object or array", parseJson);
  addHttpTlsFlags(query)
    .option("--json", "print the server's JSON answer")
    .action(async (rql: string, options: RemoteOptions & { entry: Entry; params?: unknown }) => {
      context.exitCode = await remote(context, options, async (client) => {
        const params = options.params as Record<string, unknown> | unknown[] | undefined;
        const result = await client[options.entry](rql, params);
        await printResult(context, result, options.json === true);
      });
    });
  const call = program
    .command("call")
    .description("call a procedure on a server over HTTP")
    .argument("<name>", "the procedure's name")
    .option("--args <json>", "arguments: a JSON object or array", parseJson)
    .option("--http <host:port>", "the server's HTTP listener", "127.0.0.1:8090")
    .option("--token <token>", "bearer token (default $RSTMDB_TOKEN or $STATEBASE_TOKEN)");
  addHttpTlsFlags(call)
    .option("--json", "print the result as JSON on one line")
    .action(async (name: string, options: RemoteOptions & { args?: unknown }) => {
      context.exitCode = await remote(context, options, async (client) => {
        const args = options.args as Record<string, unknown> | unknown[] | undefined;
        const result = await client.call(name, args);
        await context.line(JSON.stringify(result, null, options.json === true ? 0 : 2));
      });
    });
}

/** Connects over HTTP, runs `work`, and turns a server error into one line and a code. */
async function remote(
  context: CliContext,
  options: RemoteOptions,
  work: (client: Client) => Promise<void>,
): Promise<number> {
  if (!/^[^\s/]+:\d+$/.test(options.http)) {
    throw new UsageError(`--http must be HOST:PORT, got ${options.http}`);
  }
  // The RCP commands' token and TLS settings: flags, else RSTMDB_* (or STATEBASE_TOKEN).
  const token = tokenOf(options, process.env);
  const tls = tlsOf(options, process.env);
  const client = await connect(`${tls === undefined ? "http" : "https"}://${options.http}`, {
    transport: "http",
    ...(tls === undefined ? {} : { fetch: createHttpTlsFetch(tls) }),
    ...(token === undefined ? {} : { token }),
  });
  try {
    await work(client);
    return exitCodeOk;
  } catch (error) {
    if (!(error instanceof StatebaseError)) throw error;
    context.warn(`${error.message} (${error.code})`);
    const callersMistake = error.status !== undefined && error.status < 500;
    return callersMistake ? exitCodeUsage : exitCodeFailed;
  } finally {
    await client.close();
  }
}

/** One aligned table per frame; `--json` prints the answer as the server sent it. */
async function printResult(context: CliContext, result: QueryResult, json: boolean) {
  if (json) {
    await context.line(JSON.stringify(result));
    return;
  }
  for (const [index, frame] of result.frames.entries()) {
    if (index > 0) await context.line("");
    for (const line of formatFrame(frame)) await context.line(line);
  }
}

/** Columns in first-seen order; each cell is the value's JSON text (strings bare). */
export function formatFrame(rows: ReadonlyArray<Record<string, unknown>>): string[] {
  const columns: string[] = [];
  for (const row of rows)
    for (const key of Object.keys(row)) {
      if (!columns.includes(key)) columns.push(key);
    }
  const cell = (value: unknown): string =>
    value === undefined ? "" : typeof value === "string" ? value : JSON.stringify(value);
  const table = [columns, ...rows.map((row) => columns.map((column) => cell(row[column])))];
  const widths = columns.map((_, i) => Math.max(...table.map((line) => line[i]!.length)));
  const lines = table.map((line) =>
    line
      .map((text, i) => text.padEnd(widths[i]!))
      .join("  ")
      .trimEnd(),
  );
  return [...lines, `(${rows.length} ${rows.length === 1 ? "row" : "rows"})`];
}

function parseEntry(text: string): Entry {
  if ((entries as readonly string[]).includes(text)) return text as Entry;
  throw new InvalidArgumentError("must be query, command or admin.");
}

function parseJson(text: string): unknown {
  try {
    JSON.parse(text);
  } catch {
    // The position inside a command-line argument helps less than saying what was expected.
    throw new InvalidArgumentError("must be JSON, e.g. '{\"id\": 1}'.");
  }
  // Valid JSON: the scan in quoteWideIntegers sees its strings and numbers as JSON does.
  return JSON.parse(quoteWideIntegers(text)) as unknown;
}

/** A JSON string, or a JSON number: what the scan below steps over or looks at. */
const jsonStringOrNumber = /"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g;

/**
 * The JSON text with integers beyond 2^53 in quotes: JSON.parse would round them, and the
 * server takes wide integers as decimal digits (docs/server.md), as the client sends a
 * bigint. A number past float8's range (JSON.parse: Infinity, sent as null) is refused.
 */
function quoteWideIntegers(text: string): string {
  return text.replace(jsonStringOrNumber, (token) => {
    if (token.startsWith('"')) return token;
    if (!Number.isFinite(Number(token))) {
      throw new InvalidArgumentError(`${token} is beyond the range of a float8.`);
    }
    if (/[.eE]/.test(token) || Number.isSafeInteger(Number(token))) return token;
    return `"${token}"`;
  });
}
