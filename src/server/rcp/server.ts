/**
 * @module The RCP listener. One TCP port serves plain and TLS clients: the first byte of a
 * connection tells them apart (0x16 starts a TLS handshake; `{` starts JSON lines; anything
 * else is binary frames). Over the connection limit a client gets one error frame and is
 * closed (decision 13). Closing stops accepting and ends every connection; the caller then
 * flushes and closes the database.
 */
import { createServer } from "node:net";
import type { AddressInfo, Server, Socket } from "node:net";
import { Duplex } from "node:stream";
import { createServer as createTlsServer } from "node:tls";
import type { Server as TlsServer, TLSSocket } from "node:tls";
import { encodeMessageFrame, errorResponse, wireError } from "../../protocol/index.ts";
import type { Database } from "../../types.ts";
import { loadTlsOptions } from "../tls.ts";
import { RcpCore } from "./core.ts";
import type { RcpServer, RcpServerOptions } from "./options.ts";
import { Session } from "./session.ts";

/** The first byte of a TLS ClientHello record. */
const tlsHandshakeByte = 0x16;

interface TlsSetup {
  server: TlsServer;
  /** With required client certificates, plain connections would bypass them: refused. */
  plainRefused: boolean;
}

/**
 * Starts serving RCP for `db` on `options.host:options.port` (0: an ephemeral port).
 * @example
 * const server = await startRcpServer(db, { host: "127.0.0.1", port: 0 });
 * // ... clients connect to server.address.port ...
 * await server.close();
 */
export async function startRcpServer(db: Database, options: RcpServerOptions): Promise<RcpServer> {
  const core = new RcpCore(db, options);
  const sessions = new Set<Session>();
  const sockets = new Set<Socket>();
  const open = (stream: Socket, first: Buffer | undefined): void => {
    const session = new Session(core, stream, () => {
      sessions.delete(session);
      options.onConnection?.(false);
    });
    sessions.add(session);
    options.onConnection?.(true);
    session.start(first);
    stream.resume();
  };
  const tls = options.tls === undefined ? undefined : createTls(options, (s) => open(s, undefined));
  const server = createServer({ pauseOnConnect: false }, (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    if (sockets.size > core.limits.connectionsMax) {
      refuse(socket, "RATE_LIMITED", `too many connections (limit ${core.limits.connectionsMax})`);
      return;
    }
    // A peer that connects and never sends (or vanishes without a FIN) would hold a
    // connection slot forever: the idle limit applies before the first byte too.
    const silent = (): void => void socket.destroy();
    socket.setTimeout(core.limits.idleTimeoutMs, silent);
    socket.once("data", (first: Buffer) => {
      socket.pause();
      // The session (or TLS) takes over; a watching session must not be closed by this.
      socket.setTimeout(0);
      socket.off("timeout", silent);
      if (first[0] !== tlsHandshakeByte || tls === undefined) {
        if (tls?.plainRefused === true) {
          refuse(socket, "UNAUTHORIZED", "this server accepts only TLS with a client certificate");
          return;
        }
        open(socket, first);
        return;
      }
      // tls.Server does the handshake and refuses unverified client certificates.
      tls.server.emit("connection", replayingStream(socket, first));
    });
  });
  await listen(server, options);
  const address = server.address() as AddressInfo;
  return {
    address: { host: address.address, port: address.port },
    get connections() {
      return sessions.size;
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const session of sessions) session.end();
      for (const socket of sockets) socket.destroySoon();
      core.close();
      tls?.server.close();
      await closed;
    },
  };
}

/**
 * The socket as a stream that first yields `first` again. TLSSocket reads a net.Socket's
 * handle directly, past anything already read from it, so the bytes read to tell TLS from
 * plain are handed back through this stream instead.
 */
function replayingStream(socket: Socket, first: Buffer): Duplex {
  const stream = new Duplex({
    read: () => void socket.resume(),
    write: (chunk: Buffer, _encoding, done) => void socket.write(chunk, done),
    final: (done) => {
      socket.end();
      done();
    },
    destroy: (error, done) => {
      socket.destroy(error ?? undefined);
      done(error);
    },
  });
  stream.push(first);
  socket.on("data", (chunk: Buffer) => {
    if (!stream.push(chunk)) socket.pause();
  });
  socket.on("end", () => stream.push(null));
  socket.on("close", () => stream.destroy());
  return stream;
}

function createTls(options: RcpServerOptions, open: (socket: TLSSocket) => void): TlsSetup {
  const loaded = loadTlsOptions(options.tls!);
  const server = createTlsServer(loaded, open);
  // A failed handshake (no or an unknown client certificate) just drops the socket.
  server.on("tlsClientError", (_error, socket) => socket.destroy());
  return { server, plainRefused: loaded.rejectUnauthorized === true };
}

/** One error frame, then close: the client learns why instead of seeing a silent drop. */
function refuse(socket: Socket, code: "RATE_LIMITED" | "UNAUTHORIZED", message: string): void {
  socket.end(encodeMessageFrame(errorResponse("", wireError(code, message))));
}

function listen(server: Server, options: RcpServerOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
}
