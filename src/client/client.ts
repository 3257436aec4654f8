/**
 * @module The Statebase client for Node and browsers. Requests go over one WebSocket when it
 * is open and over HTTP otherwise (fallback), both with a timeout; subscriptions need the
 * WebSocket. When the socket drops, the client reconnects with growing delays and subscribes
 * again from each subscription's last seq, so callers see one gap-free stream.
 * @example
 * const client = await connect("http://127.0.0.1:8090", { token });
 * const { frames } = await client.query("from shop::orders take 1");
 * for await (const message of client.subscribe({ table: "shop::orders" })) { ... }
 */
import {
  AccessError,
  ConnectionError,
  InvalidInputError,
  LimitExceededError,
  NotFoundError,
  ServerError,
  StatebaseError,
  TimeoutError,
  errorFromWire,
} from "./errors.ts";
import { createSocketFactory, socketOpen } from "./socket.ts";
import type { SocketFactory, SocketLike } from "./socket.ts";
import { ClientSubscription } from "./subscription.ts";
import type { SubscribeOptions, SubscriptionHost } from "./subscription.ts";
import type { QueryParams, QueryResult, SubscriptionMessage, SubscriptionTarget } from "./types.ts";

/** The WebSocket close code for a message too big to process (RFC 6455 §7.4.1). */
const wsCloseMessageTooBig = 1009;
/** How often an idle WebSocket is pinged, by default (the server pings every 30 s). */
const pingIntervalMsDefault = 15_000;
/** Pings in a row a socket may leave unanswered before it is taken as dead. */
const pingsUnansweredMax = 2;

export interface ClientOptions {
  /** Bearer token; its role decides what the client may do. */
  token?: string;
  /**
   * `auto` (default): WebSocket, HTTP while it is down; `websocket` or `http` only (with
   * `http`, a WebSocket carries the subscriptions alone).
   */
  transport?: "auto" | "websocket" | "http";
  /** How long a request may wait for its answer, and opening the WebSocket (default 30 s). */
  requestTimeoutMs?: number;
  /** First reconnect delay (default 100 ms), doubling up to `reconnectDelayMaxMs` (5 s). */
  reconnectDelayMs?: number;
  reconnectDelayMaxMs?: number;
  /**
   * How often an idle WebSocket is pinged (default 15 s). A socket that stays silent for two
   * intervals after a ping is taken as dead (a peer gone without closing) and reopened.
   */
  pingIntervalMs?: number;
  /** Options for Node's `ws` (such as `{ca}` for a private CA); ignored in browsers. */
  webSocketOptions?: Record<string, unknown>;
  /** Replaces how sockets are opened (tests, custom environments). */
  webSocket?: SocketFactory;
  /** Replaces the global fetch for the HTTP transport. */
  fetch?: typeof fetch;
}

type Kind = "query" | "command" | "admin" | "call";

/** A request sent over the WebSocket, waiting for its answer. */
interface Pending {
  resolve(value: unknown): void;
  reject(error: StatebaseError): void;
  readonly kind: Kind;
  /** When it times out, on performance.now()'s clock. */
  readonly deadlineMs: number;
}

/** Connects to the server at `url` (`http://host:port` or `https://...`). */
export async function connect(url: string, options: ClientOptions = {}): Promise<Client> {
  const client = new Client(url, options);
  await client.start();
  return client;
}

export class Client implements SubscriptionHost {
  private readonly base: string;
  private readonly timeoutMs: number;
  private readonly openSocket: SocketFactory;
  /**
   * Requests sent over the WebSocket, oldest first. Every request waits the same timeoutMs, so
   * this order is also the order of their deadlines, and one timer (timeoutTimer) armed for
   * the oldest serves them all: a timer per request cost every request a Timeout set and
   * cleared.
   */
  private readonly pending = new Map<number | string, Pending>();
  private timeoutTimer: ReturnType<typeof setTimeout> | undefined;
  /** HTTP requests in flight, aborted by close(). */
  private readonly httpRequests = new Set<AbortController>();
  private readonly subscriptions = new Map<string, ClientSubscription>();
  private socket: SocketLike | undefined;
  private opening: Promise<boolean> | undefined;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  /** Whether anything arrived on the socket since the last ping tick. */
  private heard = false;
  private pingsUnanswered = 0;
  private reconnectDelayMs: number;
  /** Why the last attempt to open the socket was refused for good (401, 403, 404). */
  private refusal: StatebaseError | undefined;
  private nextId = 1;
  private closed = false;

