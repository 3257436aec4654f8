/**
 * @module The server's configuration: one file (YAML or JSON), then environment variables
 * (STATEBASE_*), then command-line flags, each overriding the one before. The merged result
 * is validated against one schema, so every mistake is reported once, naming the key and
 * where it came from, before anything listens or opens the data directory.
 */
import { access, constants, readFile } from "node:fs/promises";
import { dirname, isAbsolute, join } from "node:path";
import Type from "typebox";
import type { Static } from "typebox";
import { Value } from "typebox/value";
import { parse as parseYaml, YAMLParseError } from "yaml";
import { numericOptionRanges } from "../database.ts";
import { assert } from "../lib/assert.ts";
import { DbError } from "../lib/errors.ts";
import type { Durability, OpenOptions } from "../types.ts";
import {
  checkReplicatedDurability,
  isNatsUrl,
  leaseTtlMsMax,
  leaseTtlMsMin,
} from "../replication/index.ts";
import { hashToken } from "./auth.ts";
import {
  httpBodySizeBytesMax,
  replicatedSnapshotsKeptMax,
  requestTimeoutMsDefault,
  serverStallMsDefault,
  subscriptionPendingCommitsMax,
  wsBufferedSizeBytesMax,
  wsConnectionsMax,
  wsMessageSizeBytesMax,
} from "../lib/limits.ts";

/** A listener address; `port` 0 asks the system for a free port. */
export interface ListenAddress {
  host: string;
  port: number;
}

const listenPattern = "^(off|\\[[0-9A-Fa-f:.]+\\]:\\d{1,5}|[^:\\s]+:\\d{1,5})$";
/** An advertised address: a base URL, or HOST:PORT (then the scheme follows `tls`). */
const advertisePattern = "^(https?://[^\\s/]+/?|\\[[0-9A-Fa-f:.]+\\]:\\d{1,5}|[^:\\s/]+:\\d{1,5})$";

const tokenSchema = Type.Object(
  {
    sha256: Type.String({ pattern: "^[0-9a-fA-F]{64}$" }),
    role: Type.Union([Type.Literal("read"), Type.Literal("write"), Type.Literal("admin")]),
    name: Type.Optional(Type.String({ maxLength: 128 })),
  },
  { additionalProperties: false },
);

/**
 * Plain HTTP connections the default `limits.httpConnectionsMax` allows beside the
 * WebSockets: each holds a file descriptor, and a flood of idle ones would otherwise take
 * every descriptor the process has, the log's next segment file included.
 */
const httpConnectionsBesideWebSocketsMax = 1000;

/**
 * A server's deadline for every script and procedure call, in ms (embedded databases have
 * none by default). A script holds the event loop while it runs, so every other client, the
 * heartbeats and a replicated writer's lease renewals (every second, 3 s TTL) wait for it: one
 * second keeps a slow query from costing the lease and is far above any indexed read.
 */
export const queryTimeoutMsServerDefault = 1_000;

/** Below this V8 cannot hold the server itself. */
const heapSizeMbMin = 64;

const positive = (maximum: number): ReturnType<typeof Type.Integer> =>
  Type.Integer({ minimum: 1, maximum });

/**
 * A retention key in the range open() allows (database.ts): a value outside it passed here
 * would be refused by the open, after the listeners were tried, naming neither the config
 * key nor where its value came from.
 */
function openOption(name: keyof OpenOptions): ReturnType<typeof Type.Integer> {
  const range = numericOptionRanges.find(([option]) => option === name);
  assert(range !== undefined, `no range for the open option ${name}`);
  return Type.Integer({ minimum: range[1], maximum: range[2] });
}

