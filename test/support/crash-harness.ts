/**
 * The crash harness: starts test/support/crash-child.ts on a data directory, lets it commit,
 * kills it with SIGKILL at a random moment, and starts it again, many times. Each restart
 * must recover at least every commit acknowledged before the kill, and exactly the state
 * the reference workload gives for the number of steps recovered. Used by
 * test/log/crash.test.ts (a few kills) and bench/crash.ts (hundreds).
 */
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { resolve } from "node:path";
import { createPrng } from "../../src/lib/prng.ts";
import { referenceDigest } from "./crash-workload.ts";

const childPath = resolve(import.meta.dirname, "crash-child.ts");
const cycleMsMax = 60_000;

export interface CrashOptions {
  dir: string;
  kills: number;
  seed: number;
  /** Random run time before each kill, after the child's first acknowledgement. */
  delayMsMin: number;
  delayMsMax: number;
  segmentSizeBytes?: number;
  /** `sync` (default): acknowledged commits must survive. `async`: commits made more than
   * `asyncLossBoundMs` before the kill must survive. */
  mode?: "sync" | "async";
  asyncLossBoundMs?: number;
  onCycle?: (cycle: CrashCycle) => void;
}

export interface CrashCycle {
  index: number;
  recovered: number;
  ackedBefore: number;
  ackedNow: number;
}

export interface CrashReport {
  kills: number;
  ackedTotal: number;
  recoveredFinal: number;
  lostAcknowledged: number;
  /** Async mode: the longest span of commits lost before a kill, in ms. */
  lostWindowMsMax: number;
}

/** Runs the kill/restart cycles; throws on the first lost commit or wrong state. */
export async function runCrashCycles(options: CrashOptions): Promise<CrashReport> {
  const prng = createPrng(options.seed);
  const loss = { commits: [] as Array<[number, number]>, killedAt: 0, windowMsMax: 0 };
  // Async mode: what a restart lost must be only the commits of the moments before the kill.
  const checkLoss = (recovered: number): string | undefined => {
    const lost = loss.commits.filter(([n]) => n > recovered);
    if (lost.length === 0) return undefined;
    const span = loss.killedAt - lost[0]![1];
    loss.windowMsMax = Math.max(loss.windowMsMax, span);
    const bound = options.asyncLossBoundMs ?? Infinity;
    return span > bound
      ? `lost ${lost.length} commits spanning ${span} ms (> ${bound})`
      : undefined;
  };
  let acked = 0;
  for (let index = 0; index < options.kills; index++) {
    const delay = options.delayMsMin + prng.int(options.delayMsMax - options.delayMsMin + 1);
    const cycle = await runOnce(options, acked, delay, checkLoss);
    Object.assign(loss, { commits: cycle.commits, killedAt: cycle.killedAt });
    options.onCycle?.({ index, ...cycle, ackedBefore: acked });
    acked = Math.max(acked, cycle.ackedNow);
  }
  const last = await runOnce(options, acked, 0, checkLoss);
  return {
    kills: options.kills,
    ackedTotal: acked,
    recoveredFinal: last.recovered,
    lostAcknowledged: 0,
    lostWindowMsMax: loss.windowMsMax,
  };
}

/** One start: verify the recovered state, run for `delayMs` after the first ack, SIGKILL. */
function runOnce(
  options: CrashOptions,
  ackedBefore: number,
  delayMs: number,
  checkLoss: (recovered: number) => string | undefined,
): Promise<{
  recovered: number;
  ackedNow: number;
  commits: Array<[number, number]>;
  killedAt: number;
}> {
  const args = ["--import", "tsx", childPath, options.dir];
  args.push(options.segmentSizeBytes === undefined ? "-" : String(options.segmentSizeBytes));
  args.push(options.mode ?? "sync");
  const commits: Array<[number, number]> = [];
  let killedAt = 0;
  const kill = (): void => {
    killedAt = Date.now();
    child.kill("SIGKILL");
  };
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolvePromise, reject) => {
    let recovered = -1;
    let ackedNow = ackedBefore;
    let killTimer: NodeJS.Timeout | undefined;
    // A child that neither acknowledges nor dies is a hang, reported as a failure.
    const watchdog = setTimeout(() => fail("child made no progress for 60 s"), cycleMsMax);
    const fail = (message: string): void => {
      child.kill("SIGKILL");
      reject(new Error(`${message}\nchild stderr:\n${stderr}`));
    };
    createInterface({ input: child.stdout }).on("line", (line) => {
      const [word, a, b] = line.split(" ");
      if (word === "state") {
        recovered = Number(a);
        if (recovered < ackedBefore) {
          return fail(`lost acknowledged commits: recovered ${recovered} < acked ${ackedBefore}`);
        }
        if (b !== referenceDigest(recovered)) {
          return fail(`state after ${recovered} steps differs from the reference`);
        }
        const lossError = checkLoss(recovered);
        if (lossError !== undefined) return fail(lossError);
        if (delayMs === 0) kill();
      } else if (word === "ack" || word === "commit") {
        if (word === "ack") ackedNow = Math.max(ackedNow, Number(a));
        else commits.push([Number(a), Number(b)]);
        killTimer ??= setTimeout(kill, delayMs);
      }
    });
    child.on("exit", (code, signal) => {
      if (killTimer !== undefined) clearTimeout(killTimer);
      clearTimeout(watchdog);
      if (signal !== "SIGKILL")
        return fail(`child exited by itself (code ${code}, signal ${signal})`);
      if (recovered < 0) return fail("child was killed before it reported its state");
      resolvePromise({ recovered, ackedNow, commits, killedAt });
    });
  });
}