  constructor(
    url: string,
    private readonly options: ClientOptions,
  ) {
    this.base = url.replace(/\/+$/, "");
    this.timeoutMs = options.requestTimeoutMs ?? 30_000;
    this.reconnectDelayMs = options.reconnectDelayMs ?? 100;
    this.openSocket = options.webSocket ?? createSocketFactory(options.webSocketOptions);
  }

  /** Whether the WebSocket is open (requests then use it). */
  get connected(): boolean {
    return this.socket?.readyState === socketOpen;
  }

  /** Opens the WebSocket; with `transport: "websocket"` a failure rejects. */
  async start(): Promise<void> {
    if (this.options.transport === "http") return;
    const opened = await this.open();
    if (!opened && this.options.transport === "websocket") {
      throw (
        this.refusal ??
        new ConnectionError("DISCONNECTED", `cannot open a WebSocket to ${this.base}`)
      );
    }
  }

  query(rql: string, params?: QueryParams): Promise<QueryResult> {
    return this.request("query", { rql, params }) as Promise<QueryResult>;
  }

  command(rql: string, params?: QueryParams): Promise<QueryResult> {
    return this.request("command", { rql, params }) as Promise<QueryResult>;
  }

  admin(rql: string, params?: QueryParams): Promise<QueryResult> {
    return this.request("admin", { rql, params }) as Promise<QueryResult>;
  }

  /** Calls a procedure; resolves to what its `run` returned. */
  call<T = unknown>(
    procedure: string,
    args?: Readonly<Record<string, unknown>> | readonly unknown[],
  ): Promise<T> {
    return this.request("call", { procedure, args }) as Promise<T>;
  }

  /** Follows `target`: a snapshot, then one delta per commit; survives reconnects. */
  subscribe(target: SubscriptionTarget, options: SubscribeOptions = {}): ClientSubscription {
    if (this.closed) throw new ConnectionError("DISCONNECTED", "the client is closed");
    const subscription = new ClientSubscription(`s${this.nextId++}`, target, options, this);
    this.subscriptions.set(subscription.id, subscription);
    if (this.connected) this.sendSubscribe(subscription);
    else this.scheduleReconnect(0);
    return subscription;
  }

