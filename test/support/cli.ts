/**
 * Runs the `statebase` command line in-process, with its output captured: stdout lines,
 * stderr lines (warnings and progress) and the exit code it set.
 */
import { createProgram } from "../../src/cli/main.ts";

export interface CliRun {
  out: string[];
  err: string[];
  code: number;
}

/** Runs `statebase ...args` in this process; resolves what it printed and its exit code. */
export async function cli(...args: string[]): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const context = {
    line: (text: string) => {
      out.push(text);
      return Promise.resolve();
    },
    warn: (text: string) => void err.push(text),
    progress: (text: string) => void err.push(text),
    exitCode: 0,
  };
  await createProgram(context).parseAsync(["node", "statebase", ...args]);
  return { out, err, code: context.exitCode };
}
