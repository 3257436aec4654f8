/**
 * @module An RCP client over binary frames (plain TCP or TLS): the CLI's transport. Requests
 * may be pipelined; responses are matched to requests by id; stream events and end messages
 * go to the registered listeners in arrival order. A server error rejects that request with
 * an {@link RcpClientError} carrying the wire code.
 */
import { connect as connectTcp, isIP } from "node:net";
import type { Socket } from "node:net";
import { connect as connectTls } from "node:tls";
import type { ConnectionOptions } from "node:tls";
import { rcpFrameSizeBytesMax } from "../lib/limits.ts";
import { encodeTextFrame } from "./frame.ts";
import { FrameDecoder } from "./frame-decoder.ts";
import type { RcpResponse, RcpStreamEnd, RcpStreamEvent } from "./messages.ts";

/** TLS towards the server; PEM contents, not paths (the caller reads the files). */
export interface RcpClientTls {
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  /** SNI and certificate name to check; default the host. */
  servername?: string;
  /** False accepts any server certificate (`-k/--insecure`). */
  rejectUnauthorized?: boolean;
}

export interface RcpClientOptions {
  host: string;
  port: number;
  tls?: RcpClientTls;
  /** How long TCP (and TLS) may take to be set up; default {@link rcpConnectTimeoutMsDefault}. */
  connectTimeoutMs?: number;
}

/**
 * A host that drops packets would otherwise leave the CLI waiting for the kernel's own timeout
 * (minutes), and a TLS client at a port that never answers the handshake would wait forever.
 */
export const rcpConnectTimeoutMsDefault = 10_000;
/** The longest delay a Node timer keeps; a longer one would fire at once. */
export const rcpConnectTimeoutMsMax = 2 ** 31 - 1;

