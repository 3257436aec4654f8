/**
 * @module The `statebase` command line (bin/statebase.js runs it through tsx). It builds one
 * commander program, runs the chosen command and turns every failure into one line on stderr
 * and an exit code (output.ts): the operator sees a message to act on, never a stack trace.
 */
import { readFileSync } from "node:fs";
import { Command, CommanderError } from "commander";
import { DbError } from "../lib/errors.ts";
import { addLogTools } from "./commands/log-tools.ts";
import { addQueryCommands } from "./commands/query.ts";
import { addRcpCommands } from "./commands/rcp-commands.ts";
import { addServeCommand } from "./commands/serve.ts";
import {
  createCliContext,
  exitCodeFailed,
  exitCodeOk,
  exitCodeUsage,
  UsageError,
} from "./output.ts";
import type { CliContext } from "./output.ts";

/** The package version, read once from package.json for `--version`. */
function packageVersion(): string {
  const url = new URL("../../package.json", import.meta.url);
  const parsed = JSON.parse(readFileSync(url, "utf8")) as { version?: unknown };
  return typeof parsed.version === "string" ? parsed.version : "unknown";
}

/** Builds the program; commander reports its own usage errors through `context`. */
export function createProgram(context: CliContext): Command {
  const program = new Command("statebase")
    .description("Statebase: a database for live application state")
    .version(packageVersion(), "-V, --version", "print the version")
    .exitOverride()
    .configureOutput({
      outputError: (text) => context.warn(text.replace(/^error: /, "").trimEnd()),
    })
    .showSuggestionAfterError(true)
    // Program options only before the command: `create-instance -V 1` is not --version.
    .enablePositionalOptions();
  addLogTools(program, context);
  addServeCommand(program, context);
  addQueryCommands(program, context);
  addRcpCommands(program, context);
  return program;
}

/** Runs the CLI on `argv` (as in `process.argv`) and returns the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const context = createCliContext();
  // A reader that went away (`statebase wal … | head`) is the normal end of the output.
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(context.exitCode);
    context.warn(`cannot write output: ${error.message}`);
    process.exit(exitCodeFailed);
  });
  try {
    await createProgram(context).parseAsync([...argv]);
    return context.exitCode;
  } catch (error) {
    return reportFailure(context, error);
  }
}

/** One line per failure; the exit code says whose it was (output.ts). */
function reportFailure(context: CliContext, error: unknown): number {
  if (error instanceof CommanderError) {
    // Commander has already printed its message; help and version end with exit code 0.
    return error.exitCode === exitCodeOk ? exitCodeOk : exitCodeUsage;
  }
  if (error instanceof UsageError) {
    context.warn(error.message);
    return exitCodeUsage;
  }
  if (error instanceof DbError) {
    context.warn(`${error.message} (${error.code})`);
    return error.category === "InvalidInput" ? exitCodeUsage : exitCodeFailed;
  }
  const message = error instanceof Error ? error.message : String(error);
  context.warn(`unexpected failure: ${message}`);
  return exitCodeFailed;
}