  /** Ends every subscription and the connection; pending requests (either transport) fail. */
  close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.pingTimer);
    for (const subscription of this.subscriptions.values()) subscription.close();
    const closed = new ConnectionError("DISCONNECTED", "the client was closed");
    this.rejectPending(closed);
    for (const abort of this.httpRequests) abort.abort(closed);
    this.socket?.close(1000, "client closed");
    this.socket = undefined;
    return Promise.resolve();
  }

  /** Part of {@link SubscriptionHost}: tells the server to stop a subscription. */
  unsubscribe(subscription: ClientSubscription): void {
    if (this.connected) {
      const id = this.nextId++;
      this.socket!.send(JSON.stringify({ id, type: "unsubscribe", sub: subscription.id }));
    }
    this.forget(subscription.id);
  }

  /** Forgets a subscription; with transport "http" the socket goes with the last one. */
  private forget(id: string): void {
    this.subscriptions.delete(id);
    const socket = this.socket;
    if (this.wantsSocket() || socket === undefined) return;
    this.socket = undefined;
    clearInterval(this.pingTimer);
    socket.close(1000, "no subscriptions left");
  }

  // ---- Requests ----

  /**
   * Sends a request over the open WebSocket, or through {@link requestElsewhere}. Not an async
   * function: the common case (an open socket) hands back the socket request's own promise,
   * instead of one more promise and its ticks per request.
   */
  private request(kind: Kind, body: Record<string, unknown>): Promise<unknown> {
    const transport = this.options.transport;
    if (this.closed || transport === "http" || !this.connected) {
      return this.requestElsewhere(kind, body);
    }
    const sent = this.requestOverSocket(kind, body);
    if (kind === "query" || transport === "websocket") return sent;
    // A replicated follower forwards writes to the writer over HTTP only
    // (docs/scale-out.md); NOT_WRITER means it applied nothing, so sending again is safe.
    return sent.catch((error: unknown) => {
      const refused = error instanceof StatebaseError && error.code === "NOT_WRITER";
      if (!refused) throw error;
      return this.requestOverHttp(kind, body);
    });
  }

  /** {@link request} when the client is closed, uses HTTP, or the socket is not open. */
  private async requestElsewhere(kind: Kind, body: Record<string, unknown>): Promise<unknown> {
    if (this.closed) throw new ConnectionError("DISCONNECTED", "the client is closed");
    // With transport "http" a socket is open only for subscriptions; requests stay on HTTP.
    if (this.options.transport === "http") return this.requestOverHttp(kind, body);
    if (this.options.transport === "websocket") {
      if (!(await this.open())) {
        throw (
          this.refusal ??
          new ConnectionError("DISCONNECTED", `no WebSocket connection to ${this.base}`)
        );
      }
      return this.requestOverSocket(kind, body);
    }
    return this.requestOverHttp(kind, body);
  }

  /** Sends a request over the open socket; a request that cannot be encoded rejects. */
  private requestOverSocket(kind: Kind, body: Record<string, unknown>): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      // id and type first: after a leading spread V8 defined both through its runtime on every
      // request; this order takes the fast path (callgrind of making and encoding a call:
      // 7,437 instructions against 17,304).
      const text = encodeRequest({ id, type: kind, ...body });
      const deadlineMs = performance.now() + this.timeoutMs;
      this.pending.set(id, { resolve, reject, kind, deadlineMs });
      // Left armed when answers come: it fires once per timeoutMs at most, and re-arms.
      if (this.timeoutTimer === undefined) this.armTimeouts(this.timeoutMs);
      this.socket!.send(text);
    });
  }

  private armTimeouts(delayMs: number): void {
    this.timeoutTimer = setTimeout(() => this.expireRequests(), delayMs);
  }

  /** Fails the requests whose time is up (oldest first), then arms for the next one. */
  private expireRequests(): void {
    this.timeoutTimer = undefined;
    const nowMs = performance.now();
    for (const [id, pending] of this.pending) {
      if (pending.deadlineMs > nowMs) {
        this.armTimeouts(pending.deadlineMs - nowMs);
        return;
      }
      this.pending.delete(id);
      const message = `no answer to ${pending.kind} within ${this.timeoutMs} ms`;
      pending.reject(new TimeoutError("TIMEOUT", message));
    }
  }

  private async requestOverHttp(kind: Kind, body: Record<string, unknown>): Promise<unknown> {
    const path =
      kind === "call" ? `/v1/call/${encodeURIComponent(String(body["procedure"]))}` : `/v1/${kind}`;
    const payload = encodeRequest(kind === "call" ? { args: body["args"] } : body);
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (this.options.token !== undefined) headers["authorization"] = `Bearer ${this.options.token}`;
    const fetchFn = this.options.fetch ?? fetch;
    // Aborted with the typed error: by its timeout, or by close() (abortHttpRequests).
    const abort = new AbortController();
    const timeout = new TimeoutError("TIMEOUT", `no answer to ${kind} within ${this.timeoutMs} ms`);
    const timer = setTimeout(() => abort.abort(timeout), this.timeoutMs);
    this.httpRequests.add(abort);
    try {
      let response: Response;
      try {
        response = await fetchFn(`${this.base}${path}`, {
          method: "POST",
          headers,
          body: payload,
          signal: abort.signal,
        });
      } catch (error) {
        if (abort.signal.aborted) throw abort.signal.reason as StatebaseError;
        const reason = fetchFailure(error);
        throw new ConnectionError("DISCONNECTED", `cannot reach ${this.base}: ${reason}`);
      }
      const answer = await this.readHttpAnswer(`${this.base}${path}`, response, abort.signal);
      return kind === "call" ? answer["result"] : answer;
    } finally {
      clearTimeout(timer);
      this.httpRequests.delete(abort);
    }
  }

  /**
   * The server's JSON answer, or its error thrown typed. Anything else (a proxy's error page,
   * a body cut short) is said as what came, not as an unknown server error.
   */
  private async readHttpAnswer(
    url: string,
    response: Response,
    signal: AbortSignal,
  ): Promise<Record<string, unknown>> {
    let answer: unknown;
    try {
      answer = await response.json();
    } catch {
      // The request's timeout (and close()) also cover reading the body.
      if (signal.aborted) throw signal.reason as StatebaseError;
    }
    const record =
      answer !== null && typeof answer === "object" && !Array.isArray(answer)
        ? (answer as Record<string, unknown>)
        : undefined;
    const error = record?.["error"];
    if (response.ok && record !== undefined && error === undefined) return record;
    if (error !== null && typeof error === "object") throw errorFromWire(error, response.status);
    const status = response.status;
    const type = response.headers.get("content-type") ?? "no content type";
    const message = `${url} answered HTTP ${status}, not a Statebase answer (${type})`;
    // A gateway's 502-504 means the server is out of reach: worth retrying, like a drop.
    if (status >= 502 && status <= 504) {
      throw new ConnectionError("DISCONNECTED", `${message}: is the server up?`, status);
    }
    throw new ServerError("INTERNAL", message, status);
  }

  private rejectPending(error: StatebaseError): void {
    clearTimeout(this.timeoutTimer);
    this.timeoutTimer = undefined;
    for (const [id, pending] of this.pending) {
      this.pending.delete(id);
      pending.reject(error);
    }
  }

  // ---- The WebSocket ----

  /** Opens the socket once at a time; resolves whether it opened. */
  private open(): Promise<boolean> {
    this.opening ??= this.openOnce().finally(() => {
      this.opening = undefined;
    });
    return this.opening;
  }

  private async openOnce(): Promise<boolean> {
    if (this.closed) return false;
    if (this.connected) return true;
    this.refusal = undefined;
    const url = `${this.base.replace(/^http/, "ws")}/v1/ws`;
    let socket: SocketLike;
    try {
      socket = await this.openSocket(url, this.options.token);
    } catch {
      // An unloadable WebSocket implementation means HTTP only; requests still work.
      return false;
    }
    const outcome = await this.awaitOpen(socket, url);
    if (outcome === "silent" && !this.closed) this.refusal = await this.askWhyRefused(url);
    return outcome === "open";
  }

  /**
   * Waits for `socket` to open. "failed" when it could not, "silent" when it failed without
   * saying why (a browser's WebSocket never says; {@link askWhyRefused} then asks).
   */
  private awaitOpen(socket: SocketLike, url: string): Promise<"open" | "failed" | "silent"> {
    return new Promise((resolve) => {
      // A server that accepts the connection but never answers the upgrade (stuck, or some
      // other service on the port) would hold connect() forever.
      const timer = setTimeout(() => {
        resolve("failed");
        socket.close();
      }, this.timeoutMs);
      socket.onopen = () => {
        clearTimeout(timer);
        // Closed while it was opening: it would otherwise live on, pinging, unowned.
        if (this.closed) {
          socket.close(1000, "client closed");
          resolve("failed");
          return;
        }
        this.socket = socket;
        this.reconnectDelayMs = this.options.reconnectDelayMs ?? 100;
        this.startPinging(socket);
        for (const subscription of this.subscriptions.values()) this.sendSubscribe(subscription);
        resolve("open");
      };
      socket.onmessage = (event) => {
        this.heard = true;
        this.receive(event.data);
      };
      socket.onerror = (event) => {
        clearTimeout(timer);
        const said = typeof (event as { message?: unknown } | null)?.message === "string";
        this.refusal = refusalOf(event, url);
        resolve(said ? "failed" : "silent");
      };
      socket.onclose = (event) => {
        clearTimeout(timer);
        resolve("silent");
        if (this.socket === socket) this.lost(event?.code);
      };
    });
  }

  /**
   * Why the server refused the socket when the WebSocket could not say. `GET /v1/ws` over
   * HTTP checks origin and token as the upgrade does, and answers 426 where it would have
   * upgraded: a refusal retrying cannot change (401, 403, 404) is returned; anything else
   * (426, 503, no answer, a CORS refusal a page cannot read) leaves the failure a passing one.
   */
  private async askWhyRefused(url: string): Promise<StatebaseError | undefined> {
    const headers: Record<string, string> = {};
    if (this.options.token !== undefined) headers["authorization"] = `Bearer ${this.options.token}`;
    const fetchFn = this.options.fetch ?? fetch;
    try {
      const response = await fetchFn(`${this.base}/v1/ws`, {
        headers,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      void response.body?.cancel().catch(() => undefined);
      return refusalOfStatus(response.status, url);
    } catch {
      return undefined;
    }
  }

  /**
   * Pings the socket when it was idle for an interval; after two silent intervals it is
   * dead (a peer gone without a FIN never closes it) and is dropped for a reconnect.
   */
  private startPinging(socket: SocketLike): void {
    clearInterval(this.pingTimer);
    this.heard = false;
    this.pingsUnanswered = 0;
    this.pingTimer = setInterval(() => {
      if (this.socket !== socket) return;
      if (this.heard) {
        this.heard = false;
        this.pingsUnanswered = 0;
        return;
      }
      if (this.pingsUnanswered >= pingsUnansweredMax) {
        socket.close(4000, "no answer to pings");
        this.lost();
        return;
      }
      this.pingsUnanswered++;
      socket.send(JSON.stringify({ id: this.nextId++, type: "ping" }));
    }, this.options.pingIntervalMs ?? pingIntervalMsDefault);
  }

  /** The socket closed: fail requests in flight and reconnect for the subscriptions. */
  private lost(closeCode?: number): void {
    this.socket = undefined;
    clearInterval(this.pingTimer);
    // 1009: the server closes the socket on a message past its wsMessageSizeBytesMax.
    const error =
      closeCode === wsCloseMessageTooBig
        ? new LimitExceededError(
            "LIMIT_EXCEEDED",
            "the server closed the connection: a message was larger than its " +
              "limits.wsMessageSizeBytesMax (WebSocket close code 1009)",
          )
        : new ConnectionError("DISCONNECTED", "the connection closed");
    this.rejectPending(error);
    this.scheduleReconnect();
  }

  /** Whether a socket is wanted: always but with transport "http", there for subscriptions. */
  private wantsSocket(): boolean {
    return this.options.transport !== "http" || this.subscriptions.size > 0;
  }

  private scheduleReconnect(delayMs = this.reconnectDelayMs): void {
    if (this.closed || this.reconnectTimer !== undefined || !this.wantsSocket()) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.open().then((opened) => {
        if (opened) return;
        // Refused for good: waiting subscriptions fail instead of retrying in silence.
        const refusal = this.refusal;
        if (refusal !== undefined) {
          for (const subscription of [...this.subscriptions.values()]) subscription.fail(refusal);
          this.subscriptions.clear();
          return;
        }
        const max = this.options.reconnectDelayMaxMs ?? 5_000;
        this.reconnectDelayMs = Math.min(this.reconnectDelayMs * 2, max);
        this.scheduleReconnect();
      });
    }, delayMs);
  }

  private sendSubscribe(subscription: ClientSubscription, fresh = false): void {
    const fromSeq = fresh ? undefined : subscription.resumeSeq();
    const message = { id: subscription.id, type: "subscribe", target: subscription.target };
    this.socket?.send(encodeRequest(fromSeq === undefined ? message : { ...message, fromSeq }));
  }

  private receive(data: unknown): void {
    const text = typeof data === "string" ? data : String(data);
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(text) as Record<string, unknown>;
    } catch {
      // A server never sends this; ignoring the frame keeps the connection for the rest.
      return;
    }
    const sub = message["sub"];
    if (typeof sub === "string" && message["type"] !== "subscribed" && !("id" in message)) {
      this.receiveEvent(sub, message as unknown as SubscriptionMessage);
      return;
    }
    this.receiveAnswer(message);
  }

  private receiveEvent(id: string, message: SubscriptionMessage): void {
    const subscription = this.subscriptions.get(id);
    if (subscription === undefined) return;
    subscription.deliver(message);
    // A cut-off slow reader resumes at once from the last seq it delivered.
    if (message.type === "end" && message.reason === "lagged" && !subscription.closed) {
      this.sendSubscribe(subscription);
    }
    if (subscription.closed) this.forget(id);
  }

  private receiveAnswer(message: Record<string, unknown>): void {
    const id = message["id"] as number | string;
    const subscription = typeof id === "string" ? this.subscriptions.get(id) : undefined;
    if (subscription !== undefined) {
      if (message["type"] !== "error") return;
      const error = errorFromWire(message["error"]);
      // Resuming from a seq the server no longer holds: start again from a snapshot.
      if (error.code === "SEQ_NOT_RETAINED" && subscription.lastSeq !== undefined) {
        this.sendSubscribe(subscription, true);
        return;
      }
      this.forget(id as string);
      subscription.fail(error);
      return;
    }
    const pending = this.pending.get(id);
    if (pending === undefined) return;
    this.pending.delete(id);
    if (message["type"] === "error") pending.reject(errorFromWire(message["error"]));
    else pending.resolve(message["result"]);
  }
}

