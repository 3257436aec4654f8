/**
 * @module The WebSocket the client uses, behind a four-callback interface that both the
 * browser's WebSocket and the `ws` package (through {@link NodeSocket}) satisfy. Browsers (and
 * Node 22+) have a global WebSocket; Node 20 does not, so there `ws` is imported on first use,
 * by a specifier a browser bundler does not follow: the browser path stays free of Node
 * imports.
 */
import type { Socket } from "node:net";
import { directSocketOf, encodeWebSocketTextFrame } from "../lib/websocket-frame.ts";

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

/** The part of `ws`'s WebSocket that {@link NodeSocket} uses. */
interface NodeWebSocket {
  readonly readyState: number;
  /** The negotiated extensions; "" when none (the server offers none). */
  readonly extensions: string;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  on(event: string, listener: (...args: never[]) => void): unknown;
}

type NodeWebSocketConstructor = new (
  url: string,
  protocols: undefined,
  options: Record<string, unknown>,
) => NodeWebSocket;

/**
 * `ws`'s WebSocket as a {@link SocketLike}, at less cost per message than `ws`'s own browser-style
 * properties: a message reaches `onmessage` without the MessageEvent object `ws` builds for each,
 * and a request is written as one masked frame (lib/websocket-frame.ts) straight to the TCP socket
 * once it is open, without extensions: `ws` sends a frame as a header and a payload through a
 * corked stream, which Node writes with `writev` on its buffered path (a quarter of the client's
 * CPU under bench/server.ts). `ws` then writes its own frames (pongs, close) whole and at once too,
 * so frames interleave only between frames; with an extension (permessage-deflate holds frames back
 * while it compresses), or when the socket is not open, `ws.send` is used.
 */
class NodeSocket implements SocketLike {
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  /** Set when the socket opens without extensions; undefined: frames go through `ws`. */
  private stream: Socket | undefined;

  constructor(private readonly ws: NodeWebSocket) {
    ws.on("open", () => {
      this.stream = directSocketOf(ws);
      this.onopen?.({ type: "open" });
    });
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      this.onmessage?.({ data: isBinary ? data : data.toString() });
    });
    ws.on("close", (code: number, reason: Buffer) => {
      this.stream = undefined;
      this.onclose?.({ code, reason: reason.toString() });
    });
    // Always heard: `ws` throws an error event nobody listens to (it would end the process).
    ws.on("error", (error: Error) => {
      this.onerror?.({ type: "error", message: error.message, error });
    });
  }

  get readyState(): number {
    return this.ws.readyState;
  }

  send(data: string): void {
    const stream = this.stream;
    if (stream === undefined || this.ws.readyState !== socketOpen) this.ws.send(data);
    else stream.write(encodeWebSocketTextFrame(data, true));
  }

  close(code?: number, reason?: string): void {
    this.ws.close(code, reason);
  }
}

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
    const WebSocket = await importNodeWebSocket();
    const headers = token === undefined ? {} : { authorization: `Bearer ${token}` };
    return new NodeSocket(new WebSocket(url, undefined, { ...nodeOptions, headers }));
  };
}

let nodeWebSocket: NodeWebSocketConstructor | undefined;

async function importNodeWebSocket(): Promise<NodeWebSocketConstructor> {
  if (nodeWebSocket !== undefined) return nodeWebSocket;
  // A variable specifier keeps bundlers from pulling `ws` into a browser build.
  const specifier = "ws";
  const loaded = (await import(specifier)) as { WebSocket: NodeWebSocketConstructor };
  nodeWebSocket = loaded.WebSocket;
  return nodeWebSocket;
}
