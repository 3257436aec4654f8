/**
 * @module One RCP connection (a session). Bytes are decoded as binary frames, or as JSON
 * lines when the first byte is `{` (decision 1). Requests are answered strictly in arrival
 * order, one at a time; a client may pipeline (reading pauses when too many wait). Stream
 * events are written between responses. A frame that cannot be decoded is answered with
 * BAD_REQUEST and id "" after every earlier request's response, then the connection closes
 * (decision 2). Idle connections close unless they hold subscriptions (decision 13).
 */
import type { Socket } from "node:net";
import { assert } from "../../lib/assert.ts";
import { rcpFrameSizeBytesMax, rcpPendingRequestsMax } from "../../lib/limits.ts";
import {
  FrameDecoder,
  FrameError,
  LineDecoder,
  encodeTextFrame,
  errorResponse,
  okResponse,
  parseRequest,
  wireError,
} from "../../protocol/index.ts";
import type { RcpResponse, RcpStreamEvent, RequestParse } from "../../protocol/index.ts";
import type { TokenRole } from "../auth.ts";
import type { RcpCore } from "./core.ts";
import { runOperation } from "./dispatch.ts";
import type { DispatchContext, Outcome } from "./dispatch.ts";
import { toWireError } from "./failure.ts";
import type { Watch, WatchSink } from "./watch.ts";

type Work = RequestParse | { kind: "fatal"; message: string };

/**
 * An encoded message held until commit `seq` is durable (confirmed output). Made by a class,
 * not a literal: one is made per request and lives until its group's fsync, and V8 may
 * pretenure a literal's allocation site whose objects survive a scavenge (lib/young-array.ts).
 * Plain data, no closures: tsx's keepNames makes every named closure cost a defineProperty.
 */
class PendingOutput {
  constructor(
    readonly seq: number,
    /**
     * The message's bytes, encoded when it was queued: an encoded answer is one object for
     * the scavenger to copy while it waits for the disk, where the answer was a graph of them.
     */
    readonly bytes: Buffer,
    /** Tasks to start once the message is written (a watch's replay after its answer). */
    readonly tasks: ReadonlyArray<() => Promise<void>> | undefined,
    /** The connection ends after this message. */
    readonly last: boolean,
    /** The request id to answer with the log's error if the commit cannot be made durable. */
    readonly failId: string | undefined,
  ) {}
}

export class Session implements WatchSink {
  /** The authenticated role; every role when the server needs no authentication. */
  role: TokenRole | undefined;
  tokenName: string | undefined;
  clientName: string | undefined;
  /** How messages are written: binary frames, or JSON lines (HELLO or a `{` first byte). */
  outputMode: "binary" | "jsonl" = "binary";
  /** Set by BYE: the connection closes once the response is written. */
  closeAfterResponse = false;
  /**
   * Set while an atomic BATCH runs its ops: an UNWATCH there only notes its subscription,
   * removed once every op has succeeded (a failed atomic batch changes nothing).
   */
  unwatchesDeferred: Set<string> | undefined;
  private decoder: FrameDecoder | LineDecoder | undefined;
  private readonly queue: Work[] = [];
  private running = false;
  private closed = false;
  private readonly watches = new Map<string, Watch>();
  private readonly afterResponseTasks: Array<() => Promise<void>> = [];
  /** Events written since the socket last drained while its buffer was full. */
  private eventsBacklog = 0;
  /** Frames written in this turn of the event loop; they leave in one socket write. */
  private outputFrames: Buffer[] = [];
  private outputBytes = 0;
  /** Output waiting for durability (sync mode), in order. */
  private readonly awaitingDurable: PendingOutput[] = [];
  /** True while one durability wait covers the head of {@link awaitingDurable}. */
  private durableWaiting = false;
  /** What every request of this connection runs with (one object, not one per request). */
  private readonly dispatchContext: DispatchContext;

  constructor(
    private readonly core: RcpCore,
    private readonly socket: Socket,
    private readonly onClose: () => void,
  ) {
    this.role = core.authRequired ? undefined : "admin";
    this.dispatchContext = { core, session: this, inBatch: false };
  }