/** Upgrade answers that retrying cannot change: no valid token, refused, no such endpoint. */
const refusalOfCode: Readonly<Record<number, [typeof AccessError, string, string]>> = {
  401: [AccessError, "UNAUTHORIZED", "the token is missing or unknown"],
  403: [AccessError, "FORBIDDEN", "the token's role or the page's origin is not allowed"],
  404: [NotFoundError, "NOT_FOUND", "no WebSocket endpoint there"],
};

/**
 * The typed error for a socket that failed to open because the server refused it, or
 * undefined (a network failure or a busy server: worth retrying). Node's `ws` says the
 * status in its error event ("Unexpected server response: 401"); browsers say nothing.
 */
function refusalOf(event: unknown, url: string): StatebaseError | undefined {
  const text = (event as { message?: unknown } | null)?.message;
  const match = typeof text === "string" ? /server response: (\d{3})/.exec(text) : null;
  return refusalOfStatus(Number(match?.[1]), url);
}

/** The typed error for an upgrade refused with `status`, or undefined when worth retrying. */
function refusalOfStatus(status: number, url: string): StatebaseError | undefined {
  const refusal = refusalOfCode[status];
  if (refusal === undefined) return undefined;
  const [ErrorType, code, why] = refusal;
  return new ErrorType(code, `the server refused the WebSocket at ${url}: ${why}`, status);
}

