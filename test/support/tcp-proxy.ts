/**
 * A TCP proxy for tests that need to break or redirect connections: a client talks to the
 * proxy's fixed port, the proxy forwards to a target that can change (a restarted server
 * listens on a new ephemeral port) and can cut every connection at once (a network failure).
 */
import { createServer, connect } from "node:net";
import type { Socket } from "node:net";
import { once } from "node:events";
import type { AddressInfo } from "node:net";

export interface TcpProxy {
  readonly port: number;
  /** Sends new connections to `port` from now on. */
  setTarget(port: number): void;
  /** Destroys every open connection (both sides). */
  dropConnections(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number, host = "127.0.0.1"): Promise<TcpProxy> {
  let target = targetPort;
  const sockets = new Set<Socket>();
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
  };
  const server = createServer((client) => {
    const upstream = connect(target, host);
    track(client);
    track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  server.listen(0, host);
  await once(server, "listening");
  return {
    port: (server.address() as AddressInfo).port,
    setTarget: (port) => {
      target = port;
    },
    dropConnections: () => {
      for (const socket of sockets) socket.destroy();
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
