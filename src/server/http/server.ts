/**
 * @module The HTTP listener (fastify): RQL at `POST /v1/query|command|admin`, procedure calls
 * at `POST /v1/call/:procedure`, `GET /healthz`, Prometheus text at `GET /metrics` and the
 * web console at `GET /console` (console-routes.ts; docs/server.md). Every answer is JSON
 * from one encoder (json.ts) and every failure is `{"error": {"code", "message"}}` from one
 * translator (wire-error.ts), so a client never sees a stack trace. The WebSocket endpoint
 * shares this listener's port (ws/).
 */
import { STATUS_CODES } from "node:http";
import type { IncomingMessage, Server } from "node:http";
import type { Duplex } from "node:stream";
import type { SecureContextOptions, TlsOptions } from "node:tls";
import { performance } from "node:perf_hooks";
import Fastify from "fastify";
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { authenticate } from "../access.ts";
import type { TokenEntry } from "../auth.ts";
import { nameLengthMax } from "../../lib/limits.ts";
import { encodeJson } from "../json.ts";
import type { ServerMetrics } from "../metrics.ts";
import { checkOrigin, corsHeaders } from "../origins.ts";
import type { OriginPolicy } from "../origins.ts";
import { runRequest } from "../requests.ts";
import type { RequestContext, RequestKind } from "../requests.ts";
import { ProtocolError, toWireError } from "../wire-error.ts";
import type { ListenAddress } from "../config.ts";
import { webSocketPath } from "../ws/index.ts";
import { addConsoleRoutes } from "./console-routes.ts";
import { forwardWrite, isForwardable } from "./forward.ts";
import type { WriteForwarding } from "./forward.ts";

/** How long requests in flight may take to finish when the server shuts down, in ms. */
const shutdownGraceMs = 2_000;

/**
 * How long a path parameter (a procedure's name in `/v1/call/:procedure`) may be, in
 * characters as sent: a `namespace::name` of nameLengthMax characters a part, percent-encoded
 * (a character takes up to 12 as UTF-8 escapes), fits.
 */
const pathParamLengthMax = 2 * nameLengthMax * 12 + 6;

/** Methods a known path answers with 405 (and the methods it takes) rather than 404. */
const refusableMethods = ["DELETE", "GET", "HEAD", "PATCH", "POST", "PUT", "OPTIONS"] as const;

export interface HttpServerOptions {
  context: RequestContext;
  metrics: ServerMetrics;
  tokens: readonly TokenEntry[];
  listen: ListenAddress;
  bodySizeBytesMax: number;
  requestTimeoutMs: number;
  tls: (SecureContextOptions & TlsOptions) | undefined;
  /** Which pages may call it from a browser, with CORS for the allowed ones (origins.ts). */
  origins: OriginPolicy;
  /** Handles upgrade requests (the WebSocket endpoint). */
  onUpgrade?: (request: IncomingMessage, socket: Duplex, head: Buffer) => void;
  /** Receives server faults (not client mistakes) for the operator's trace. */
  fault: (error: unknown) => void;
  /** Whether the server is serving (false while it shuts down). */
  serving: () => boolean;
  /** On a replicated follower: where writes refused with NOT_WRITER go (forward.ts). */
  forwarding?: WriteForwarding | undefined;
}

export interface HttpServer {
  readonly address: ListenAddress;
  readonly server: Server;
  close(): Promise<void>;
}

