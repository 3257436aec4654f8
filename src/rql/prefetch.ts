/**
 * @module The asynchronous reads a script needs before its transaction can start: the states
 * named by `from X as of N` (rebuilt from the log) and the key histories named by
 * `from system::history {...}`. The async entry points collect them here, fetch them, and
 * hand the results to the executor (host.ts `Prefetched`); a transaction itself never waits.
 */
import type { ObjectRef, Pipeline, Position, Script, Source, Statement } from "./ast.ts";
import type { Params, RunContext } from "./context.ts";
import { asOfSeq, historyArgs } from "./source.ts";

/**
 * What to fetch: commit seqs to rebuild (with where each `as of` stands, for errors), and
 * (object, key) histories to read.
 */
export interface AsyncReads {
  readonly seqs: Array<{ seq: number; pos: Position }>;
  readonly histories: Array<{ object: string; key: unknown }>;
}

function pipelinesOf(statement: Statement): Pipeline[] {
  if (statement.type === "query") return [statement.pipeline];
  return [];
}

function forEachSource(pipeline: Pipeline, visit: (source: Source) => void): void {
  visit(pipeline.source);
  for (const step of pipeline.steps) {
    if (step.type === "join") forEachSource(step.right, visit);
    if (step.type === "append") forEachSource(step.pipeline, visit);
  }
}

const asyncNeeds = new WeakMap<Script, boolean>();

/** True when the script reads the past or a history (remembered per parsed script). */
export function needsAsyncReads(script: Script): boolean {
  let found = asyncNeeds.get(script);
  if (found === undefined) {
    found = scanForAsyncReads(script);
    asyncNeeds.set(script, found);
  }
  return found;
}

function scanForAsyncReads(script: Script): boolean {
  return firstAsyncRead(script.statements) !== undefined;
}

/** A source that reads the log: `X as of N` or `system::history`. */
export interface AsyncRead {
  readonly object: ObjectRef;
  readonly asOf: boolean;
}

/** The first source among `statements` that reads the log before its transaction. */
export function firstAsyncRead(statements: readonly Statement[]): AsyncRead | undefined {
  let found: AsyncRead | undefined;
  for (const statement of statements) {
    for (const pipeline of pipelinesOf(statement)) {
      forEachSource(pipeline, (source) => {
        if (source.type !== "object" || found !== undefined) return;
        if (source.asOf !== undefined) found = { object: source.object, asOf: true };
        else if (source.object.name.toLowerCase() === "system::history") {
          found = { object: source.object, asOf: false };
        }
      });
    }
  }
  return found;
}

/** Evaluates the targets of every `as of` and `system::history` source with `params`. */
export function asyncReadsOf(script: Script, params: Params | undefined, now: number): AsyncReads {
  const reads: AsyncReads = { seqs: [], histories: [] };
  // Only the parameters and the time are read: the transaction does not exist yet.
  const ctx = { tx: { now }, params, now: () => now } as unknown as RunContext;
  for (const statement of script.statements) {
    for (const pipeline of pipelinesOf(statement)) {
      forEachSource(pipeline, (source) => {
        if (source.type !== "object") return;
        if (source.asOf !== undefined) {
          reads.seqs.push({ seq: asOfSeq(source.asOf, ctx), pos: source.asOf.pos });
        } else if (source.object.name.toLowerCase() === "system::history") {
          reads.histories.push(historyArgs(source, ctx));
        }
      });
    }
  }
  return reads;
}
