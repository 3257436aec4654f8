/**
 * @module How the rstmdb-style client commands reach a server: rstmdb-cli's connection
 * flags (`-s/--server`, `-t/--token`, `--tls`, `--ca-cert`, `--client-cert`, `--client-key`,
 * `-k/--insecure`, `--server-name`) with their environment variables, plus our own
 * `--connect-timeout`, turned into an authenticated RCP client (src/protocol). Any TLS
 * option implies TLS, as in rstmdb-cli.
 */
import { readFileSync } from "node:fs";
import { InvalidArgumentError } from "commander";
import type { Command } from "commander";
import {
  RcpClient,
  rcpConnectTimeoutMsDefault,
  rcpConnectTimeoutMsMax,
} from "../../protocol/index.ts";
import type { RcpClientTls } from "../../protocol/index.ts";
import { parsePositive, UsageError } from "../output.ts";

/** The default RCP address, as rstmdb's. */
export const rcpAddressDefault = "127.0.0.1:7401";

export interface ConnectionFlags {
  server: string;
  token?: string;
  tls?: boolean;
  caCert?: string;
  clientCert?: string;
  clientKey?: string;
  insecure?: boolean;
  serverName?: string;
  connectTimeout?: number;
  json?: boolean;
}

/** Adds the connection flags (and `--json`) to a command. */
export function addConnectionFlags(command: Command): Command {
  return command
    .option("-s, --server <host:port>", "server address", rcpAddressDefault)
    .option("-t, --token <token>", "bearer token (default $RSTMDB_TOKEN or $STATEBASE_TOKEN)")
    .option("--tls", "connect with TLS (default $RSTMDB_TLS)")
    .option("--ca-cert <file>", "CA certificate to trust (default $RSTMDB_CA_CERT)")
    .option("--client-cert <file>", "client certificate for mTLS (default $RSTMDB_CLIENT_CERT)")
    .option("--client-key <file>", "client key for mTLS (default $RSTMDB_CLIENT_KEY)")
    .option("-k, --insecure", "accept any server certificate")
    .option("--server-name <name>", "server name to check in its certificate (SNI)")
    .option(
      "--connect-timeout <ms>",
      `give up connecting after this long (default ${rcpConnectTimeoutMsDefault})`,
      parseConnectTimeout,
    )
    .option("--json", "print results as JSON");
}

function parseConnectTimeout(text: string): number {
  const value = parsePositive(text);
  if (value > rcpConnectTimeoutMsMax) {
    throw new InvalidArgumentError(`ms must be at most ${rcpConnectTimeoutMsMax}.`);
  }
  return value;
}

/** Connects and, with a token, authenticates. */
export async function connectRcp(
  flags: ConnectionFlags,
  env: NodeJS.ProcessEnv = process.env,
): Promise<RcpClient> {
  const { host, port } = parseAddress(flags.server);
  const tls = tlsOf(flags, env);
  const client = await RcpClient.connect({
    host,
    port,
    ...(tls === undefined ? {} : { tls }),
    ...(flags.connectTimeout === undefined ? {} : { connectTimeoutMs: flags.connectTimeout }),
  });
  const token = tokenOf(flags, env);
  if (token !== undefined) {
    try {
      await client.request("AUTH", { method: "bearer", token });
    } catch (error) {
      await client.close();
      throw error;
    }
  }
  return client;
}

/**
 * The bearer token, shared by the RCP and the HTTP commands: `--token`, else `$RSTMDB_TOKEN`
 * (rstmdb's name), else `$STATEBASE_TOKEN`; an empty one is none.
 */
export function tokenOf(flags: { token?: string }, env: NodeJS.ProcessEnv): string | undefined {
  const token = flags.token ?? env.RSTMDB_TOKEN ?? env.STATEBASE_TOKEN;
  return token === "" ? undefined : token;
}

/** `host:port`, `[v6]:port` or `:port`. */
export function parseAddress(text: string): { host: string; port: number } {
  const at = text.lastIndexOf(":");
  const port = Number(text.slice(at + 1));
  if (at === -1 || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new UsageError(`--server must be HOST:PORT, got "${text}"`);
  }
  const host = text.slice(0, at).replace(/^\[(.*)\]$/, "$1");
  return { host: host === "" ? "127.0.0.1" : host, port };
}

/** The TLS flags, shared by the RCP and the HTTP commands (same names and meaning). */
export type TlsFlags = Pick<
  ConnectionFlags,
  "tls" | "caCert" | "clientCert" | "clientKey" | "insecure" | "serverName"
>;

/**
 * Node's TLS client options from the TLS flags and their environment variables
 * (`RSTMDB_TLS`, `RSTMDB_CA_CERT`, `RSTMDB_CLIENT_CERT`, `RSTMDB_CLIENT_KEY`; a flag wins over
 * its variable, an empty variable is unset), or undefined when nothing asks for TLS: any TLS
 * option implies it, as in rstmdb-cli. Shared by the RCP and the HTTP commands, so both read
 * the same settings. A file that cannot be read names its flag or variable; a lone client
 * certificate or key is a usage error.
 */
export function tlsOf(flags: TlsFlags, env: NodeJS.ProcessEnv): RcpClientTls | undefined {
  const fromEnv = (name: string): TlsFile | undefined => {
    const path = env[name];
    return path === undefined || path === "" ? undefined : { path, from: name };
  };
  const fromFlag = (path: string | undefined, flag: string): TlsFile | undefined =>
    path === undefined ? undefined : { path, from: flag };
  const ca = fromFlag(flags.caCert, "--ca-cert") ?? fromEnv("RSTMDB_CA_CERT");
  const cert = fromFlag(flags.clientCert, "--client-cert") ?? fromEnv("RSTMDB_CLIENT_CERT");
  const key = fromFlag(flags.clientKey, "--client-key") ?? fromEnv("RSTMDB_CLIENT_KEY");
  const { serverName } = flags;
  const wanted =
    flags.tls === true ||
    envFlag(env, "RSTMDB_TLS") ||
    [ca, cert, key, serverName].some((value) => value !== undefined) ||
    flags.insecure === true;
  if (!wanted) return undefined;
  if ((cert === undefined) !== (key === undefined)) {
    throw new UsageError("--client-cert and --client-key go together");
  }
  return {
    ...(ca === undefined ? {} : { ca: readFile(ca) }),
    ...(cert === undefined ? {} : { cert: readFile(cert) }),
    ...(key === undefined ? {} : { key: readFile(key) }),
    ...(serverName === undefined ? {} : { servername: serverName }),
    rejectUnauthorized: flags.insecure !== true,
  };
}

/** A TLS file's path and the flag or environment variable it came from. */
interface TlsFile {
  readonly path: string;
  readonly from: string;
}

/**
 * A yes/no environment variable: unset or empty is no. A value that is neither is refused,
 * not read as no: `RSTMDB_TLS=yes` connecting in plain text would be a silent surprise.
 */
function envFlag(env: NodeJS.ProcessEnv, name: string): boolean {
  const value = (env[name] ?? "").toLowerCase();
  if (["1", "true", "yes", "on"].includes(value)) return true;
  if (["", "0", "false", "no", "off"].includes(value)) return false;
  throw new UsageError(`${name} must be true or false (or 1, 0), got "${env[name]}"`);
}

function readFile(file: TlsFile): Buffer {
  try {
    return readFileSync(file.path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(`${file.from}: cannot read ${file.path} (${code})`);
  }
}
