/**
 * Goal: let a replication test stall one of a node's NATS connections while the others work
 * (a node's log connection reads nothing while its lease connection still answers).
 * Method: a TCP proxy in front of a NATS server; `hold(index)` keeps back everything the
 * server sends on the index-th connection accepted (0 first) until `release()`, as a
 * congested or half-dead link would; what the client sends still goes through.
 */
import { createServer, connect } from "node:net";
import type { AddressInfo, Socket } from "node:net";
import { once } from "node:events";

export interface NatsProxy {
  /** `nats://127.0.0.1:PORT` of the proxy. */
  readonly url: string;
  /** Holds back what the server sends on connection `index` (in order of acceptance). */
  hold(index: number): void;
  /** Delivers what was held back and forwards freely again. */
  release(): void;
  close(): Promise<void>;
}

export async function startNatsProxy(targetUrl: string): Promise<NatsProxy> {
  const target = new URL(targetUrl);
  const sockets = new Set<Socket>();
  let acceptedCount = 0;
  const held: Array<{ index: number; chunks: Buffer[]; client: Socket }> = [];
  let heldIndex: number | undefined;
  const server = createServer((client) => {
    const index = acceptedCount++;
    const upstream = connect(Number(target.port), target.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("error", () => socket.destroy());
    }
    const entry = { index, chunks: [] as Buffer[], client };
    held.push(entry);
    const toClient = (data: Buffer): void => {
      if (heldIndex === index) entry.chunks.push(data);
      else client.write(data);
    };
    upstream.on("data", toClient);
    client.pipe(upstream);
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    url: `nats://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hold: (index) => {
      heldIndex = index;
    },
    release: () => {
      heldIndex = undefined;
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
