/**
 * @module A subscription as the client's caller sees it: an async iterator and optional
 * callbacks over one logical stream that outlives connections. It remembers the last seq it
 * delivered; after a reconnect or a `lagged` end the client subscribes again from that seq,
 * and anything at or below it is dropped, so the caller sees no gap and no duplicate.
 */
import type { SubscriptionMessage, SubscriptionTarget } from "./types.ts";
import { StatebaseError } from "./errors.ts";

export interface SubscribeOptions {
  /** Deliver only commits after this seq (no snapshot when the server still has them). */
  fromSeq?: number;
  /**
   * Called for every message, in order, before the iterator sees it. A throw ends this
   * subscription with CALLBACK_FAILED (its `cause` is what was thrown); others go on.
   */
  onMessage?: (message: SubscriptionMessage) => void;
  /**
   * Called once when the subscription fails for good (it then ends). A throw does not
   * escape: the iterator rejects with CALLBACK_FAILED, its `cause` what was thrown and its
   * `details.error` the failure being reported.
   */
  onError?: (error: StatebaseError) => void;
}

/** What the client offers to a subscription: (re)sending and cancelling it. */
export interface SubscriptionHost {
  unsubscribe(subscription: ClientSubscription): void;
}

export class ClientSubscription implements AsyncIterable<SubscriptionMessage> {
  /** The seq of the last message delivered; resumes start after it. */
  lastSeq: number | undefined;
  private readonly queue: SubscriptionMessage[] = [];
  private waiting: ((result: IteratorResult<SubscriptionMessage>) => void) | undefined;
  private failWaiting: ((error: unknown) => void) | undefined;
  private error: StatebaseError | undefined;
  private done = false;

  constructor(
    readonly id: string,
    readonly target: SubscriptionTarget,
    private readonly options: SubscribeOptions,
    private readonly host: SubscriptionHost,
  ) {
    this.lastSeq = options.fromSeq;
  }

  get closed(): boolean {
    return this.done;
  }

  /** Where a (re)subscription starts: after the last delivered seq, if any. */
  resumeSeq(): number | undefined {
    return this.lastSeq;
  }

  /** Accepts a message from the server; returns false when it was a duplicate. */
  deliver(message: SubscriptionMessage): boolean {
    if (this.done) return false;
    if (message.type === "delta" && this.lastSeq !== undefined && message.seq <= this.lastSeq) {
      return false;
    }
    if (message.type !== "end") this.lastSeq = message.seq;
    try {
      this.options.onMessage?.(message);
    } catch (error) {
      // Thrown on into the socket's message handler, it stalled every subscription.
      this.failCallback(error);
      return true;
    }
    this.push(message);
    if (message.type === "end" && message.reason === "closed") this.finish();
    return true;
  }

  /** Ends the subscription with an error (delivered to the iterator and `onError`). */
  fail(error: StatebaseError): void {
    if (this.done) return;
    this.error = error;
    try {
      this.options.onError?.(error);
    } catch (thrown) {
      // Thrown on into the socket's handler it was uncaught and the iterator never ended.
      this.error = callbackFailure("onError", thrown, error);
    }
    this.finish();
  }

  /** `onMessage` threw: the subscription ends with CALLBACK_FAILED, the error as its cause. */
  private failCallback(error: unknown): void {
    this.host.unsubscribe(this);
    this.fail(callbackFailure("onMessage", error));
  }

  /** Stops the subscription; the iterator ends after the messages already received. */
  close(): void {
    if (this.done) return;
    this.host.unsubscribe(this);
    this.finish();
  }

  [Symbol.asyncIterator](): AsyncIterator<SubscriptionMessage> {
    return {
      next: () => this.next(),
      return: () => {
        this.close();
        return Promise.resolve({ done: true, value: undefined });
      },
    };
  }

  private next(): Promise<IteratorResult<SubscriptionMessage>> {
    const message = this.queue.shift();
    if (message !== undefined) return Promise.resolve({ done: false, value: message });
    if (this.error !== undefined) return Promise.reject(this.error);
    if (this.done) return Promise.resolve({ done: true, value: undefined });
    return new Promise((resolve, reject) => {
      this.waiting = resolve;
      this.failWaiting = reject;
    });
  }

  private push(message: SubscriptionMessage): void {
    const waiting = this.waiting;
    if (waiting === undefined) {
      this.queue.push(message);
      return;
    }
    this.waiting = undefined;
    this.failWaiting = undefined;
    waiting({ done: false, value: message });
  }

  private finish(): void {
    this.done = true;
    const waiting = this.waiting;
    const failWaiting = this.failWaiting;
    this.waiting = undefined;
    this.failWaiting = undefined;
    if (this.error !== undefined && failWaiting !== undefined) failWaiting(this.error);
    else waiting?.({ done: true, value: undefined });
  }
}

/** CALLBACK_FAILED for a callback that threw; `reporting` is the failure onError was given. */
function callbackFailure(
  callback: "onMessage" | "onError",
  thrown: unknown,
  reporting?: StatebaseError,
): StatebaseError {
  const reason = thrown instanceof Error ? thrown.message : String(thrown);
  const context =
    reporting === undefined ? "" : ` while reporting ${reporting.code}: ${reporting.message}`;
  const failure = new StatebaseError(
    "CALLBACK_FAILED",
    `${callback} threw: ${reason}${context}`,
    undefined,
    reporting === undefined ? undefined : { error: reporting },
  );
  failure.cause = thrown;
  return failure;
}