/** Starts the HTTP listener; resolves once it listens. */
export async function startHttpServer(options: HttpServerOptions): Promise<HttpServer> {
  const app = Fastify({
    logger: false,
    bodyLimit: options.bodySizeBytesMax,
    requestTimeout: options.requestTimeoutMs,
    clientErrorHandler: answerClientError,
    // Under routerOptions: the top-level option prints a deprecation warning (FSTDEP022).
    routerOptions: { maxParamLength: pathParamLengthMax },
    // Its router's refusals (a bad URL, a parameter too long) in the usual error shape.
    frameworkErrors: (error, _request, reply) => {
      sendError(reply, translateFastifyError(error), options.fault);
    },
    ...(options.tls === undefined ? {} : { https: options.tls }),
  }) as unknown as FastifyInstance;
  // Requests are JSON only: a text body would otherwise reach the handlers as a string.
  app.removeContentTypeParser("text/plain");
  app.setErrorHandler((error: FastifyError, _request, reply) => {
    // Refused before a route ran (a body that is not JSON, too large, of another type):
    // counted here, or the metrics would miss every malformed request.
    const outcome = sendError(reply, translateFastifyError(error), options.fault);
    options.metrics.observeRequest("http", "unknown", outcome, 0);
  });
  app.setNotFoundHandler((request, reply) => {
    const error = new ProtocolError("NOT_FOUND", `no route ${request.method} ${request.url}`, 404);
    sendError(reply, error, options.fault);
  });
  addOriginCheck(app, options);
  const routeMethods = collectRouteMethods(app);
  addRoutes(app, options);
  addMethodRefusals(app, routeMethods, options.fault);
  const server: Server = app.server;
  const redispatched = new WeakSet<Duplex>();
  const onUpgrade = options.onUpgrade;
  if (onUpgrade !== undefined) {
    server.on("upgrade", (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (isWebSocketUpgrade(request)) return onUpgrade(request, socket, head);
      redispatched.add(socket);
      serveWithoutUpgrade(server, request, socket, head);
    });
  }
  server.on("connection", (socket: Duplex) => {
    if (redispatched.has(socket)) return; // counted when it first connected
    options.metrics.connectionOpened("http");
    socket.once("close", () => options.metrics.connectionClosed("http"));
  });
  await app.listen({ host: options.listen.host, port: options.listen.port });
  const bound = server.address();
  const port = typeof bound === "object" && bound !== null ? bound.port : options.listen.port;
  return {
    address: { host: options.listen.host, port },
    server,
    close: async () => {
      // Idle keep-alive sockets would hold close() open; requests in flight get a grace
      // period to finish, then their connections are cut.
      server.closeIdleConnections();
      const force = setTimeout(() => server.closeAllConnections(), shutdownGraceMs);
      try {
        await app.close();
      } finally {
        clearTimeout(force);
      }
    },
  };
}

/** What a request Node's HTTP parser refused is answered: status, code and message. */
function clientErrorAnswer(error: NodeJS.ErrnoException): [number, string, string] {
  switch (error.code) {
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return [408, "TIMEOUT", "the request did not arrive within limits.requestTimeoutMs"];
    case "HPE_HEADER_OVERFLOW":
      return [431, "LIMIT_EXCEEDED", "the request's headers are larger than allowed"];
    default:
      return [400, "INVALID_ARGUMENT", `the request is not valid HTTP/1.1 (${error.code})`];
  }
}

/**
 * Answers a request Node's HTTP parser refused (headers past its limit, not HTTP, too slow)
 * in the usual error shape; fastify's own answer has another, which clients cannot read.
 */
function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  // A reset connection has nobody to answer.
  if (error.code === "ECONNRESET" || socket.destroyed) return;
  const [status, code, message] = clientErrorAnswer(error);
  const body = JSON.stringify({ error: { code, message } });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}

function isWebSocketUpgrade(request: IncomingMessage): boolean {
  return /^\s*websocket\s*$/i.test(request.headers.upgrade ?? "");
}

/** Request headers that offer an upgrade; dropped when the offer is declined. */
const upgradeHeaders = new Set(["upgrade", "http2-settings"]);

/**
 * Declines an upgrade other than WebSocket (an `h2c` offer from curl --http2 or Java's
 * HttpClient) by serving the request as plain HTTP/1.1, which RFC 9110 lets a server do.
 * Node hands every upgrade request to the `upgrade` listener, parser detached, so the
 * request's head is written back without its offer and the socket handed to the HTTP
 * server again, as a new connection, with the body bytes already read (`head`) after it.
 */
