/**
 * CPU time of server processes, from Linux /proc: what a server spent per operation, which
 * does not depend on what else shared the machine (1e6 / µs per op is what one core of it
 * could sustain).
 */
import { readFileSync, readdirSync } from "node:fs";

/** USER_HZ: /proc reports CPU time in ticks of 1/100 s on Linux. */
const clockTickMs = 10;

/** The fields of /proc/<pid>/stat after the command name (which may hold spaces). */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined; // the process is gone
  }
}

/** User + system CPU time of a process so far, in ms (clock ticks of 10 ms). */
export function cpuMs(pid: number): number {
  const fields = statFields(pid);
  return fields === undefined ? 0 : cpuMsIn(fields);
}

/** The user + system CPU time that stat fields give, in ms. */
function cpuMsIn(fields: readonly string[]): number {
  return (Number(fields[11]) + Number(fields[12])) * clockTickMs;
}

/**
 * CPU time of a process and its live children (PostgreSQL's backends), in ms. A child that
 * exits between two readings takes its time with it: read around a window in which the
 * children (one per connection) stay up.
 */
export function treeCpuMs(pid: number): number {
  let total = cpuMs(pid);
  for (const entry of readdirSync("/proc")) {
    const child = Number(entry);
    if (!Number.isInteger(child) || child === pid) continue;
    const fields = statFields(child);
    if (fields !== undefined && Number(fields[1]) === pid) total += cpuMsIn(fields);
  }
  return total;
}