/** Every key a config file may hold; environment variables and flags map onto the same keys. */
export const configSchema = Type.Object(
  {
    data: Type.Optional(Type.String({ minLength: 1 })),
    durability: Type.Optional(
      Type.Union([Type.Literal("sync"), Type.Literal("async"), Type.Literal("memory")]),
    ),
    rcp: Type.Optional(Type.String({ pattern: listenPattern })),
    http: Type.Optional(Type.String({ pattern: listenPattern })),
    module: Type.Optional(Type.String({ minLength: 1 })),
    replicate: Type.Optional(Type.String({ minLength: 1 })),
    // The replication layer's own rule (stream-setup.ts); NATS takes the buckets named after it.
    replicateStream: Type.Optional(Type.String({ pattern: "^[A-Za-z0-9_-]{1,200}$" })),
    // It travels in the lease, a NATS connection name and the forwarding header.
    replicateNode: Type.Optional(Type.String({ pattern: "^[A-Za-z0-9_.-]{1,128}$" })),
    // JetStream keeps a stream and its buckets on 1, 3 or 5 servers (stream-setup.ts).
    replicateReplicas: Type.Optional(
      Type.Union([Type.Literal(1), Type.Literal(3), Type.Literal(5)]),
    ),
    replicateMonitorUrl: Type.Optional(Type.String({ pattern: "^https?://[^\\s/]+/?$" })),
    replicateLeaseTtlMs: Type.Optional(
      Type.Integer({ minimum: leaseTtlMsMin, maximum: leaseTtlMsMax }),
    ),
    advertiseHttp: Type.Optional(Type.String({ pattern: advertisePattern })),
    forwardWrites: Type.Optional(Type.Boolean()),
    retention: Type.Optional(
      Type.Object(
        {
          snapshotsKept: Type.Optional(positive(1_000_000)),
          logRetentionMs: Type.Optional(openOption("logRetentionMs")),
          snapshotLogBytes: Type.Optional(openOption("snapshotLogBytes")),
          segmentSizeBytes: Type.Optional(openOption("segmentSizeBytes")),
          durabilityWindowMs: Type.Optional(openOption("durabilityWindowMs")),
        },
        { additionalProperties: false },
      ),
    ),
    auth: Type.Optional(
      Type.Object(
        { tokens: Type.Optional(Type.Array(tokenSchema, { maxItems: 10_000 })) },
        { additionalProperties: false },
      ),
    ),
    tls: Type.Optional(
      Type.Object(
        {
          cert: Type.String({ minLength: 1 }),
          key: Type.String({ minLength: 1 }),
          ca: Type.Optional(Type.String({ minLength: 1 })),
          requireClientCert: Type.Optional(Type.Boolean()),
        },
        { additionalProperties: false },
      ),
    ),
    limits: Type.Optional(
      Type.Object(
        {
          httpBodySizeBytesMax: Type.Optional(positive(256 * 1024 * 1024)),
          wsMessageSizeBytesMax: Type.Optional(positive(256 * 1024 * 1024)),
          wsBufferedSizeBytesMax: Type.Optional(positive(1024 * 1024 * 1024)),
          wsConnectionsMax: Type.Optional(positive(1_000_000)),
          httpConnectionsMax: Type.Optional(positive(1_000_000)),
          subscriptionPendingCommitsMax: Type.Optional(positive(10_000_000)),
          requestTimeoutMs: Type.Optional(positive(3_600_000)),
          queryTimeoutMs: Type.Optional(openOption("queryTimeoutMs")),
          stallMsMax: Type.Optional(positive(24 * 3_600_000)),
        },
        { additionalProperties: false },
      ),
    ),
    timerTickMs: Type.Optional(positive(3_600_000)),
    heapSizeMbMax: Type.Optional(Type.Integer({ minimum: heapSizeMbMin, maximum: 1024 * 1024 })),
    allowedOrigins: Type.Optional(
      Type.Array(Type.String({ pattern: "^(\\*|https?://[^/\\s]+)$" }), { maxItems: 1000 }),
    ),
  },
  { additionalProperties: false },
);

/** A config document as written (every key optional). */
export type ConfigDocument = Static<typeof configSchema>;

export type TokenEntryConfig = Static<typeof tokenSchema>;

type LimitsDocument = NonNullable<ConfigDocument["limits"]>;

