/**
 * @module A follower's reader of the replicated log: an ordered consumer (the client recreates
 * it on any gap, so messages arrive exactly in stream order) from a start sequence, handing
 * each message with its stream sequence and the count still pending to one callback. It only
 * transports; which records extend the history is decided by the callback.
 */
import { DeliverPolicy } from "@nats-io/jetstream";
import type { ConsumerMessages, JetStreamClient } from "@nats-io/jetstream";

export interface FollowerOptions {
  readonly js: JetStreamClient;
  readonly stream: string;
  /** First stream sequence to read. */
  readonly startStreamSeq: number;
  /** Bytes the consumer may hold ahead of the apply loop (default `followerBufferBytesMax`). */
  readonly bufferBytesMax?: number;
  /** The server's largest message (`max_payload`): what one buffered message may take. */
  readonly messageSizeBytesMax: number;
  /** Called in stream order; a throw stops the follower and reaches `onStop`. */
  readonly onMessage: (data: Uint8Array, streamSeq: number, pending: number) => void;
  /** Called once with what `onMessage` threw: the history cannot go on here. */
  readonly onStop: (error: unknown) => void;
  /**
   * Called once when the client's reader failed (it gave up recreating its consumer through
   * a NATS outage): nothing was wrong with the stream, and a new Follower may read on.
   */
  readonly onReadFailure: (error: unknown) => void;
}

/** Messages the consumer buffers ahead of the apply loop, at most. */
const followerBufferMessagesMax = 4096;
/**
 * Bytes the consumer buffers ahead of the apply loop, at most: 64 messages of NATS's default
 * 1 MiB limit (4,096 of them, while catching up, would hold 4 GiB).
 */
export const followerBufferBytesMax = 64 * 1024 * 1024;

export class Follower {
  private messages: ConsumerMessages | undefined;
  private loop: Promise<void> | undefined;
  private stopping = false;

  constructor(private readonly options: FollowerOptions) {}

  async start(): Promise<void> {
    const { js, stream, startStreamSeq } = this.options;
    const consumer = await js.consumers.get(stream, {
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: startStreamSeq,
    });
    // Bounded in messages of the largest size, not with the client's max_bytes: a count keeps
    // one way of counting what the server still owes (see checkFollowing in replicated-log.ts)
    // and never meets a message larger than what is left of a pull.
    const bytesMax = this.options.bufferBytesMax ?? followerBufferBytesMax;
    const fit = Math.floor(bytesMax / this.options.messageSizeBytesMax);
    const max_messages = Math.min(followerBufferMessagesMax, Math.max(1, fit));
    this.messages = await consumer.consume({ max_messages });
    this.loop = this.run(this.messages);
  }

  /** Stops reading; resolves once no further message will be handed over. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.messages?.close();
    await this.loop;
  }

  private async run(messages: ConsumerMessages): Promise<void> {
    try {
      for await (const message of messages) {
        if (this.stopping) break;
        try {
          this.options.onMessage(message.data, message.seq, message.info.pending);
        } catch (error) {
          this.stopping = true;
          this.options.onStop(error);
          return;
        }
      }
    } catch (error) {
      if (!this.stopping) this.options.onReadFailure(error);
    }
  }
}
