/**
 * A small RCP client written from specs/rcp.md alone, for the black-box conformance suite:
 * it shares no code with src/protocol (its own frame encoder, CRC32C and decoder), so a
 * mistake in the server's codec cannot hide behind the same mistake in the client.
 * It keeps every message the server sends, in order, so tests can assert on interleaving.
 */
import { connect as connectTcp } from "node:net";
import type { Socket } from "node:net";
import { connect as connectTls } from "node:tls";
import type { ConnectionOptions } from "node:tls";

/** CRC32C of each byte value, from the bitwise definition (Castagnoli, reflected 0x82F63B78). */
const crcTable = Array.from({ length: 256 }, (_, value) => {
  let crc = value;
  for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  return crc >>> 0;
});

/**
 * CRC32C a byte at a time from the table above: obviously right, and fast enough for the
 * 9 MiB events some tests read (bit by bit, those took seconds on a loaded machine).
 */
export function crc32cReference(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = crcTable[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

export interface FrameOptions {
  /** Send a CRC (default true). */
  crc?: boolean;
  flags?: number;
  version?: number;
  magic?: string;
  /** Bytes of header extension to insert. */
  extension?: number;
  /** Override the payload length field. */
  payloadLength?: number;
  /** Override the CRC field. */
  crcValue?: number;
}

/** Encodes one frame per §2.2, with knobs to break it on purpose. */
export function frame(payload: Uint8Array | string, options: FrameOptions = {}): Buffer {
  const body = typeof payload === "string" ? Buffer.from(payload, "utf8") : Buffer.from(payload);
  const crc = options.crc ?? true;
  const extension = options.extension ?? 0;
  const header = Buffer.alloc(18 + extension);
  header.write(options.magic ?? "RCPX", 0, "latin1");
  header.writeUInt16BE(options.version ?? 1, 4);
  header.writeUInt16BE(options.flags ?? (crc ? 1 : 0), 6);
  header.writeUInt16BE(extension, 8);
  header.writeUInt32BE(options.payloadLength ?? body.length, 10);
  header.writeUInt32BE(options.crcValue ?? (crc ? crc32cReference(body) : 0), 14);
  return Buffer.concat([header, body]);
}

export function requestFrame(id: unknown, op: string, params?: unknown, options?: FrameOptions) {
  const message: Record<string, unknown> = { type: "request", id, op };
  if (params !== undefined) message.params = params;
  return frame(JSON.stringify(message), options);
}

// Wire messages are untyped JSON whose shape is what the tests assert.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Message = Record<string, any>;

export interface WireConnectOptions {
  port: number;
  host?: string;
  tls?: ConnectionOptions;
  /** Speak JSON lines instead of frames. */
  jsonLines?: boolean;
}

export class WireClient {
  readonly messages: Message[] = [];
  /** Every server frame's raw header flags, in order. */
  readonly flags: number[] = [];
  private buffer: Buffer = Buffer.alloc(0);
  /** Chunks of a large frame still arriving, joined once it is whole (reading stays linear). */
  private arriving: Buffer[] = [];
  private arrivingBytes = 0;
  /** Bytes the unfinished frame in `buffer` still lacks. */
  private missingBytes = 0;
  private waiters: Array<() => void> = [];
  private nextId = 1;
  readonly closed: Promise<void>;
  isClosed = false;

  private constructor(
    readonly socket: Socket,
    private readonly jsonLines: boolean,
  ) {
    socket.on("data", (chunk: Buffer) => this.receive(chunk));
    socket.on("error", () => undefined);
    this.closed = new Promise((resolve) =>
      socket.on("close", () => {
        this.isClosed = true;
        this.wake();
        resolve();
      }),
    );
  }

  static async connect(options: WireConnectOptions): Promise<WireClient> {
    const host = options.host ?? "127.0.0.1";
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s: Socket =
        options.tls === undefined
          ? connectTcp({ host, port: options.port }, () => resolve(s))
          : connectTls({ host, port: options.port, ...options.tls }, () => resolve(s));
      s.once("error", reject);
    });
    return new WireClient(socket, options.jsonLines === true);
  }

  /** Sends raw bytes. */
  sendRaw(bytes: Uint8Array | string): void {
    this.socket.write(bytes);
  }

  /** Sends a request without waiting; returns its id. */
  send(op: string, params?: unknown, options?: FrameOptions): string {
    const id = String(this.nextId++);
    if (this.jsonLines) {
      this.sendRaw(`${JSON.stringify({ type: "request", id, op, params })}\n`);
    } else {
      this.sendRaw(requestFrame(id, op, params, options));
    }
    return id;
  }

  /** Sends a request and resolves with its response envelope. */
  async call(op: string, params?: unknown, options?: FrameOptions): Promise<Message> {
    const id = this.send(op, params, options);
    return this.waitFor((m) => m.type === "response" && m.id === id);
  }

  /** Sends a request; resolves with its result, throws with the wire error otherwise. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- results are asserted JSON
  async ok(op: string, params?: unknown): Promise<any> {
    const response = await this.call(op, params);
    if (response.status !== "ok") {
      throw new Error(`${op} failed: ${response.error.code}: ${response.error.message}`);
    }
    return response.result as unknown;
  }

  /** Sends a request that must fail; resolves with its wire error. */
  async fail(op: string, params?: unknown): Promise<Message> {
    const response = await this.call(op, params);
    if (response.status !== "error")
      throw new Error(`${op} succeeded: ${JSON.stringify(response)}`);
    return response.error as Message;
  }

  /** The first message (already received or future) that matches; it is not removed. */
  async waitFor(matches: (m: Message) => boolean, timeoutMs = 10_000): Promise<Message> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const found = this.messages.find(matches);
      if (found !== undefined) return found;
      if (this.isClosed) throw new Error(`connection closed; got ${JSON.stringify(this.messages)}`);
      if (performance.now() > deadline) {
        throw new Error(`no matching message; got ${JSON.stringify(this.messages).slice(0, 2000)}`);
      }
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }

  /** Events of one subscription received so far. */
  events(subscriptionId: string): Message[] {
    return this.messages.filter((m) => m.type === "event" && m.subscription_id === subscriptionId);
  }

  /** Waits until `count` events of a subscription arrived. */
  async waitForEvents(subscriptionId: string, count: number): Promise<Message[]> {
    // Each message is counted once. waitFor asks its predicate about every message, so one
    // that filtered them all made each wake quadratic: a replay of 1,500 events on a loaded
    // machine did not arrive within waitFor's time.
    let counted = 0;
    let scanned = 0;
    await this.waitFor(() => {
      for (; scanned < this.messages.length; scanned++) {
        const m = this.messages[scanned]!;
        if (m.type === "event" && m.subscription_id === subscriptionId) counted++;
      }
      return counted >= count;
    });
    return this.events(subscriptionId);
  }

  close(): Promise<void> {
    this.socket.end();
    return this.closed;
  }

  private receive(chunk: Buffer): void {
    // Only an unfinished message is carried over, and a frame's chunks are joined once, when
    // it is whole, so reading stays linear in the input.
    this.arriving.push(chunk);
    this.arrivingBytes += chunk.length;
    if (this.arrivingBytes < this.missingBytes) return;
    const parts = this.buffer.length === 0 ? this.arriving : [this.buffer, ...this.arriving];
    this.buffer = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    this.arriving = [];
    this.arrivingBytes = 0;
    this.missingBytes = 0;
    if (this.jsonLines || this.buffer[0] === 0x7b) {
      for (let at = this.buffer.indexOf(10); at !== -1; at = this.buffer.indexOf(10)) {
        this.messages.push(JSON.parse(this.buffer.subarray(0, at).toString("utf8")));
        this.buffer = this.buffer.subarray(at + 1);
      }
    } else {
      while (this.buffer.length >= 18) {
        if (this.buffer.toString("latin1", 0, 4) !== "RCPX")
          throw new Error("server sent bad magic");
        const length = this.buffer.readUInt32BE(10);
        const extension = this.buffer.readUInt16BE(8);
        if (this.buffer.length < 18 + extension + length) {
          this.missingBytes = 18 + extension + length - this.buffer.length;
          break;
        }
        const payload = this.buffer.subarray(18 + extension, 18 + extension + length);
        const flags = this.buffer.readUInt16BE(6);
        if ((flags & 1) === 1 && crc32cReference(payload) !== this.buffer.readUInt32BE(14)) {
          throw new Error("server sent a bad CRC");
        }
        this.flags.push(flags);
        this.messages.push(JSON.parse(payload.toString("utf8")));
        this.buffer = this.buffer.subarray(18 + extension + length);
      }
    }
    this.wake();
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }
}
