/**
 * @module The server side of `statebase serve` when it runs on a worker thread (see
 * src/cli/commands/serve.ts): it serves the configuration it was given, reports ready, its
 * warnings and its failure to the main thread as messages, and closes when asked to (the
 * main thread receives the signals) or when the server must stop by itself.
 */
import { parentPort, workerData } from "node:worker_threads";
import { assert } from "../lib/assert.ts";
import { DbError } from "../lib/errors.ts";
import type { ListenAddress, ServerConfig } from "./config.ts";
import { recoveryStoppedText, serve } from "./serve.ts";

/** What the server thread tells the main thread. */
export type ServeThreadMessage =
  | { kind: "warn"; text: string }
  | { kind: "ready"; rcp: ListenAddress | undefined; http: ListenAddress | undefined }
  | { kind: "stopping"; reason: string }
  | { kind: "failed"; name: string; message: string; code: string | undefined }
  | { kind: "closed" }
  | { kind: "alive" };

/**
 * What the main thread tells the server thread: stop, because of `signal`; or `alive?`, which
 * the thread answers with `alive` when its event loop runs (the main thread's stall check).
 */
export type ServeThreadRequest = { readonly signal: string } | { readonly alive: true };

const port = parentPort;
assert(port !== null, "serve-thread runs on a worker thread");
const post = (message: ServeThreadMessage): void => port.postMessage(message);

try {
  // Listen for the stop before the server starts: a signal during a long recovery is passed
  // on at once, and would otherwise wait unread until the server said ready.
  let signalled = false;
  // The signal also stops a recovery under way (open() then rejects ABORTED, files unchanged).
  const stopping = new AbortController();
  const stopped = new Promise<string>((resolve) => {
    port.on("message", (request: ServeThreadRequest) => {
      if ("alive" in request) return post({ kind: "alive" });
      resolve(request.signal);
      stopping.abort(request.signal);
    });
  }).finally(() => (signalled = true));
  const server = await serve(workerData as ServerConfig, {
    warn: (text) => post({ kind: "warn", text }),
    signal: stopping.signal,
  }).catch((error: unknown) => {
    if (!stopping.signal.aborted || !(error instanceof DbError && error.code === "ABORTED"))
      throw error;
    return undefined;
  });
  if (server === undefined) {
    // Stopped while it recovered: nothing was opened, so nothing is left to close.
    post({ kind: "warn", text: recoveryStoppedText });
    post({ kind: "stopping", reason: await stopped });
  } else {
    // Told to stop while it started: it stops without saying ready (a supervisor would
    // think the server up that it asked to stop).
    if (!signalled) post({ kind: "ready", rcp: server.rcp, http: server.http });
    const reason = await Promise.race([stopped, server.mustStop]);
    post({ kind: "stopping", reason });
    await server.close();
  }
  post({ kind: "closed" });
} catch (error) {
  // Errors cross threads as plain data: a DbError keeps its code, and so its exit code.
  const code = error instanceof DbError ? error.code : undefined;
  const name = error instanceof Error ? error.name : "Error";
  post({
    kind: "failed",
    name,
    message: error instanceof Error ? error.message : String(error),
    code,
  });
}
port.close();