/** The resolved configuration the server runs with: every default filled in. */
export interface ServerConfig {
  data: string;
  durability: Durability;
  /** `undefined` when the listener is turned off (`off`). */
  rcp: ListenAddress | undefined;
  http: ListenAddress | undefined;
  module: string | undefined;
  replicate: string | undefined;
  /** JetStream stream of the replicated log (default: the replication layer's). */
  replicateStream: string | undefined;
  /**
   * This node's name in the writer lease, in status and in the forwarding header (default:
   * a random one per start, which says nothing about which machine writes).
   */
  replicateNode: string | undefined;
  /**
   * Replicas of the stream and its buckets when this node creates them (default 1): a
   * cluster's R3 must be asked for, or the log lives on one NATS server.
   */
  replicateReplicas: number | undefined;
  /** NATS monitoring URL, read once so the status says the server's fsync setting. */
  replicateMonitorUrl: string | undefined;
  /**
   * The writer lease's time to live in ms (default: the lease bucket's, or 3 s for a new
   * one): how long a dead writer holds writes up, and how late a busy one may renew.
   */
  replicateLeaseTtlMs: number | undefined;
  /**
   * HTTP base URL a replicated writer publishes in its lease for followers to forward writes
   * to; undefined: the bound HTTP address, unless that is a wildcard (0.0.0.0, ::).
   */
  advertiseHttp: string | undefined;
  /** Whether a follower's HTTP server forwards writes to the writer (default true). */
  forwardWrites: boolean;
  retention: NonNullable<ConfigDocument["retention"]>;
  tokens: TokenEntryConfig[];
  tls: NonNullable<ConfigDocument["tls"]> | undefined;
  /**
   * Every limit filled in by resolveConfig; `httpConnectionsMax` and `queryTimeoutMs` may be
   * left out by code that builds a config by hand (then HTTP connections are not capped and
   * scripts have no deadline).
   */
  limits: Required<Omit<LimitsDocument, "httpConnectionsMax" | "queryTimeoutMs">> &
    Pick<LimitsDocument, "httpConnectionsMax" | "queryTimeoutMs">;
  timerTickMs: number;
  /**
   * The server thread's old-generation heap limit in MiB: the state lives there. Undefined:
   * V8's default, a quarter of the machine's memory and at most about 4 GiB.
   */
  heapSizeMbMax: number | undefined;
  /**
   * Browser origins (`scheme://host[:port]`, or `*`) besides the server's own whose pages may
   * use it: WebSocket and HTTP (with CORS). Empty: the server's own pages only.
   */
  allowedOrigins: string[];
}

export const configDefaults = {
  data: "./statebase-data",
  durability: "sync",
  rcp: "127.0.0.1:7401",
  http: "127.0.0.1:8090",
  timerTickMs: 100,
} as const;

type EnvKind = "string" | "integer" | "boolean" | "tokens" | "list";

/** Environment variables: name, the config key it sets (a dotted path) and how to read it. */
export const configEnvironment: ReadonlyArray<readonly [string, string, EnvKind]> = [
  ["STATEBASE_DATA", "data", "string"],
  ["STATEBASE_DURABILITY", "durability", "string"],
  ["STATEBASE_RCP", "rcp", "string"],
  ["STATEBASE_HTTP", "http", "string"],
  ["STATEBASE_MODULE", "module", "string"],
  ["STATEBASE_REPLICATE", "replicate", "string"],
  ["STATEBASE_REPLICATE_STREAM", "replicateStream", "string"],
  ["STATEBASE_REPLICATE_NODE", "replicateNode", "string"],
  ["STATEBASE_REPLICATE_REPLICAS", "replicateReplicas", "integer"],
  ["STATEBASE_REPLICATE_MONITOR_URL", "replicateMonitorUrl", "string"],
  ["STATEBASE_REPLICATE_LEASE_TTL_MS", "replicateLeaseTtlMs", "integer"],
  ["STATEBASE_ADVERTISE_HTTP", "advertiseHttp", "string"],
  ["STATEBASE_FORWARD_WRITES", "forwardWrites", "boolean"],
  ["STATEBASE_SNAPSHOTS_KEPT", "retention.snapshotsKept", "integer"],
  ["STATEBASE_LOG_RETENTION_MS", "retention.logRetentionMs", "integer"],
  ["STATEBASE_SNAPSHOT_LOG_BYTES", "retention.snapshotLogBytes", "integer"],
  ["STATEBASE_SEGMENT_SIZE_BYTES", "retention.segmentSizeBytes", "integer"],
  ["STATEBASE_DURABILITY_WINDOW_MS", "retention.durabilityWindowMs", "integer"],
  ["STATEBASE_TOKENS", "auth.tokens", "tokens"],
  ["STATEBASE_TLS_CERT", "tls.cert", "string"],
  ["STATEBASE_TLS_KEY", "tls.key", "string"],
  ["STATEBASE_TLS_CA", "tls.ca", "string"],
  ["STATEBASE_TLS_REQUIRE_CLIENT_CERT", "tls.requireClientCert", "boolean"],
  ["STATEBASE_HTTP_BODY_SIZE_BYTES_MAX", "limits.httpBodySizeBytesMax", "integer"],
  ["STATEBASE_WS_MESSAGE_SIZE_BYTES_MAX", "limits.wsMessageSizeBytesMax", "integer"],
  ["STATEBASE_WS_BUFFERED_SIZE_BYTES_MAX", "limits.wsBufferedSizeBytesMax", "integer"],
  ["STATEBASE_WS_CONNECTIONS_MAX", "limits.wsConnectionsMax", "integer"],
  ["STATEBASE_HTTP_CONNECTIONS_MAX", "limits.httpConnectionsMax", "integer"],
  ["STATEBASE_SUBSCRIPTION_PENDING_COMMITS_MAX", "limits.subscriptionPendingCommitsMax", "integer"],
  ["STATEBASE_REQUEST_TIMEOUT_MS", "limits.requestTimeoutMs", "integer"],
  ["STATEBASE_QUERY_TIMEOUT_MS", "limits.queryTimeoutMs", "integer"],
  ["STATEBASE_STALL_MS_MAX", "limits.stallMsMax", "integer"],
  ["STATEBASE_TIMER_TICK_MS", "timerTickMs", "integer"],
  ["STATEBASE_HEAP_SIZE_MB_MAX", "heapSizeMbMax", "integer"],
  ["STATEBASE_ALLOWED_ORIGINS", "allowedOrigins", "list"],
];

