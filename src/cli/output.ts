/**
 * @module How the CLI talks to the operator: results go to stdout one line at a time with
 * back-pressure (`wal` can print a whole log), errors go to stderr as one line with a stable
 * exit code, never a stack trace. Exit codes: 0 success, 1 the log is damaged or the command
 * failed, 2 the command line is wrong.
 */
import { once } from "node:events";
import { InvalidArgumentError } from "commander";

export const exitCodeOk = 0;
export const exitCodeFailed = 1;
export const exitCodeUsage = 2;

/** A wrong command line (missing or bad argument, refused request): exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** What a command needs from its surroundings; main.ts makes the one real instance. */
export interface CliContext {
  /** Writes one line to stdout, waiting when the reader is slower than the log. */
  line(text: string): Promise<void>;
  /** Writes one line to stderr. */
  warn(text: string): void;
  /** Writes one line of progress on a long operation to stderr. */
  progress(text: string): void;
  /** The process exit code; a command sets it to report damage. */
  exitCode: number;
}

export function createCliContext(): CliContext {
  return {
    line: async (text) => {
      if (!process.stdout.write(`${text}\n`)) await once(process.stdout, "drain");
    },
    warn: (text) => {
      process.stderr.write(`statebase: ${text}\n`);
    },
    progress: (text) => {
      process.stderr.write(`statebase progress: ${text}\n`);
    },
    exitCode: exitCodeOk,
  };
}

/**
 * Parses a seq argument: a non-negative safe integer. Commander names the option or argument
 * in front of the message and the failure becomes exit code 2.
 */
export function parseSeq(text: string): number {
  return parseCount(text, 0, "SEQ");
}

/** Parses a positive count (such as `--limit`). */
export function parsePositive(text: string): number {
  return parseCount(text, 1, "N");
}

function parseCount(text: string, min: number, what: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < min) {
    const range = min === 0 ? "a non-negative integer" : "a positive integer";
    throw new InvalidArgumentError(`${what} must be ${range}.`);
  }
  return value;
}
