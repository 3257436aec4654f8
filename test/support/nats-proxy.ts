/**
 * Goal: let a replication test stall one of a node's NATS connections while the others work
 * (a node's log connection reads nothing while its lease connection still answers).
 * Method: a TCP proxy in front of a NATS server; `hold(index)` keeps back everything the
 * server sends on the index-th connection accepted (0 first) until `release()`, as a
 * congested or half-dead link would; `holdDeliveries(index)` keeps back only the stream
 * messages a consumer delivers there (their reply subject is `$JS.ACK.…`), so JetStream API
 * requests still answer while reading the stream stalls. What the client sends still goes
 * through. The server's bytes are split into whole protocol frames to choose what to hold.
 */
import { createServer, connect } from "node:net";
import type { AddressInfo, Socket } from "node:net";
import { once } from "node:events";

export interface NatsProxy {
  /** `nats://127.0.0.1:PORT` of the proxy. */
  readonly url: string;
  /** Holds back what the server sends on connection `index` (in order of acceptance). */
  hold(index: number): void;
  /** Holds back only the consumer deliveries the server sends on connection `index`. */
  holdDeliveries(index: number): void;
  /** Delivers what was held back and forwards freely again. */
  release(): void;
  close(): Promise<void>;
}

interface Held {
  readonly index: number;
  readonly client: Socket;
  chunks: Buffer[];
}

export async function startNatsProxy(targetUrl: string): Promise<NatsProxy> {
  const target = new URL(targetUrl);
  const sockets = new Set<Socket>();
  let acceptedCount = 0;
  const held: Held[] = [];
  let holding: { index: number; deliveriesOnly: boolean } | undefined;
  const server = createServer((client) => {
    const index = acceptedCount++;
    const upstream = connect(Number(target.port), target.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("error", () => socket.destroy());
    }
    const entry: Held = { index, chunks: [], client };
    held.push(entry);
    const frames = createFrameSplitter();
    upstream.on("data", (data: Buffer) => {
      for (const frame of frames(data)) {
        const hold = holding?.index === index && (!holding.deliveriesOnly || isDelivery(frame));
        if (hold) entry.chunks.push(frame);
        else client.write(frame);
      }
    });
    client.pipe(upstream);
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    url: `nats://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hold: (index) => {
      holding = { index, deliveriesOnly: false };
    },
    holdDeliveries: (index) => {
      holding = { index, deliveriesOnly: true };
    },
    release: () => {
      holding = undefined;
      for (const entry of held) {
        for (const chunk of entry.chunks) entry.client.write(chunk);
        entry.chunks = [];
      }
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Cuts the server's byte stream into frames: a protocol line, with its payload for messages. */
function createFrameSplitter(): (data: Buffer) => Buffer[] {
  let pending: Buffer = Buffer.alloc(0);
  return (data) => {
    pending = pending.length === 0 ? data : Buffer.concat([pending, data]);
    const frames: Buffer[] = [];
    for (;;) {
      const lineEnd = pending.indexOf("\r\n");
      if (lineEnd < 0) break;
      const [op, ...args] = pending.subarray(0, lineEnd).toString("latin1").split(" ");
      // MSG and HMSG end their line with the size of what follows it (headers included).
      const payloadBytes = op === "MSG" || op === "HMSG" ? Number(args.at(-1)) + 2 : 0;
      const frameBytes = lineEnd + 2 + payloadBytes;
      if (pending.length < frameBytes) break;
      frames.push(pending.subarray(0, frameBytes));
      pending = pending.subarray(frameBytes);
    }
    return frames;
  };
}

/** A stream message a consumer delivers: MSG/HMSG whose reply subject is `$JS.ACK.…`. */
function isDelivery(frame: Buffer): boolean {
  const [op, , , reply, ...sizes] = frame
    .subarray(0, frame.indexOf("\r\n"))
    .toString("latin1")
    .split(" ");
  // With a reply subject: MSG SUBJECT SID REPLY SIZE, or HMSG ... REPLY HEADER_SIZE SIZE.
  const sizeCount = op === "MSG" ? 1 : op === "HMSG" ? 2 : 0;
  return sizeCount > 0 && sizes.length === sizeCount && reply!.startsWith("$JS.ACK.");
}