/** Flags as the `serve` command parsed them; each overrides the file and the environment. */
export interface ConfigFlags {
  data?: string;
  rcp?: string;
  http?: string;
  durability?: string;
  module?: string;
  config?: string;
  replicate?: string;
  /** `--query-timeout-ms`: sets limits.queryTimeoutMs. */
  queryTimeoutMs?: string;
}

export interface ResolveConfigOptions {
  /**
   * Also check that the module and TLS files can be read (`statebase serve` does): a typo in
   * a path is then refused naming the key and where it came from, as every other mistake is.
   */
  checkFiles?: boolean;
}

/** Reads the config file (if any), applies the environment and the flags, validates. */
export async function resolveConfig(
  flags: ConfigFlags,
  env: Readonly<Record<string, string | undefined>>,
  options: ResolveConfigOptions = {},
): Promise<ServerConfig> {
  const sources = new Map<string, string>();
  const document: Record<string, unknown> =
    flags.config === undefined ? {} : await readConfigFile(flags.config);
  markSources(document, "", flags.config ?? "", sources);
  for (const [name, path, kind] of configEnvironment) {
    const text = env[name];
    if (text === undefined || text === "") continue;
    setPath(document, path, readEnvValue(name, path, text, kind));
    sources.set(path, `environment variable ${name}`);
  }
  for (const key of ["data", "rcp", "http", "durability", "module", "replicate"] as const) {
    const value = flags[key];
    if (value === undefined) continue;
    document[key] = value;
    sources.set(key, `flag --${key}`);
  }
  if (flags.queryTimeoutMs !== undefined) {
    const key = "limits.queryTimeoutMs";
    setPath(
      document,
      key,
      readEnvValue("--query-timeout-ms", key, flags.queryTimeoutMs, "integer"),
    );
    sources.set(key, "flag --query-timeout-ms");
  }
  checkDocument(document, sources);
  checkListenAddresses(document, sources);
  checkSomeListener(document, sources);
  checkTokens(document, sources);
  checkReplicated(document, sources);
  if (flags.config !== undefined) resolveFilePaths(document, sources, flags.config);
  if (options.checkFiles === true) await checkFilesReadable(document, sources);
  return completeConfig(document);
}

/** Every file the server reads at start can be read; not the data directory, which open creates. */
async function checkFilesReadable(
  document: ConfigDocument,
  sources: Map<string, string>,
): Promise<void> {
  for (const key of pathKeys.filter((key) => key !== "data")) {
    const path = valueAt(document, key);
    if (typeof path !== "string") continue;
    try {
      await access(path, constants.R_OK);
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? String(error);
      const message = `config key ${key}${from(sources, key)}: cannot read ${path} (${reason})`;
      throw new DbError("INVALID_ARGUMENT", message, { key, value: path });
    }
  }
}

