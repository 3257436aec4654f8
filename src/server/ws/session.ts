/**
 * @module One WebSocket session: JSON requests with ids (query, command, admin, call, ping)
 * answered in any order, and subscriptions that forward a database subscription's snapshot,
 * deltas and end message, each tagged with the subscription's id and the commit `seq`
 * (docs/server.md). A session never slows a writer: past its bound on the socket's send
 * buffer a subscription stops forwarding while the database subscription queues a bounded
 * number of commits; a reader still behind then is ended with reason `lagged`, and resumes
 * from the last seq it saw.
 */
import type { Socket } from "node:net";
import { performance } from "node:perf_hooks";
import type { WebSocket, RawData } from "ws";
import { DbError, describeValue } from "../../lib/errors.ts";
import { wsPendingRequestsMax, wsSubscriptionsMax } from "../../lib/limits.ts";
import type { Subscription, SubscriptionMessage, SubscriptionTarget } from "../../types.ts";
import { authorize } from "../access.ts";
import type { TokenRole } from "../auth.ts";
import { encodeJson, encodeResultAnswer } from "../json.ts";
import { checkRequestDepth, requestKinds, runRequest } from "../requests.ts";
import type { RequestKind } from "../requests.ts";
import { ProtocolError, toWireError } from "../wire-error.ts";
import type { WebSocketGatewayOptions } from "./gateway.ts";
import { directSocketOf, encodeWebSocketTextFrame } from "../../lib/websocket-frame.ts";
import { followerBehind, waitForSeq } from "./resume-wait.ts";

type RequestId = string | number;

/** One open subscription of the session. */
interface OpenSubscription {
  readonly source: Subscription;
  /** The seq of the last message sent, for the `lagged` end message. */
  seq: number;
  ended: boolean;
}

const targetKinds = ["table", "view", "query", "machine", "queue"] as const;

/**
 * Serves requests and subscriptions on `ws` for a caller with role `role`; `heard` is called
 * for every message (the gateway's heartbeat).
 */
export function startSession(
  ws: WebSocket,
  role: TokenRole,
  options: WebSocketGatewayOptions,
  heard: () => void,
): { close(): void } {
  const session = new Session(ws, role, options);
  ws.on("message", (data: RawData, isBinary: boolean) => {
    heard();
    session.receive(data, isBinary);
  });
  return { close: () => session.close() };
}

class Session {
  private readonly subscriptions = new Map<RequestId, OpenSubscription>();
  private pending = 0;
  /** Subscribes waiting for this follower to apply their fromSeq (resume-wait.ts). */
  private readonly waiting = new Set<RequestId>();
  /** Whether reading requests stopped because the send buffer is past its bound. */
  private readingPaused = false;
  private readonly drainWaiters: Array<() => void> = [];
  /** Where frames are written as one buffer each (lib/websocket-frame.ts); else `ws.send`. */
  private readonly socket: Socket | undefined;

  constructor(
    private readonly ws: WebSocket,
    private readonly role: TokenRole,
    private readonly options: WebSocketGatewayOptions,
  ) {
    this.socket = directSocketOf(ws);
  }

  receive(data: RawData, isBinary: boolean): void {
    const request = decodeRequest(data, isBinary);
    if ("error" in request) {
      this.fail(request.id, request.error);
      return;
    }
    const { id, type } = request;
    try {
      if (requestKinds.includes(type as RequestKind)) {
        if (this.pending >= wsPendingRequestsMax) {
          throw new DbError("LIMIT_EXCEEDED", `at most ${wsPendingRequestsMax} requests in flight`);
        }
        void this.run(id, type as RequestKind, request.body);
      } else if (type === "subscribe") this.subscribeWhenApplied(id, request.body);
      else if (type === "unsubscribe") this.unsubscribe(id, request.body);
      else if (type === "ping") this.send({ id, type: "pong" });
      else throw new DbError("INVALID_ARGUMENT", `unknown request type ${describeValue(type)}`);
    } catch (error) {
      this.fail(id, error);
    }
  }

  /**
   * Stops every subscription without end messages: the socket is going away (the client
   * left, or the server shuts down and closes it with 1001), so a client reconnects and
   * resumes, whereas an `end: closed` would tell it the subscription is over.
   */
  close(): void {
    for (const [id, open] of [...this.subscriptions]) this.end(id, open, undefined);
    for (const wake of this.drainWaiters.splice(0)) wake();
  }

