/**
 * @module The WebSocket the client uses, behind a four-callback interface that both the
 * browser's WebSocket and the `ws` package satisfy. Browsers (and Node 22+) have a global
 * WebSocket; Node 20 does not, so there `ws` is imported on first use, by a specifier a
 * browser bundler does not follow: the browser path stays free of Node imports.
 */

/** The part of a WebSocket the client uses. */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

/** Opens a socket to `url`; `token` is the bearer token, when there is one. */
export type SocketFactory = (url: string, token: string | undefined) => Promise<SocketLike>;

/** `readyState` of an open socket (the same number in every implementation). */
export const socketOpen = 1;

type SocketConstructor = new (
  url: string,
  protocolsOrOptions?: unknown,
  options?: unknown,
) => SocketLike;

/**
 * The default factory. With the global WebSocket the token travels as `?token=` (a browser
 * cannot set headers on the upgrade); with `ws` it is an Authorization header, and
 * `nodeOptions` (such as `{ca}` for a private CA) go to `ws`.
 */
export function createSocketFactory(nodeOptions: Record<string, unknown> = {}): SocketFactory {
  return async (url, token) => {
    const global = (globalThis as { WebSocket?: SocketConstructor }).WebSocket;
    if (global !== undefined && Object.keys(nodeOptions).length === 0) {
      const withToken = new URL(url);
      if (token !== undefined) withToken.searchParams.set("token", token);
      return new global(withToken.href);
    }
    const NodeSocket = await importNodeWebSocket();
    const headers = token === undefined ? {} : { authorization: `Bearer ${token}` };
    return new NodeSocket(url, undefined, { ...nodeOptions, headers });
  };
}

let nodeWebSocket: SocketConstructor | undefined;

async function importNodeWebSocket(): Promise<SocketConstructor> {
  if (nodeWebSocket !== undefined) return nodeWebSocket;
  // A variable specifier keeps bundlers from pulling `ws` into a browser build.
  const specifier = "ws";
  const loaded = (await import(specifier)) as { WebSocket: SocketConstructor };
  nodeWebSocket = loaded.WebSocket;
  return nodeWebSocket;
}