/** Config keys that name a file or a directory. */
const pathKeys = ["data", "module", "tls.cert", "tls.key", "tls.ca"] as const;

/**
 * Relative paths written in the config file are relative to the file's directory, as in most
 * tools that read one: `statebase serve --config /srv/app/statebase.yaml` then finds `data:
 * ./data` beside the file whatever the working directory (a service manager's is `/`). Paths
 * from the environment and flags stay relative to the working directory.
 */
function resolveFilePaths(
  document: Record<string, unknown>,
  sources: ReadonlyMap<string, string>,
  file: string,
): void {
  for (const key of pathKeys) {
    if (sources.get(key) !== `config file ${file}`) continue;
    const [outer, inner] = key.split(".") as [string, string | undefined];
    const holder = (inner === undefined ? document : document[outer]) as Record<string, unknown>;
    const name = inner ?? outer;
    const value = holder[name];
    if (typeof value === "string" && !isAbsolute(value)) holder[name] = join(dirname(file), value);
  }
}

/** Parses a config file: JSON when it ends in .json, YAML (a superset of JSON) otherwise. */
async function readConfigFile(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new DbError("INVALID_ARGUMENT", `cannot read config file ${path}: ${reason}`, {
      value: path,
    });
  }
  let parsed: unknown;
  try {
    // A byte order mark (Windows editors write one) is no JSON; YAML skips it already.
    if (text.startsWith("\ufeff")) text = text.slice(1);
    parsed = path.endsWith(".json") ? parseJson(text) : parseYaml(text);
  } catch (error) {
    const reason = error instanceof Error ? describeSyntaxError(error, text) : String(error);
    throw new DbError("INVALID_ARGUMENT", `config file ${path} is not valid: ${reason}`, {
      value: path,
    });
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new DbError("INVALID_ARGUMENT", `config file ${path} must hold an object of keys`);
  }
  return parsed as Record<string, unknown>;
}

/** JSON, strictly; a key given twice is refused (JSON.parse would keep the last one). */
function parseJson(text: string): unknown {
  const parsed: unknown = JSON.parse(text);
  try {
    parseYaml(text); // valid JSON is valid YAML, which refuses a repeated key and says where
  } catch (error) {
    if (error instanceof YAMLParseError && error.code === "DUPLICATE_KEY") throw error;
  }
  return parsed;
}

/**
 * One line: YAML's first line names the line and column (a code frame follows); JSON.parse
 * gives an offset, turned into a line and column here, or quotes the text around the error.
 */
function describeSyntaxError(error: Error, text: string): string {
  if (!(error instanceof SyntaxError)) return error.message.split("\n")[0]!.replace(/:$/, "");
  const message = error.message.replaceAll(/\s+/g, " ");
  const offset = /at position (\d+)/.exec(message)?.[1];
  if (offset === undefined) return message;
  const before = text.slice(0, Number(offset)).split("\n");
  return `${message} (line ${before.length}, column ${before.at(-1)!.length + 1})`;
}

/** Records that every key of the file came from the file, for error messages. */
function markSources(
  value: Record<string, unknown>,
  prefix: string,
  file: string,
  sources: Map<string, string>,
): void {
  for (const [key, inner] of Object.entries(value)) {
    const path = prefix === "" ? key : `${prefix}.${key}`;
    sources.set(path, `config file ${file}`);
    if (inner !== null && typeof inner === "object" && !Array.isArray(inner)) {
      markSources(inner as Record<string, unknown>, path, file, sources);
    }
  }
}

/** A variable's text as its key's value; one that cannot be read names the key and itself. */
function readEnvValue(name: string, key: string, text: string, kind: EnvKind): unknown {
  if (kind === "string") return text;
  if (kind === "boolean") {
    if (text === "true" || text === "1") return true;
    if (text === "false" || text === "0") return false;
    throw new DbError(
      "INVALID_ARGUMENT",
      `config key ${key} (from environment variable ${name}): must be true or false, ` +
        `got ${JSON.stringify(text.slice(0, 80))}`,
      { key },
    );
  }
  if (kind === "integer") {
    // Left as text when it is no number: the schema then names the key and the bad value.
    return /^-?\d+$/.test(text.trim()) ? Number(text) : text;
  }
  if (kind === "list") return text.split(",").map((entry) => entry.trim());
  return parseTokenList(name, key, text);
}

