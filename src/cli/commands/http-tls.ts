/**
 * @module TLS for the CLI's HTTP commands (`query`, `call`): the RCP commands' TLS flags
 * (`--tls`, `--ca-cert`, `--client-cert`, `--client-key`, `-k/--insecure`, `--server-name`)
 * and their `RSTMDB_*` environment variables, same names, meaning and precedence (a flag over
 * its variable; rcp-connection.ts tlsOf reads both), turned into a `fetch` for the client over
 * Node's `https`. The global fetch takes no CA of its own (only NODE_EXTRA_CA_CERTS), so a
 * private CA needs this.
 */
import { request } from "node:https";
import type { IncomingMessage } from "node:http";
import type { Command } from "commander";
import type { RcpClientTls } from "../../protocol/index.ts";
import type { TlsFlags } from "./rcp-connection.ts";

/** The RCP commands' TLS flags, same names and meaning. */
export type HttpTlsFlags = TlsFlags;

/** Statuses whose answer has no body: a Response with one cannot be made. */
const statusesWithoutBody: ReadonlySet<number> = new Set([204, 205, 304]);

/** Adds `--tls` and the TLS options to an HTTP command. */
export function addHttpTlsFlags(command: Command): Command {
  return command
    .option("--tls", "connect with https (default $RSTMDB_TLS)")
    .option("--ca-cert <file>", "CA certificate to trust (default $RSTMDB_CA_CERT)")
    .option("--client-cert <file>", "client certificate for mTLS (default $RSTMDB_CLIENT_CERT)")
    .option("--client-key <file>", "client key for mTLS (default $RSTMDB_CLIENT_KEY)")
    .option("-k, --insecure", "accept any server certificate (implies --tls)")
    .option("--server-name <name>", "server name to check in its certificate (implies --tls)");
}

/** A `fetch` over `https` with the given CA, client certificate and checks (tlsOf). */
export function createHttpTlsFetch(options: RcpClientTls): typeof fetch {
  return (input, init) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    return httpsFetch(url, init ?? {}, options);
  };
}

/** One request over `https`, answered as a fetch Response (what the client reads). */
function httpsFetch(url: string, init: RequestInit, tls: RcpClientTls): Promise<Response> {
  return new Promise((resolve, reject) => {
    const outgoing = request(
      url,
      {
        method: init.method ?? "GET",
        headers: Object.fromEntries(new Headers(init.headers).entries()),
        // One request per command: no connection is kept open to hold the process.
        agent: false,
        ...(init.signal == null ? {} : { signal: init.signal }),
        ...tls,
      },
      (incoming) => void readAnswer(incoming).then(resolve, reject),
    );
    outgoing.on("error", (error) => reject(withTlsHint(error)));
    outgoing.end(typeof init.body === "string" ? init.body : undefined);
  });
}

async function readAnswer(incoming: IncomingMessage): Promise<Response> {
  const chunks: Buffer[] = [];
  for await (const chunk of incoming) chunks.push(chunk as Buffer);
  const headers = new Headers();
  for (const [name, value] of Object.entries(incoming.headers)) {
    for (const item of [value ?? []].flat()) headers.append(name, item);
  }
  const status = incoming.statusCode ?? 500;
  const body = statusesWithoutBody.has(status) ? null : Buffer.concat(chunks);
  return new Response(body, { status, headers });
}

/** A certificate refusal says which option helps, as the RCP commands do. */
function withTlsHint(error: Error): Error {
  const code = (error as NodeJS.ErrnoException).code ?? "";
  const certificate =
    code === "ERR_TLS_CERT_ALTNAME_INVALID" || /CERT|SELF_SIGNED|UNABLE_TO_/.test(code);
  if (!certificate) return error;
  const hint =
    `${error.message} (${code}); trust its CA with --ca-cert FILE, name the certificate's ` +
    `host with --server-name, or skip the check with -k`;
  // No cause: the client would append its message a second time.
  return Object.assign(new Error(hint), { code });
}
