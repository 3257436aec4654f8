/**
 * Goal: drive test/support/replica-child.ts processes from a test.
 * Method: spawn the child with tsx, collect its stdout lines, and let the test wait for a line
 * that matches; `ackedMax` is the highest step the child reported as acknowledged.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { resolve } from "node:path";

const childPath = resolve(import.meta.dirname, "replica-child.ts");

export class ReplicaProcess {
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  ackedMax = 0;
  private stderr = "";
  private readonly waiters: Array<() => void> = [];
  private exited = false;

  /** Without `leaseTtlMs` the child gives open() none: it takes the lease bucket's TTL. */
  constructor(url: string, stream: string, node: string, leaseTtlMs?: number) {
    const ttl = leaseTtlMs === undefined ? [] : [String(leaseTtlMs)];
    this.child = spawn(
      process.execPath,
      ["--import", "tsx", childPath, url, stream, node, ...ttl],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    createInterface({ input: this.child.stdout! }).on("line", (line) => {
      this.lines.push(line);
      if (line.startsWith("ack ")) this.ackedMax = Math.max(this.ackedMax, Number(line.slice(4)));
      for (const wake of this.waiters.splice(0)) wake();
    });
    this.child.stderr!.on("data", (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.child.on("exit", () => {
      this.exited = true;
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  /** The first line matching `pattern`, waiting for it up to `timeoutMs`. */
  async waitLine(pattern: RegExp, timeoutMs = 20_000): Promise<string> {
    const started = performance.now();
    for (;;) {
      const found = this.lines.find((line) => pattern.test(line));
      if (found !== undefined) return found;
      if (this.exited) throw new Error(`child exited before ${pattern}: ${this.stderr}`);
      if (performance.now() - started > timeoutMs) {
        throw new Error(`no line ${pattern} within ${timeoutMs} ms: ${this.stderr}`);
      }
      await new Promise<void>((wake) => {
        this.waiters.push(wake);
        setTimeout(wake, 100);
      });
    }
  }

  /** Kills with SIGKILL and waits for the exit. */
  async kill(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise((done) => this.child.once("exit", done));
    this.child.kill("SIGKILL");
    await exited;
  }
}