  /**
   * Sends `message`. Past the send buffer's bound the session stops reading requests (until
   * {@link onFlushed} sees it drained): a client that sends requests and never reads their
   * answers would otherwise have the server buffer them without limit.
   */
  private send(message: object): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    this.sendText(encodeJson(message));
  }

  /** {@link send} of a message already encoded. */
  private sendText(text: string): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    if (this.socket === undefined) this.ws.send(text, this.onFlushed);
    else this.socket.write(encodeWebSocketTextFrame(text, false), this.onFlushed);
    if (this.readingPaused) return;
    if (this.ws.bufferedAmount <= this.options.limits.wsBufferedSizeBytesMax) return;
    this.readingPaused = true;
    this.ws.pause();
  }

  /** Sends an error answer; returns its code for the metrics. */
  private fail(id: RequestId | null, error: unknown): string {
    const { body } = toWireError(error, this.options.fault);
    this.send({ id, type: "error", error: body });
    return body.code;
  }

  private async run(id: RequestId, kind: RequestKind, request: Record<string, unknown>) {
    const started = performance.now();
    let outcome = "ok";
    this.pending += 1;
    try {
      const result = await runRequest(this.options.context, kind, request, this.role);
      // Encoded only for an open socket, as send() does: a closed one is sent nothing.
      if (this.ws.readyState === this.ws.OPEN) this.sendText(encodeResultAnswer(id, result));
    } catch (error) {
      outcome = this.fail(id, error);
    } finally {
      this.pending -= 1;
      const seconds = (performance.now() - started) / 1000;
      this.options.metrics.observeRequest("ws", kind, outcome, seconds);
    }
  }

  // ---- Subscriptions ----

  /** A follower behind the seq a client resumes from first waits, bounded, to apply it. */
  private subscribeWhenApplied(id: RequestId, request: Record<string, unknown>): void {
    const db = this.options.context.db;
    const fromSeq = readFromSeq(request["fromSeq"]);
    if (!followerBehind(db, fromSeq)) {
      this.subscribe(id, request);
      return;
    }
    authorize(this.role, "read", "subscribe");
    if (this.subscriptions.size + this.waiting.size >= wsSubscriptionsMax) {
      throw new DbError("LIMIT_EXCEEDED", `at most ${wsSubscriptionsMax} subscriptions a socket`);
    }
    if (this.subscriptions.has(id) || this.waiting.has(id)) {
      throw new DbError("INVALID_ARGUMENT", `subscription ${String(id)} is already open`);
    }
    this.waiting.add(id);
    void waitForSeq(db, fromSeq, this.options.limits.requestTimeoutMs).then(() => {
      // Unsubscribed while waiting, or the socket is gone: nothing to open.
      if (!this.waiting.delete(id) || this.ws.readyState !== this.ws.OPEN) return;
      try {
        this.subscribe(id, request);
      } catch (error) {
        this.fail(id, error);
      }
    });
  }

  private subscribe(id: RequestId, request: Record<string, unknown>): void {
    authorize(this.role, "read", "subscribe");
    if (this.subscriptions.has(id)) {
      throw new DbError("INVALID_ARGUMENT", `subscription ${String(id)} is already open`);
    }
    if (this.subscriptions.size >= wsSubscriptionsMax) {
      throw new DbError("LIMIT_EXCEEDED", `at most ${wsSubscriptionsMax} subscriptions a socket`);
    }
    const target = readTarget(request["target"]);
    const fromSeq = readFromSeq(request["fromSeq"]);
    const source = this.options.context.db.subscribe(target, {
      pendingCommitsMax: this.options.limits.subscriptionPendingCommitsMax,
      ...(fromSeq === undefined ? {} : { fromSeq }),
    });
    const open: OpenSubscription = { source, seq: fromSeq ?? 0, ended: false };
    this.subscriptions.set(id, open);
    this.options.metrics.subscriptionOpened();
    this.send({ id, type: "subscribed", sub: id });
    void this.forward(id, open);
  }

  /**
   * Forwards the database subscription's messages until it ends. While the socket's send
   * buffer is over its bound, forwarding pauses and the database subscription queues; a
   * reader that does not catch up before that queue is full gets the database's `lagged`.
   */
  private async forward(id: RequestId, open: OpenSubscription): Promise<void> {
    const bufferedMax = this.options.limits.wsBufferedSizeBytesMax;
    try {
      for await (const message of open.source) {
        if (open.ended) return;
        if (message.type === "end") {
          open.seq = message.seq;
          this.end(id, open, message.reason);
          return;
        }
        await this.drained(bufferedMax);
        if (open.ended) return;
        open.seq = message.seq;
        this.send(tagMessage(id, message));
      }
      this.end(id, open, "closed");
    } catch (error) {
      if (open.ended) return;
      open.ended = true;
      this.subscriptions.delete(id);
      this.options.metrics.subscriptionClosed();
      this.fail(id, error);
    }
  }

  /**
   * Resolves once the socket's send buffer is at most `bytes` (or the socket closed). Woken by
   * the send callbacks (data handed to the kernel), so a paused subscription costs nothing.
   */
  private async drained(bytes: number): Promise<void> {
    while (this.ws.readyState === this.ws.OPEN && this.ws.bufferedAmount > bytes) {
      await new Promise<void>((resolve) => this.drainWaiters.push(resolve));
    }
  }

  /**
   * Send callback: once half the buffer bound has drained, reads requests again and wakes
   * paused subscriptions.
   */
  private readonly onFlushed = (): void => {
    if (this.drainWaiters.length === 0 && !this.readingPaused) return;
    const open = this.ws.readyState === this.ws.OPEN;
    if (open && this.ws.bufferedAmount > this.options.limits.wsBufferedSizeBytesMax / 2) return;
    if (this.readingPaused) {
      this.readingPaused = false;
      if (open) this.ws.resume();
    }
    for (const wake of this.drainWaiters.splice(0)) wake();
  };

  /** Ends a subscription once; `seq` in the end message is the last one the client got. */
  private end(id: RequestId, open: OpenSubscription, reason: string | undefined): void {
    if (open.ended) return;
    open.ended = true;
    open.source.close();
    this.subscriptions.delete(id);
    this.options.metrics.subscriptionClosed();
    if (reason !== undefined) this.send({ type: "end", sub: id, seq: open.seq, reason });
  }

  private unsubscribe(id: RequestId, request: Record<string, unknown>): void {
    const sub = request["sub"];
    const open =
      typeof sub === "string" || typeof sub === "number" ? this.subscriptions.get(sub) : undefined;
    if (open === undefined && this.waiting.delete(sub as RequestId)) {
      this.send({ id, type: "result", result: { unsubscribed: sub } });
      return;
    }
    if (open === undefined) {
      throw new DbError("NOT_FOUND", `no open subscription ${describeValue(sub)}`);
    }
    this.end(sub as RequestId, open, "closed");
    this.send({ id, type: "result", result: { unsubscribed: sub } });
  }
}