/** An error response from the server, or the connection ending under a request. */
export class RcpClientError extends Error {
  override name = "RcpClientError";
  constructor(
    readonly code: string,
    message: string,
    readonly retryable = false,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

export type RcpStreamMessage = RcpStreamEvent | RcpStreamEnd;

interface Waiter {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

export class RcpClient {
  private readonly waiters = new Map<string, Waiter>();
  private readonly listeners = new Set<(message: RcpStreamMessage) => void>();
  private readonly decoder = new FrameDecoder();
  private nextId = 1;
  private corked = false;
  private ended: Error | undefined;
  /** Resolves when the connection has closed, for whatever reason. */
  readonly closed: Promise<void>;

  private constructor(private readonly socket: Socket) {
    socket.on("data", (chunk: Buffer) => this.receive(chunk));
    this.closed = new Promise((resolve) => {
      socket.on("close", () => {
        // Set for later requests too: one written to a closed socket would never be answered.
        this.ended ??= new RcpClientError("CONNECTION_CLOSED", "connection closed");
        this.fail(this.ended);
        resolve();
      });
    });
    socket.on("error", (error) => (this.ended ??= error));
  }

  /** Connects; resolves once TCP (and TLS) is established. */
  static async connect(options: RcpClientOptions): Promise<RcpClient> {
    const timeoutMs = options.connectTimeoutMs ?? rcpConnectTimeoutMsDefault;
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > rcpConnectTimeoutMsMax) {
      throw new RangeError(
        `connectTimeoutMs must be an integer from 1 to ${rcpConnectTimeoutMsMax}, got ${timeoutMs}`,
      );
    }
    const socket = await new Promise<Socket>((resolve, reject) => {
      const tls = options.tls;
      const s =
        tls === undefined
          ? connectTcp({ host: options.host, port: options.port }, () => settle())
          : connectTls(tlsOptions(options, tls), () => settle());
      const timer = setTimeout(() => {
        const where = `${options.host}:${options.port}`;
        s.destroy();
        settle(
          new RcpClientError(
            "CONNECT_TIMEOUT",
            `could not connect to ${where} within ${timeoutMs} ms` +
              (tls === undefined ? "" : " (TLS handshake included)"),
          ),
        );
      }, timeoutMs);
      function settle(error?: Error): void {
        clearTimeout(timer);
        if (error === undefined) resolve(s);
        else reject(error);
      }
      s.once("error", (error: Error) => settle(error));
    });
    socket.setNoDelay(true);
    return new RcpClient(socket);
  }

  /** Sends one request; resolves with its result or rejects with the server's error. */
  request<T = unknown>(op: string, params: unknown = {}): Promise<T> {
    if (this.ended !== undefined) return Promise.reject(this.ended);
    const id = String(this.nextId++);
    const text = JSON.stringify({ type: "request", id, op, params });
    const sizeBytes = Buffer.byteLength(text, "utf8");
    // The server would refuse the frame and close the connection: refused here, with why.
    if (sizeBytes > rcpFrameSizeBytesMax) {
      const message =
        `the request is ${sizeBytes} bytes, over the frame limit of ` +
        `${rcpFrameSizeBytesMax} bytes`;
      return Promise.reject(new RcpClientError("BAD_REQUEST", message));
    }
    const promise = new Promise<T>((resolve, reject) => {
      this.waiters.set(id, { resolve: resolve as (value: unknown) => void, reject });
    });
    // Requests made in one turn of the event loop (pipelining) leave in one system call.
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.socket.write(encodeTextFrame(text));
    return promise;
  }

  /** Receives every stream event and end message; returns the function that stops it. */
  addStreamListener(listener: (message: RcpStreamMessage) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Closes the connection (without BYE) and waits until it is closed. */
  async close(): Promise<void> {
    this.socket.end();
    await this.closed;
  }

  private receive(chunk: Buffer): void {
    try {
      for (const frame of this.decoder.push(chunk)) {
        const { buffer, byteOffset, length } = frame.payload;
        // A view of the payload, not a copy (Buffer.from of a Uint8Array copies it).
        const text = Buffer.from(buffer, byteOffset, length).toString("utf8");
        this.dispatch(JSON.parse(text) as unknown);
      }
      if (this.decoder.failure !== undefined) throw this.decoder.failure;
    } catch (error) {
      // A server that sends what we cannot read cannot be talked to any further.
      this.ended = error as Error;
      this.socket.destroy();
    }
  }

  private dispatch(message: unknown): void {
    const m = message as { type?: unknown; id?: unknown };
    if (m.type === "event" || m.type === "end") {
      for (const listener of this.listeners) listener(message as RcpStreamMessage);
      return;
    }
    const response = message as RcpResponse;
    const waiter = this.waiters.get(response.id);
    if (waiter === undefined) {
      // An error for a frame the server could not read has id "": it ends the connection,
      // so it belongs to the oldest request still waiting.
      if (response.status === "error") this.ended = toClientError(response.error);
      return;
    }
    this.waiters.delete(response.id);
    if (response.status === "ok") waiter.resolve(response.result);
    else waiter.reject(toClientError(response.error));
  }

  private fail(error: Error): void {
    for (const waiter of this.waiters.values()) waiter.reject(error);
    this.waiters.clear();
  }
}

function toClientError(error: {
  code: string;
  message: string;
  retryable: boolean;
  details?: Record<string, unknown>;
}): RcpClientError {
  return new RcpClientError(error.code, error.message, error.retryable, error.details);
}

function tlsOptions(options: RcpClientOptions, tls: RcpClientTls): ConnectionOptions {
  return {
    host: options.host,
    port: options.port,
    // An IP address is no server name (SNI, RFC 6066; Node warns on stderr): the
    // certificate is then checked against the IP address itself.
    ...(tls.servername === undefined && isIP(options.host) !== 0
      ? {}
      : { servername: tls.servername ?? options.host }),
    rejectUnauthorized: tls.rejectUnauthorized ?? true,
    ...(tls.ca === undefined ? {} : { ca: tls.ca }),
    ...(tls.cert === undefined ? {} : { cert: tls.cert }),
    ...(tls.key === undefined ? {} : { key: tls.key }),
  };
}