function serveWithoutUpgrade(
  server: Server,
  request: IncomingMessage,
  socket: Duplex,
  head: Buffer,
): void {
  const lines = [`${request.method} ${request.url} HTTP/${request.httpVersion}`];
  const raw = request.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    let value = raw[i + 1]!;
    if (upgradeHeaders.has(name.toLowerCase())) continue;
    if (name.toLowerCase() === "connection") {
      const kept = value.split(",").map((token) => token.trim());
      value = kept.filter((token) => !upgradeHeaders.has(token.toLowerCase())).join(", ");
      if (value === "") continue;
    }
    lines.push(`${name}: ${value}`);
  }
  socket.unshift(Buffer.concat([Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "latin1"), head]));
  // An HTTPS server reads HTTP from sockets it has decrypted (`secureConnection`).
  const encrypted = (socket as Duplex & { encrypted?: boolean }).encrypted === true;
  server.emit(encrypted ? "secureConnection" : "connection", socket);
}

function addRoutes(app: FastifyInstance, options: HttpServerOptions): void {
  for (const kind of ["query", "command", "admin"] as const) {
    app.post(`/v1/${kind}`, (request, reply) =>
      handle(options, kind, request, reply, (body) => body),
    );
  }
  app.post("/v1/call/:procedure", (request, reply) =>
    handle(options, "call", request, reply, (body) => ({
      procedure: (request.params as { procedure: string }).procedure,
      args: body["args"],
    })),
  );
  app.get("/healthz", async (_request, reply) => {
    const serving = options.serving();
    const status = serving ? 200 : 503;
    await reply.status(status).type("application/json").send(encodeJson({ serving }));
  });
  app.get("/metrics", async (request, reply) => {
    try {
      authenticate(options.tokens, request.headers.authorization);
      const text = await options.metrics.registry.metrics();
      await reply.type(options.metrics.registry.contentType).send(text);
    } catch (error) {
      sendError(reply, error, options.fault);
    }
  });
  // A plain GET (a browser's address bar, curl) reaches the route; an upgrade never does.
  // The token is checked as the upgrade checks it (origins are, by the hook), so a browser
  // client, whose WebSocket hides why an upgrade failed, can ask here (client.ts).
  app.get(webSocketPath, async (request, reply) => {
    try {
      const token = new URL(request.url, "http://localhost").searchParams.get("token");
      authenticate(
        options.tokens,
        token === null ? request.headers.authorization : `Bearer ${token}`,
      );
      const message = `${webSocketPath} is a WebSocket endpoint: open it with a WebSocket client`;
      void reply.header("upgrade", "websocket").header("connection", "Upgrade");
      throw new ProtocolError("UPGRADE_REQUIRED", message, 426);
    } catch (error) {
      sendError(reply, error, options.fault);
    }
    return reply;
  });
  addConsoleRoutes(app);
}

/** The methods each path answers, gathered as routes are added (HEAD comes with GET). */
function collectRouteMethods(app: FastifyInstance): Map<string, string[]> {
  const methods = new Map<string, string[]>();
  app.addHook("onRoute", (route) => {
    const list = methods.get(route.url) ?? [];
    list.push(...[route.method].flat());
    methods.set(route.url, list);
  });
  return methods;
}

/**
 * A known path asked with a method it does not take answers 405 with `Allow`, so a client
 * that sent GET to a POST route learns that, not that the route does not exist.
 */
function addMethodRefusals(
  app: FastifyInstance,
  routeMethods: Map<string, string[]>,
  fault: (error: unknown) => void,
): void {
  // Copied first: the routes added here are reported to the collecting hook too.
  const table = [...routeMethods].map(([url, methods]) => [url, [...methods]] as const);
  for (const [url, allowed] of table) {
    const others = refusableMethods.filter((method) => !allowed.includes(method));
    if (others.length === 0) continue;
    const allow = allowed.join(", ");
    app.route({
      method: others,
      url,
      handler: async (request, reply) => {
        const message = `${request.method} ${request.url} is not served: ${url} takes ${allow}`;
        void reply.header("allow", allow);
        sendError(reply, new ProtocolError("METHOD_NOT_ALLOWED", message, 405), fault);
        return reply;
      },
    });
  }
}