/**
 * A request as JSON text. Params may hold values JSON has no form for; they go as the server
 * reads them (docs/server.md): integers beyond 2^53 as decimal strings, bytes as 0x hex. One
 * that still cannot be sent (a cycle) is the caller's mistake, not a connection failure.
 */
export function encodeRequest(message: Record<string, unknown>, replaceAlways = false): string {
  try {
    // The replacer is called for every key and value; a request with neither bigints nor
    // bytes (nor a toJSON that could make one) encodes the same without it, and cheaper.
    // `replaceAlways` (tests) takes the replacer's way for any request.
    const plain = !replaceAlways && plainPartsLeft(message, plainPartsMax) >= 0;
    return plain ? JSON.stringify(message) : JSON.stringify(message, encodeValue);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new InvalidInputError("INVALID_ARGUMENT", `cannot send the request as JSON: ${reason}`);
  }
}

/**
 * How many parts (values, at every level) a request may have for {@link encodeRequest} to
 * look through it for parts only {@link encodeValue} encodes; a larger one uses the replacer.
 */
const plainPartsMax = 256;

/**
 * `budget` less the parts of `value`, or -1 when it has more, or holds a bigint, bytes (any
 * typed array or buffer) or an object with a toJSON, which only the replacer encodes right.
 */
function plainPartsLeft(value: unknown, budget: number): number {
  if (budget <= 0) return -1;
  let left = budget - 1;
  if (typeof value === "bigint") return -1;
  if (value === null || typeof value !== "object") return left;
  if (ArrayBuffer.isView(value) || "toJSON" in value) return -1;
  for (const key in value) {
    left = plainPartsLeft((value as Record<string, unknown>)[key], left);
    if (left < 0) return -1;
  }
  return left;
}

function encodeValue(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") {
    const safe =
      value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER);
    return safe ? Number(value) : value.toString();
  }
  if (value instanceof Uint8Array) {
    return `0x${Array.from(value, (byte) => byte.toString(16).padStart(2, "0")).join("")}`;
  }
  return value;
}

/**
 * What a failed fetch says, with its cause where the runtime gives one (Node's says only
 * "fetch failed"; its cause tells a refused connection from a server that is not HTTP).
 */
function fetchFailure(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause: unknown = error.cause;
  if (!(cause instanceof Error) || cause.message === "") return error.message;
  return `${error.message}: ${cause.message}`;
}
