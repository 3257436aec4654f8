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
  /** Called in stream order; a throw stops the follower and reaches `onStop`. */
  readonly onMessage: (data: Uint8Array, streamSeq: number, pending: number) => void;
  readonly onStop: (error: unknown) => void;
}

/** Messages the consumer buffers ahead of the apply loop. */
const followerBufferMessages = 4096;

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
    this.messages = await consumer.consume({ max_messages: followerBufferMessages });
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
        this.options.onMessage(message.data, message.seq, message.info.pending);
      }
    } catch (error) {
      if (!this.stopping) this.options.onStop(error);
    }
  }
}