/** The wire form of a subscription message: the database's, plus the subscription id. */
function tagMessage(id: RequestId, message: SubscriptionMessage): object {
  return { ...message, sub: id };
}

interface DecodedRequest {
  id: RequestId;
  type: string;
  body: Record<string, unknown>;
}

/** A message that is not a request, answered under its id when it had a usable one. */
interface DecodeFailure {
  id: RequestId | null;
  error: Error;
}

/**
 * A module function, not a closure in decodeRequest: tsx (esbuild's keepNames) names every
 * named closure with an Object.defineProperty as it is made, about 3,900 instructions each
 * time (callgrind), for every message.
 */
function failed(error: Error, id: RequestId | null = null): DecodeFailure {
  return { id, error };
}

function decodeRequest(data: RawData, isBinary: boolean): DecodedRequest | DecodeFailure {
  if (isBinary) {
    return failed(new DbError("INVALID_ARGUMENT", "send requests as JSON text messages"));
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(rawText(data));
  } catch {
    // The parser's position is of no use to a client that sent something that is not JSON.
    return failed(new ProtocolError("INVALID_JSON", "the message is not valid JSON", 400));
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    const message = "a request must be a JSON object with id and type";
    return failed(new DbError("INVALID_ARGUMENT", message));
  }
  const body = parsed as Record<string, unknown>;
  const id = body["id"];
  if (typeof id !== "string" && typeof id !== "number") {
    const message = "a request needs an id (a string or a number)";
    return failed(new DbError("INVALID_ARGUMENT", message));
  }
  const type = body["type"];
  if (typeof type !== "string") {
    const message = `a request needs a type (a string such as "query"), got ${describeValue(type)}`;
    return failed(new DbError("INVALID_ARGUMENT", message, { field: "type" }), id);
  }
  return { id, type, body };
}

function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString("utf8");
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString("utf8");
  return data.toString("utf8");
}

function readTarget(target: unknown): SubscriptionTarget {
  if (target !== null && typeof target === "object" && !Array.isArray(target)) {
    const record = target as Record<string, unknown>;
    const kinds = targetKinds.filter((kind) => typeof record[kind] === "string");
    if (kinds.length === 1) {
      checkRequestDepth(record["params"], "params");
      return record as unknown as SubscriptionTarget;
    }
  }
  throw new DbError(
    "INVALID_ARGUMENT",
    `target must name exactly one of ${targetKinds.join(", ")}, e.g. {"table": "shop::orders"}`,
    { value: describeValue(target) },
  );
}

function readFromSeq(fromSeq: unknown): number | undefined {
  if (fromSeq === undefined || fromSeq === null) return undefined;
  if (typeof fromSeq === "number" && Number.isSafeInteger(fromSeq) && fromSeq >= 0) return fromSeq;
  throw new DbError("INVALID_ARGUMENT", "fromSeq must be a non-negative integer", {
    value: describeValue(fromSeq),
  });
}
