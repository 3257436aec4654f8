/**
 * @module The WebSocket endpoint at `/v1/ws` on the HTTP port. It checks a browser's origin
 * (origins.ts) and authenticates the upgrade (Authorization header, or `?token=` for
 * browsers, which cannot set headers), then hands each socket to a session (session.ts).
 * Other paths are refused with 404 before any upgrade.
 */
import { STATUS_CODES } from "node:http";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer } from "ws";
import type { WebSocket } from "ws";
import { authenticate } from "../access.ts";
import { checkOrigin } from "../origins.ts";
import type { OriginPolicy } from "../origins.ts";
import type { TokenEntry, TokenRole } from "../auth.ts";
import type { ServerConfig } from "../config.ts";
import type { ServerMetrics } from "../metrics.ts";
import type { RequestContext } from "../requests.ts";
import { toWireError } from "../wire-error.ts";
import { startSession } from "./session.ts";

export const webSocketPath = "/v1/ws";

/**
 * How often each socket is pinged, in ms. One that has not answered (pong, or any message)
 * by the next ping is cut off: a client gone without closing (power loss, a NAT that forgot
 * the flow) would otherwise hold its session and a place under wsConnectionsMax for good.
 */
const pingIntervalMsDefault = 30_000;

export interface WebSocketGatewayOptions {
  context: RequestContext;
  metrics: ServerMetrics;
  tokens: readonly TokenEntry[];
  limits: ServerConfig["limits"];
  /** Which pages may connect from a browser (origins.ts). */
  origins: OriginPolicy;
  fault: (error: unknown) => void;
  /** Replaces {@link pingIntervalMsDefault} (tests). */
  pingIntervalMs?: number;
}

export interface WebSocketGateway {
  /** The HTTP server's `upgrade` listener. */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Ends every session and closes its socket with 1001 (clients reconnect and resume). */
  close(): Promise<void>;
}

export function createWebSocketGateway(options: WebSocketGatewayOptions): WebSocketGateway {
  const server = new WebSocketServer({
    noServer: true,
    maxPayload: options.limits.wsMessageSizeBytesMax,
  });
  answerMalformedUpgrades(server);
  const sessions = new Set<{ close(): void }>();
  const connections = new Set<Duplex>();
  const pinger = pingClients(server, options.pingIntervalMs ?? pingIntervalMsDefault);
  const upgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    // Node's HTTP server stops listening for the socket's errors once it hands it over; a
    // client that resets it while being refused would fail the refusal's write unheard.
    socket.on("error", () => undefined);
    const url = new URL(request.url ?? "/", "http://localhost");
    if (refusedElsewhere(request.method, url, socket)) return;
    // Counted by socket from the upgrade on, so upgrades under way count too.
    if (connections.size >= options.limits.wsConnectionsMax) {
      const limit = options.limits.wsConnectionsMax;
      const message = `too many WebSocket connections (limit ${limit}); try again later`;
      refuseUpgrade(socket, 503, { code: "LIMIT_EXCEEDED", message });
      return;
    }
    connections.add(socket);
    socket.once("close", () => connections.delete(socket));
    let role: TokenRole;
    try {
      checkOrigin(request.headers.origin, request.headers.host, options.origins);
      const token = url.searchParams.get("token");
      role = authenticate(
        options.tokens,
        token === null ? request.headers.authorization : `Bearer ${token}`,
      );
    } catch (error) {
      const { status, body } = toWireError(error, options.fault);
      refuseUpgrade(socket, status, body);
      return;
    }
    server.handleUpgrade(request, socket, head, (ws: WebSocket) => {
      // A client's bad frame (too large: 1009, not UTF-8: 1007) is an error event after which
      // `ws` closes the socket with that code; unheard, the event would end the process.
      ws.on("error", () => undefined);
      pinger.watch(ws);
      options.metrics.connectionOpened("ws");
      const session = startSession(ws, role, options, () => pinger.heard(ws));
      sessions.add(session);
      ws.once("close", () => {
        sessions.delete(session);
        session.close();
        options.metrics.connectionClosed("ws");
      });
    });
  };
  return {
    handleUpgrade: upgrade,
    close: async () => {
      pinger.stop();
      for (const session of sessions) session.close();
      for (const client of server.clients) client.close(1001, "server shutting down");
      await new Promise<void>((done) => {
        server.close(() => done());
      });
      // Clients that do not answer the close handshake are cut off.
      for (const client of server.clients) client.terminate();
    },
  };
}

/** Refuses an upgrade to another path (404) or by another method (405); says if it did. */
function refusedElsewhere(method: string | undefined, url: URL, socket: Duplex): boolean {
  if (url.pathname !== webSocketPath) {
    refuseUpgrade(socket, 404, { code: "NOT_FOUND", message: `no WebSocket at ${url.pathname}` });
    return true;
  }
  if (method === "GET") return false;
  const message = `${String(method)} ${webSocketPath}: a WebSocket opens with GET`;
  refuseUpgrade(socket, 405, { code: "METHOD_NOT_ALLOWED", message }, { Allow: "GET" });
  return true;
}

/**
 * A malformed upgrade (no key, an unknown version) is answered in the error shape, not as
 * ws's own text/html page.
 */
function answerMalformedUpgrades(server: WebSocketServer): void {
  server.on("wsClientError", (error: Error, socket: Duplex) => {
    const message = `not a valid WebSocket upgrade: ${error.message}`;
    refuseUpgrade(socket, 400, { code: "INVALID_ARGUMENT", message }, webSocketVersions);
  });
}

/**
 * Pings every client each interval and cuts off the ones that said nothing since the last
 * ping (browsers and `ws` answer pings by themselves). A message counts when its session
 * calls `heard`: a second message listener would cost every message a copy of the
 * listener list and a call.
 */
function pingClients(
  server: WebSocketServer,
  intervalMs: number,
): { watch(ws: WebSocket): void; heard(ws: WebSocket): void; stop(): void } {
  const silent = new WeakSet<WebSocket>();
  const timer = setInterval(() => {
    for (const ws of server.clients) {
      if (silent.has(ws)) {
        ws.terminate();
        continue;
      }
      silent.add(ws);
      ws.ping();
    }
  }, intervalMs);
  timer.unref();
  return {
    watch: (ws) => {
      ws.on("pong", () => void silent.delete(ws));
    },
    heard: (ws) => void silent.delete(ws),
    stop: () => clearInterval(timer),
  };
}

/** The protocol versions `ws` speaks, named in a refusal of any other (RFC 6455 §4.4). */
const webSocketVersions = { "Sec-WebSocket-Version": "13, 8" };

/** Answers a refused upgrade with a plain HTTP response carrying the JSON error. */
function refuseUpgrade(
  socket: Duplex,
  status: number,
  error: object,
  headers: Readonly<Record<string, string>> = {},
): void {
  const body = JSON.stringify({ error });
  const extra = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? "Refused"}\r\n${extra.join("")}` +
      "Content-Type: application/json\r\n" +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