  /** Starts reading; `first` is what was read while telling TLS from plain, if anything. */
  start(first: Buffer | undefined): void {
    const socket = this.socket;
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.receive(chunk));
    socket.on("drain", () => (this.eventsBacklog = 0));
    socket.on("error", () => socket.destroy());
    socket.on("close", () => this.cleanUp());
    socket.setTimeout(this.core.limits.idleTimeoutMs);
    socket.on("timeout", () => {
      // A connection that only listens to subscriptions is not idle (decision 13). One that
      // neither sends nor reads (its answers wait in a full buffer) is, and is closed.
      if (this.watches.size === 0) socket.destroy();
    });
    if (first !== undefined) this.receive(first);
  }

  /** How requests arrive: fixed by the first byte of the connection (decision 1). */
  get inputMode(): "binary" | "jsonl" {
    return this.decoder instanceof LineDecoder ? "jsonl" : "binary";
  }

  get watchCount(): number {
    return this.watches.size;
  }

  addWatch(watch: Watch): void {
    this.watches.set(watch.id, watch);
    this.core.addWatch(watch);
  }

  removeWatch(id: string): boolean {
    const watch = this.watches.get(id);
    if (watch === undefined) return false;
    const deferred = this.unwatchesDeferred;
    if (deferred !== undefined) {
      if (deferred.has(id)) return false;
      deferred.add(id);
      return true;
    }
    this.watches.delete(id);
    this.core.removeWatch(watch);
    return true;
  }

  /** Runs `task` after the current request's response has been written. */
  afterResponse(task: () => Promise<void>): void {
    this.afterResponseTasks.push(task);
  }

  /** Ends the connection (server shutdown), after what was written in this turn. */
  end(): void {
    this.closed = true;
    this.flushOutput();
    this.socket.end();
  }

  // ---- Input ----

  private receive(chunk: Buffer): void {
    if (this.closed || chunk.length === 0) return;
    if (this.decoder === undefined) {
      const jsonLines = chunk[0] === 0x7b;
      this.decoder = jsonLines
        ? new LineDecoder(this.core.limits.frameSizeBytesMax + 1)
        : new FrameDecoder(this.core.limits.frameSizeBytesMax);
      if (jsonLines) this.outputMode = "jsonl";
    }
    const messages = this.decoder.push(chunk);
    let failure = this.decoder.failure;
    for (const message of messages) {
      try {
        // A line is its payload; a frame carries one (no array of payloads made per chunk).
        this.queue.push(parseRequest(Buffer.isBuffer(message) ? message : message.payload));
      } catch (error) {
        if (!(error instanceof FrameError)) throw error;
        failure = error;
        break;
      }
    }
    if (failure !== undefined) {
      // The stream cannot be resynchronised: answer what came before, then this, then close.
      this.queue.push({ kind: "fatal", message: failure.message });
      this.closed = true;
      this.socket.pause();
    }
    if (this.queue.length > rcpPendingRequestsMax) this.socket.pause();
    void this.pump();
  }

  /**
   * Runs queued requests one at a time, in order. Answers are not awaited on disk here: in
   * `sync` mode they queue behind their commit's durability (output), so pipelined
   * requests of one connection share a group commit instead of one fsync each. Synchronous
   * operations are answered without a promise, so a pipelined run takes one turn.
   */
  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.queue.length > 0 && !this.socket.destroyed) {
        // A client that does not read its answers stops being served until it does.
        if (this.socket.writableNeedDrain) await this.writable();
        const work = this.queue.shift()!;
        if (work.kind === "fatal") {
          const fatal = errorResponse("", wireError("BAD_REQUEST", work.message));
          this.output(this.core.db.seq, fatal, undefined, true, undefined);
          return;
        }
        // Async durability: while the log is behind its window, requests wait for it to catch
        // up (DESIGN: commits wait, so the loss bound holds), in order on this connection.
        if (this.core.db.durability === "async") await this.core.db.writable();
        const answer = this.answer(work);
        const response = answer instanceof Promise ? await answer : answer;
        if (this.respond(response)) return;
        if (this.socket.isPaused() && !this.closed && this.queue.length < rcpPendingRequestsMax) {
          this.socket.resume();
        }
      }
    } finally {
      this.running = false;
    }
  }

  /** Queues `response` (and the tasks that follow it); true when it was BYE's. */
  private respond(response: RcpResponse): boolean {
    const tasks =
      this.afterResponseTasks.length === 0 ? undefined : this.afterResponseTasks.splice(0);
    const bye = this.closeAfterResponse;
    this.output(this.core.db.seq, response, tasks, bye, response.id);
    if (bye) this.closed = true; // nothing after BYE is read
    return bye;
  }

  private answer(work: RequestParse): RcpResponse | Promise<RcpResponse> {
    if (work.kind === "invalid")
      return errorResponse(work.id, wireError("BAD_REQUEST", work.message));
    const { id, op, params } = work.request;
    const outcome = runOperation(this.dispatchContext, op, params);
    if (outcome instanceof Promise) return outcome.then((done) => responseOf(id, done));
    return responseOf(id, outcome);
  }

  // ---- Output ----

  /**
   * The bytes of `message` on this connection, or its size when it is larger than a frame:
   * rstmdb's clients refuse such a frame (and the encoder asserts), so it is never written.
   */
  private encode(message: unknown): Buffer | number {
    const text = JSON.stringify(message);
    const sizeBytes = Buffer.byteLength(text, "utf8");
    if (sizeBytes > rcpFrameSizeBytesMax) return sizeBytes;
    // The size is measured once: the frame is sized from it.
    if (this.outputMode === "jsonl") return Buffer.from(`${text}\n`, "utf8");
    return encodeTextFrame(text, sizeBytes);
  }

  /** An answer too large for a frame becomes BAD_REQUEST saying so (the request is served). */
  private encodeTooLarge(response: RcpResponse, sizeBytes: number): Buffer {
    // Events are checked as they are queued (sendEvent); other messages are small.
    assert(response.type === "response", "only an answer can be larger than a frame");
    const error = wireError(
      "BAD_REQUEST",
      `invalid request: the answer is ${sizeBytes} bytes, over the frame limit of ` +
        `${rcpFrameSizeBytesMax} bytes; ask for less (a smaller limit, fewer BATCH ops)`,
    );
    const bytes = this.encode(errorResponse(response.id, error));
    if (typeof bytes !== "number") return bytes;
    // The id itself fills the frame: the answer cannot carry it.
    const anonymous = this.encode(errorResponse("", error));
    assert(typeof anonymous !== "number", "an error answer without id fits in a frame");
    return anonymous;
  }

  /** The bytes of a message on this connection (events are encoded as they are queued). */
  private bytesOf(message: unknown): Buffer {
    if (Buffer.isBuffer(message)) return message;
    const bytes = this.encode(message);
    return typeof bytes === "number" ? this.encodeTooLarge(message as RcpResponse, bytes) : bytes;
  }

  /** Writes a message now (after what was written before it). */
  private write(message: unknown): void {
    if (!this.socket.destroyed) this.writeBytes(this.bytesOf(message));
  }

  private writeBytes(bytes: Buffer): void {
    if (this.socket.destroyed) return;
    // Messages written in one turn of the event loop leave in one system call, and in one
    // socket write: a stream write per message costs more than copying the messages.
    if (this.outputFrames.length === 0) process.nextTick(() => this.flushOutput());
    this.outputFrames.push(bytes);
    this.outputBytes += bytes.length;
    // A full buffer's worth leaves now, so back-pressure (writableNeedDrain) sees it.
    if (this.outputBytes >= this.socket.writableHighWaterMark) this.flushOutput();
  }

  private flushOutput(): void {
    const frames = this.outputFrames;
    if (frames.length === 0) return;
    this.outputFrames = [];
    const bytes = frames.length === 1 ? frames[0]! : Buffer.concat(frames, this.outputBytes);
    this.outputBytes = 0;
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(bytes);
  }

  /**
   * WatchSink: false when the client reads too slowly (its subscriptions end lagged). An
   * event larger than a frame ends its subscription (`too_large`) at the offset before its
   * commit, from where the client may resume without `ctx`. A commit's events are written
   * all or none, so a resumed subscription repeats none of them.
   */
  sendEvents(seq: number, events: readonly RcpStreamEvent[]): boolean {
    if (this.socket.destroyed) return true;
    if (this.socket.writableNeedDrain) {
      this.eventsBacklog += events.length;
      if (this.eventsBacklog > this.core.limits.pendingEventsMax) return false;
    }
    const encoded: Buffer[] = [];
    for (const event of events) {
      const bytes = this.encode(event);
      if (typeof bytes === "number") {
        const watch = this.watches.get(event.subscription_id);
        if (watch !== undefined) this.endWatch(watch, "too_large");
        return true;
      }
      encoded.push(bytes);
    }
    for (const bytes of encoded) {
      this.output(seq, bytes, undefined, false, undefined);
    }
    return true;
  }

  /** WatchSink: says why the subscription ends and where to resume, then forgets it. */
  endWatch(watch: Watch, reason: string): void {
    const message = {
      type: "end",
      subscription_id: watch.id,
      reason,
      wal_offset: watch.lastOffset,
    };
    this.removeWatch(watch.id);
    this.output(watch.lastOffset, message, undefined, false, undefined);
  }

  /** WatchSink: resolves once the socket's buffer has drained (or the connection is gone). */
  writable(): Promise<void> {
    const socket = this.socket;
    if (!socket.writableNeedDrain || socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        socket.off("drain", done);
        socket.off("close", done);
        resolve();
      };
      socket.on("drain", done);
      socket.on("close", done);
    });
  }

  /**
   * Writes `message` once commit `seq` is durable in `sync` mode (confirmed output), after
   * everything queued before it; at once otherwise. It is encoded now, in the output mode of
   * this moment (a later HELLO does not change how an earlier answer is written).
   */
  private output(
    seq: number,
    message: unknown,
    tasks: PendingOutput["tasks"],
    last: boolean,
    failId: string | undefined,
  ): void {
    const pending = new PendingOutput(seq, this.bytesOf(message), tasks, last, failId);
    if (this.core.db.durability !== "sync") {
      this.send(pending);
      return;
    }
    this.awaitingDurable.push(pending);
    if (!this.durableWaiting) this.awaitDurable();
  }

  private send(pending: PendingOutput): void {
    this.writeBytes(pending.bytes);
    if (pending.tasks !== undefined) {
      for (const task of pending.tasks) void task().catch(() => this.socket.destroy());
    }
    if (pending.last) this.end();
  }

  /**
   * One durability wait at a time per connection, for the highest seq queued when it
   * starts: a pipelined run's answers share one promise instead of one chain each. Their
   * commits went into the same group commit, so none of them waits longer for it.
   */
  private awaitDurable(): void {
    const queued = this.awaitingDurable;
    let seq = 0;
    for (const pending of queued) seq = Math.max(seq, pending.seq);
    this.durableWaiting = true;
    this.core.db.durable(seq).then(
      () => {
        this.durableWaiting = false;
        this.releaseDurable(seq);
      },
      (error: unknown) => {
        // The log failed: what was to be sent is not durable. Say so, then close: every
        // later commit fails the same way.
        for (const pending of queued.splice(0)) {
          if (pending.failId !== undefined) {
            this.write(errorResponse(pending.failId, toWireError(error)));
          }
        }
        this.end();
      },
    );
  }

  /** Sends, in order, what waited for commits up to `seq`; waits again for the rest. */
  private releaseDurable(seq: number): void {
    const queued = this.awaitingDurable;
    let released = 0;
    while (released < queued.length && queued[released]!.seq <= seq) {
      const pending = queued[released++]!;
      this.send(pending);
      if (pending.last) {
        queued.length = 0;
        return;
      }
    }
    queued.splice(0, released);
    if (queued.length > 0) this.awaitDurable();
  }

  private cleanUp(): void {
    this.awaitingDurable.length = 0;
    this.closed = true;
    for (const watch of this.watches.values()) this.core.removeWatch(watch);
    this.watches.clear();
    this.queue.length = 0;
    this.onClose();
  }
}

function responseOf(id: string, outcome: Outcome): RcpResponse {
  return outcome.ok ? okResponse(id, outcome.result) : errorResponse(id, outcome.error);
}