/** One RQL or call request: authenticate, run, encode; records the outcome in the metrics. */
async function handle(
  options: HttpServerOptions,
  kind: RequestKind,
  request: FastifyRequest,
  reply: FastifyReply,
  toRequest: (body: Record<string, unknown>) => Record<string, unknown>,
): Promise<void> {
  const started = performance.now();
  let outcome = "ok";
  try {
    const role = authenticate(options.tokens, request.headers.authorization);
    const body = request.body;
    if (body === null || typeof body !== "object" || Array.isArray(body)) {
      throw new ProtocolError("INVALID_ARGUMENT", "the request body must be a JSON object", 400);
    }
    const result = await runRequest(
      options.context,
      kind,
      toRequest(body as Record<string, unknown>),
      role,
    );
    const answer = kind === "call" ? { result } : result;
    await reply.type("application/json").send(encodeJson(answer));
  } catch (error) {
    const forwarding = options.forwarding;
    // Queries never write; a write refused here goes to the writer when forwarding is on.
    outcome =
      forwarding !== undefined && kind !== "query" && isForwardable(error, request)
        ? await relay(forwarding, request, reply, options.fault)
        : sendError(reply, error, options.fault);
  } finally {
    options.metrics.observeRequest("http", kind, outcome, (performance.now() - started) / 1000);
  }
}

/** Forwards the request to the writer and relays its answer; returns the metrics outcome. */
async function relay(
  forwarding: WriteForwarding,
  request: FastifyRequest,
  reply: FastifyReply,
  fault: (error: unknown) => void,
): Promise<string> {
  try {
    const answer = await forwardWrite(forwarding, request);
    await reply.status(answer.status).type(answer.contentType).send(answer.body);
    return "forwarded"; // the writer counts the outcome itself
  } catch (error) {
    return sendError(reply, error, fault);
  }
}

/** Sends the error answer; returns its code for the metrics. */
/**
 * A browser's request from a page elsewhere is refused (403) unless its origin is allowed;
 * an allowed one gets CORS headers, and its preflight (OPTIONS) is answered here.
 */
function addOriginCheck(app: FastifyInstance, options: HttpServerOptions): void {
  app.addHook("onRequest", async (request, reply) => {
    const origin = request.headers.origin;
    if (origin === undefined) return;
    let cors: boolean;
    try {
      cors = checkOrigin(origin, request.headers.host, options.origins);
    } catch (error) {
      sendError(reply, error, options.fault);
      return reply;
    }
    if (!cors) return;
    const preflight =
      request.method === "OPTIONS" &&
      request.headers["access-control-request-method"] !== undefined;
    void reply.headers(corsHeaders(origin, preflight));
    if (!preflight) return;
    await reply.status(204).send();
    return reply;
  });
}

function sendError(reply: FastifyReply, error: unknown, fault: (error: unknown) => void): string {
  const { status, body } = toWireError(error, fault);
  void reply
    .status(status)
    .type("application/json")
    .send(encodeJson({ error: body }));
  return body.code;
}

/** Fastify's own failures (body parsing, limits) as protocol errors with stable codes. */
function translateFastifyError(error: FastifyError): unknown {
  switch (error.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new ProtocolError("LIMIT_EXCEEDED", "the request body is larger than allowed", 413);
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return new ProtocolError(
        "UNSUPPORTED_MEDIA_TYPE",
        "send the request body as application/json",
        415,
      );
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return new ProtocolError("INVALID_JSON", "the request body is empty", 400);
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return new ProtocolError("INVALID_ARGUMENT", "the Content-Length is wrong", 400);
    case "FST_ERR_BAD_URL":
      return new ProtocolError("INVALID_ARGUMENT", "the path is not a valid URL", 400);
    case "FST_ERR_MAX_PARAM_LENGTH": {
      const limit = `${pathParamLengthMax} characters`;
      return new ProtocolError("LIMIT_EXCEEDED", `a path parameter is longer than ${limit}`, 414);
    }
    default:
      break;
  }
  if (error instanceof SyntaxError || error.statusCode === 400) {
    return new ProtocolError("INVALID_JSON", "the request body is not valid JSON", 400);
  }
  return error;
}
