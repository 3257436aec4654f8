/**
 * Writers for the write-forwarding tests (src/server/http/forward.ts): a forwarded request,
 * the forwarding of a follower to one writer address, and writers on 127.0.0.1 that answer
 * over HTTP or misbehave over raw TCP, each closed after the test's body.
 */
import { createServer as createHttpServer } from "node:http";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer } from "node:net";
import type { AddressInfo, Socket } from "node:net";
import type { FastifyRequest } from "fastify";

/** A write as a follower's HTTP server received it. */
export const forwardedRequest = {
  headers: { authorization: "Bearer t" },
  url: "/v1/command",
  body: { rql: "insert x::y [{ k: 1 }]" },
} as unknown as FastifyRequest;

/** A follower `me` whose lease names writer `w` at `http`. */
export const forwardingTo = (http: string) => ({
  self: "me",
  writer: () => ({ node: "w", http }),
});

/** An HTTP writer answering with `handle`, given to `body` by its address; closed after. */
export async function withWriter(
  handle: (incoming: IncomingMessage, response: ServerResponse) => void,
  body: (http: string) => Promise<void>,
): Promise<void> {
  const server = createHttpServer(handle);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    await body(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  } finally {
    server.closeAllConnections();
    server.close();
  }
}

/** A TCP writer treating each connection with `onSocket`; its sockets destroyed after. */
export async function withRawWriter(
  onSocket: (socket: Socket) => void,
  body: (http: string) => Promise<void>,
): Promise<void> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    onSocket(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    await body(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  } finally {
    for (const socket of sockets) socket.destroy();
    server.close();
  }
}
