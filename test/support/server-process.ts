/**
 * The one place tests start a real server: `node bin/statebase.js serve` in a child process,
 * on ephemeral ports (port 0) with a temporary data directory, so test files run in parallel.
 * It waits for the `ready` line and reads the bound addresses from it.
 *
 * @example
 * const server = await startServer();
 * // ... talk to server.http.port / server.rcp.port ...
 * await server.stop(); // SIGTERM, waits for exit, removes the temporary data directory
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export interface Address {
  host: string;
  port: number;
}

export interface ServerProcess {
  /** RCP listener; `{host: "", port: 0}` when started with `--rcp off` (or not built). */
  rcp: Address;
  /** HTTP and WebSocket listener; `{host: "", port: 0}` with `--http off`. */
  http: Address;
  dataDir: string;
  /** The ready line as printed. */
  readyLine: string;
  process: ChildProcess;
  /** Everything printed so far on stdout and stderr (for failure messages). */
  output(): string;
  /** SIGTERM, then waits for the exit; resolves the exit code. Removes a temporary data dir. */
  stop(): Promise<number | null>;
  /** Resolves when the process exits by itself or by a signal. Never removes the data dir. */
  exited: Promise<{ code: number | null; signal: string | null }>;
  /** Sends `signal` (default SIGKILL) and waits for the exit. Never removes the data dir. */
  kill(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: string | null }>;
}

export interface StartServerOptions {
  /** Extra arguments after `serve`; they come after the defaults, so they override them. */
  args?: string[];
  /** Extra environment variables (STATEBASE_* config overrides, ...). */
  env?: Record<string, string>;
  /** Data directory; default a new temporary one, removed by stop(). */
  dataDir?: string;
  /** How long to wait for the ready line (default 30 s; CI machines can be slow). */
  readyTimeoutMs?: number;
}

const root = resolve(import.meta.dirname, "..", "..");
const bin = join(root, "bin", "statebase.js");

/** A new temporary directory for a test; the caller removes it. */
export async function makeTempDir(prefix = "statebase-test-"): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** Starts `statebase serve` and resolves once it printed its ready line. */
export async function startServer(options: StartServerOptions = {}): Promise<ServerProcess> {
  const ownDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? join(await makeTempDir(), "data");
  const args = [bin, "serve", "--data", dataDir, "--rcp", "127.0.0.1:0", "--http", "127.0.0.1:0"];
  const child = spawn(process.execPath, [...args, ...(options.args ?? [])], {
    cwd: root,
    env: { ...process.env, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.setEncoding("utf8");
  child.stderr.setEncoding("utf8");
  child.stdout.on("data", (text: string) => (output += text));
  child.stderr.on("data", (text: string) => (output += text));
  const exited = new Promise<{ code: number | null; signal: string | null }>((done) => {
    child.once("exit", (code, signal) => done({ code, signal }));
  });
  const removeOwnDir = () => rm(resolve(dataDir, ".."), { recursive: true, force: true });
  let readyLine: string;
  try {
    readyLine = await waitForReady(child, exited, () => output, options.readyTimeoutMs);
  } catch (error) {
    if (ownDir) await removeOwnDir(); // the server is gone: nothing will stop it
    throw error;
  }
  const kill = async (signal: NodeJS.Signals = "SIGKILL") => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return exited;
  };
  return {
    rcp: addressIn(readyLine, "rcp"),
    http: addressIn(readyLine, "http"),
    dataDir,
    readyLine,
    process: child,
    output: () => output,
    exited,
    kill,
    stop: async () => {
      const { code } = await kill("SIGTERM");
      if (ownDir) await removeOwnDir();
      return code;
    },
  };
}

async function waitForReady(
  child: ChildProcess,
  exited: Promise<{ code: number | null; signal: string | null }>,
  output: () => string,
  timeoutMs = 30_000,
): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const ready = new Promise<string>((done) => {
    let buffered = "";
    child.stdout!.on("data", (text: string) => {
      buffered += text;
      const line = buffered.split("\n").find((l) => l.includes("ready"));
      if (line !== undefined) done(line);
    });
  });
  const failed = exited.then(({ code, signal }) => {
    throw new Error(`server exited (code ${code}, signal ${signal}) before ready:\n${output()}`);
  });
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`server not ready after ${timeoutMs} ms:\n${output()}`));
    }, timeoutMs);
  });
  try {
    return await Promise.race([ready, failed, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

function addressIn(line: string, name: string): Address {
  const match = new RegExp(`\\b${name}=(\\S+)`).exec(line);
  if (match === null || match[1] === "off") return { host: "", port: 0 };
  const text = match[1]!;
  const at = text.lastIndexOf(":");
  return { host: text.slice(0, at).replace(/^\[(.*)\]$/, "$1"), port: Number(text.slice(at + 1)) };
}