/**
 * Tokens in the environment: a JSON array like the file's, or `SHA256:ROLE[:NAME]` entries
 * separated by commas (shorter to write in a unit file).
 */
function parseTokenList(name: string, key: string, text: string): unknown {
  const trimmed = text.trim();
  if (trimmed.startsWith("[")) {
    try {
      return JSON.parse(trimmed);
    } catch {
      // The message below says what was expected; the JSON parser's position adds nothing.
      throw new DbError(
        "INVALID_ARGUMENT",
        `config key ${key} (from environment variable ${name}): must be a JSON array of ` +
          `tokens, or SHA256:ROLE[:NAME] entries separated by commas`,
        { key },
      );
    }
  }
  return trimmed.split(",").map((entry) => {
    // The name is the rest: one with a colon in it is kept whole, not cut at the colon.
    const [sha256, role, ...label] = entry.trim().split(":");
    return label.length === 0 ? { sha256, role } : { sha256, role, name: label.join(":") };
  });
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split(".");
  let node = target;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    if (next === null || typeof next !== "object" || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys[keys.length - 1]!] = value;
}

/** Validates the merged document; the first error names its key, source and the rule. */
function checkDocument(
  document: unknown,
  sources: Map<string, string>,
): asserts document is ConfigDocument {
  if (Value.Check(configSchema, document)) return;
  const errors = [...Value.Errors(configSchema, document)];
  // Prefer the most specific error: the deepest path, and a named rule over "schema is false".
  errors.sort((a, b) => b.instancePath.length - a.instancePath.length);
  const error = errors.find((e) => e.keyword !== "boolean") ?? errors[0];
  if (error === undefined) throw new DbError("INVALID_ARGUMENT", "config is not valid");
  const path = error.instancePath.replace(/^\//, "").replaceAll("/", ".");
  const extra = (error.params as { additionalProperties?: unknown }).additionalProperties;
  if (error.keyword === "additionalProperties" && Array.isArray(extra)) {
    const key = path === "" ? String(extra[0]) : `${path}.${String(extra[0])}`;
    throw new DbError("INVALID_ARGUMENT", `unknown config key ${key}${from(sources, key)}`, {
      key,
    });
  }
  const message = describeRule(path, error, valueAt(document, path));
  throw new DbError("INVALID_ARGUMENT", `config key ${path}${from(sources, path)}: ${message}`, {
    key: path,
  });
}

/** The schema lets any five digits through as a port; the range is checked here. */
function checkListenAddresses(document: ConfigDocument, sources: Map<string, string>): void {
  for (const key of ["rcp", "http"] as const) {
    const text = document[key];
    if (text === undefined) continue;
    try {
      parseListenAddress(text);
    } catch (error) {
      if (!(error instanceof DbError)) throw error;
      const message = `config key ${key}${from(sources, key)}: ${error.message}`;
      throw new DbError("INVALID_ARGUMENT", message, { key });
    }
  }
}

function checkNatsUrls(text: string, sources: Map<string, string>): void {
  for (const url of text.split(",").map((entry) => entry.trim())) {
    if (isNatsUrl(url)) continue;
    const what =
      url === ""
        ? "holds an empty URL (a comma too many?)"
        : `${url} is no NATS URL: give nats://HOST:PORT, tls://HOST:PORT or HOST:PORT`;
    throw new DbError(
      "INVALID_ARGUMENT",
      `config key replicate${from(sources, "replicate")}: ${what}`,
      {
        key: "replicate",
      },
    );
  }
}

/** Settings that hold only for a local log, checked when the log is replicated. */
function checkReplicated(document: ConfigDocument, sources: Map<string, string>): void {
  if (document.replicate === undefined) return;
  checkNatsUrls(document.replicate, sources);
  try {
    checkReplicatedDurability(document.durability ?? configDefaults.durability);
  } catch (error) {
    if (!(error instanceof DbError)) throw error;
    const durability = `durability${from(sources, "durability")}`;
    const keys = `${durability} and replicate${from(sources, "replicate")}`;
    throw new DbError("INVALID_ARGUMENT", `config keys ${keys}: ${error.message}`, {
      key: "durability",
    });
  }
  const kept = document.retention?.snapshotsKept;
  if (kept !== undefined && kept > replicatedSnapshotsKeptMax) {
    const key = "retention.snapshotsKept";
    throw new DbError(
      "INVALID_ARGUMENT",
      `config key ${key}${from(sources, key)}: must be at most ${replicatedSnapshotsKeptMax} ` +
        `with replicate, got ${kept}`,
      { key },
    );
  }
}

/**
 * A server with neither listener would open (and, replicated, maybe take the writer lease
 * that followers forward writes to) while no client could reach it.
 */
function checkSomeListener(document: ConfigDocument, sources: Map<string, string>): void {
  if (document.rcp !== "off" || document.http !== "off") return;
  throw new DbError(
    "INVALID_ARGUMENT",
    `config keys rcp${from(sources, "rcp")} and http${from(sources, "http")} are both off: ` +
      `no client could reach the server; leave at least one on`,
    { key: "rcp" },
  );
}

/**
 * The hash of the empty string comes from `statebase hash-token "$TOKEN"` run where TOKEN was
 * not set; configured, it lets an RCP client in with AUTH and an empty token.
 */
function checkTokens(document: ConfigDocument, sources: Map<string, string>): void {
  const index = (document.auth?.tokens ?? []).findIndex(
    (entry) => entry.sha256.toLowerCase() === hashToken(""),
  );
  if (index === -1) return;
  const key = `auth.tokens.${index}.sha256`;
  throw new DbError(
    "INVALID_ARGUMENT",
    `config key ${key}${from(sources, key)}: is the SHA-256 of an empty token ` +
      `(was the variable holding the token set when it was hashed?)`,
    { key },
  );
}

function from(sources: Map<string, string>, key: string): string {
  const root = key.split(".").slice(0, 2).join(".");
  // A section (tls) made of keys from the environment has a source only for those keys.
  const source =
    sources.get(key) ??
    sources.get(root) ??
    sources.get(key.split(".")[0]!) ??
    [...sources].find(([inner]) => inner.startsWith(`${key}.`))?.[1];
  return source === undefined ? "" : ` (from ${source})`;
}

function valueAt(document: unknown, path: string): unknown {
  if (path === "") return document;
  let value = document;
  for (const key of path.split(".")) value = (value as Record<string, unknown> | undefined)?.[key];
  return value;
}

const typeNames: Readonly<Record<string, string>> = {
  integer: "an integer",
  number: "a number",
  string: "a string",
  boolean: "true or false",
  array: "a list",
  object: "a section of keys",
};

/** The rule an error broke, in words, with the value given (a token's hash is never shown). */
function describeRule(
  path: string,
  error: { keyword: string; params: object; message: string },
  value: unknown,
): string {
  const { keyword } = error;
  const params = error.params as { type?: string; limit?: number; requiredProperties?: string[] };
  if (keyword === "required") return `${(params.requiredProperties ?? []).join(", ")} is missing`;
  if (keyword === "minLength" && params.limit === 1) return "must not be empty";
  const text = typeof value === "number" ? String(value) : (JSON.stringify(value) ?? "nothing");
  const given = path.startsWith("auth.") ? "" : `, got ${text.slice(0, 80)}`;
  return `${describeRuleText(path, keyword, params) ?? error.message}${given}`;
}

function describeRuleText(
  path: string,
  keyword: string,
  params: { type?: string; limit?: number },
): string | undefined {
  // A key of one shape says that shape whatever it broke: `rcp: 7401` (a YAML number) is
  // better told HOST:PORT than "a string", which `rcp: "7401"` would break next.
  const shaped = keyword === "pattern" || keyword === "type" || keyword === "anyOf";
  const shape = shapeOf(path);
  if (shape !== undefined && (shaped || keyword === "const")) return shape;
  if (keyword === "type") return `must be ${typeNames[params.type ?? ""] ?? params.type}`;
  if (keyword === "minimum") return `must be at least ${params.limit}`;
  if (keyword === "maximum") return `must be at most ${params.limit}`;
  return undefined;
}

/** What a key of a particular shape (an address, a name, one of some words) must be. */
function shapeOf(path: string): string | undefined {
  if (path === "rcp" || path === "http")
    return "must be HOST:PORT (port 0 picks a free port) or off";
  if (path === "replicateNode") return "must be letters, digits, _, . or - (at most 128)";
  if (path === "replicateStream") return "must be letters, digits, _ or - (at most 200)";
  if (path === "replicateReplicas") return "must be 1, 3 or 5";
  if (path === "replicateMonitorUrl") return "must be http(s)://HOST:PORT of NATS monitoring";
  if (path === "advertiseHttp") return "must be http(s)://HOST[:PORT] or HOST:PORT";
  if (/^allowedOrigins\.\d+$/.test(path)) {
    return "must be an origin, http(s)://HOST[:PORT] without a path, or *";
  }
  if (/^auth\.tokens\.\d+\.sha256$/.test(path)) {
    return "must be the SHA-256 of the token as 64 hex digits (statebase hash-token)";
  }
  // A union reports one "must be equal to constant" per member; name the choices instead.
  if (path === "durability") return "must be sync, async or memory";
  if (/^auth\.tokens\.\d+\.role$/.test(path)) return "must be read, write or admin";
  return undefined;
}

/** Parses `HOST:PORT` (IPv6 in brackets); `off` turns the listener off. */
export function parseListenAddress(text: string): ListenAddress | undefined {
  if (text === "off") return undefined;
  const at = text.lastIndexOf(":");
  const host = text.slice(0, at).replace(/^\[(.*)\]$/, "$1");
  const port = Number(text.slice(at + 1));
  if (at <= 0 || host === "" || !Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new DbError("INVALID_ARGUMENT", `${text} is not HOST:PORT with a port up to 65535`, {
      value: text,
    });
  }
  return { host, port };
}

function completeConfig(document: ConfigDocument): ServerConfig {
  const limits = document.limits ?? {};
  return {
    data: document.data ?? configDefaults.data,
    durability: document.durability ?? configDefaults.durability,
    rcp: parseListenAddress(document.rcp ?? configDefaults.rcp),
    http: parseListenAddress(document.http ?? configDefaults.http),
    module: document.module,
    replicate: document.replicate,
    replicateStream: document.replicateStream,
    replicateNode: document.replicateNode,
    replicateReplicas: document.replicateReplicas,
    replicateMonitorUrl: document.replicateMonitorUrl,
    replicateLeaseTtlMs: document.replicateLeaseTtlMs,
    advertiseHttp: advertisedUrl(document.advertiseHttp, document.tls !== undefined),
    forwardWrites: document.forwardWrites ?? true,
    retention: document.retention ?? {},
    // Hashes are compared as lower-case hex (auth.ts); tools that print upper case are common.
    tokens: (document.auth?.tokens ?? []).map((t) => ({ ...t, sha256: t.sha256.toLowerCase() })),
    tls: document.tls,
    limits: {
      httpBodySizeBytesMax: limits.httpBodySizeBytesMax ?? httpBodySizeBytesMax,
      wsMessageSizeBytesMax: limits.wsMessageSizeBytesMax ?? wsMessageSizeBytesMax,
      wsBufferedSizeBytesMax: limits.wsBufferedSizeBytesMax ?? wsBufferedSizeBytesMax,
      wsConnectionsMax: limits.wsConnectionsMax ?? wsConnectionsMax,
      // A WebSocket holds its HTTP connection: the default leaves room for every one allowed.
      httpConnectionsMax:
        limits.httpConnectionsMax ??
        (limits.wsConnectionsMax ?? wsConnectionsMax) + httpConnectionsBesideWebSocketsMax,
      subscriptionPendingCommitsMax:
        limits.subscriptionPendingCommitsMax ?? subscriptionPendingCommitsMax,
      requestTimeoutMs: limits.requestTimeoutMs ?? requestTimeoutMsDefault,
      queryTimeoutMs: limits.queryTimeoutMs ?? queryTimeoutMsServerDefault,
      stallMsMax: limits.stallMsMax ?? serverStallMsDefault,
    },
    timerTickMs: document.timerTickMs ?? configDefaults.timerTickMs,
    heapSizeMbMax: document.heapSizeMbMax,
    allowedOrigins: document.allowedOrigins ?? [],
  };
}

/** An advertised address as a base URL without a trailing slash. */
function advertisedUrl(text: string | undefined, tls: boolean): string | undefined {
  if (text === undefined) return undefined;
  const url = /^https?:\/\//.test(text) ? text : `${tls ? "https" : "http"}://${text}`;
  return url.replace(/\/$/, "");
}
