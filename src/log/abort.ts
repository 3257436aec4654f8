/**
 * @module Stopping a long read of the data directory (recovery, snapshot loading) when the
 * caller's AbortSignal is aborted: `open({ signal })`, which `statebase serve` aborts on
 * SIGTERM or SIGINT during startup. The checks sit where no file has been changed yet.
 */
import { DbError, describeValue } from "../lib/errors.ts";

/**
 * Throws ABORTED when `signal` is aborted, saying when (`during recovery`): open() stopped
 * before it changed any file, so the next open starts it again from the same files.
 */
export function throwIfAborted(signal: AbortSignal | undefined, when: string): void {
  if (signal?.aborted !== true) return;
  const reason: unknown = signal.reason;
  const why =
    reason instanceof Error
      ? reason.message
      : typeof reason === "string"
        ? reason
        : reason === undefined
          ? ""
          : describeValue(reason);
  throw new DbError(
    "ABORTED",
    `open() was aborted ${when}${why === "" ? "" : ` (${why})`}; the data directory ` +
      "is unchanged and the next open recovers from it",
    { value: why },
  );
}
