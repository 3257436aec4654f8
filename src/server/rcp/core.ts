/**
 * @module What every connection of one RCP server shares: the database, the resolved
 * options and limits, the token table, the server's identity, and the live subscriptions,
 * fed by one commit listener. Machine entries are computed once per commit, and only while
 * some subscription exists.
 */
import { readFileSync } from "node:fs";
import type { TokenEntry } from "../auth.ts";
import type { Commit, Database } from "../../types.ts";
import { rcpLimitsDefault } from "./options.ts";
import type { RcpLimits, RcpServerOptions } from "./options.ts";
import type { Watch } from "./watch.ts";

/** Statebase's version, reported by HELLO and INFO (decision 15). */
export const serverVersion: string = readVersion();

function readVersion(): string {
  const url = new URL("../../../package.json", import.meta.url);
  const parsed = JSON.parse(readFileSync(url, "utf8")) as { version?: unknown };
  return typeof parsed.version === "string" ? parsed.version : "unknown";
}

export const serverName = "statebase";

/** rstmdb's feature names plus Statebase's extras; HELLO answers the intersection. */
export const serverFeatures: readonly string[] = [
  "idempotency",
  "batch",
  "wal_read",
  "watch_resume",
  "lifecycle_events",
  "migrate",
  "call",
];

export class RcpCore {
  readonly limits: RcpLimits;
  readonly tokens: readonly TokenEntry[];
  readonly authRequired: boolean;
  readonly readOnly: boolean;
  private readonly watches = new Set<Watch>();
  private readonly unlisten: () => void;

  constructor(
    readonly db: Database,
    readonly options: RcpServerOptions,
  ) {
    this.limits = { ...rcpLimitsDefault, ...options.limits };
    this.tokens = options.tokens ?? [];
    this.authRequired = this.tokens.length > 0;
    this.readOnly = options.readOnly === true;
    this.unlisten = db.addCommitListener((commit) => this.onCommit(commit));
  }

  addWatch(watch: Watch): void {
    this.watches.add(watch);
  }

  removeWatch(watch: Watch): void {
    this.watches.delete(watch);
    watch.stop();
  }

  get watchCount(): number {
    return this.watches.size;
  }

  close(): void {
    this.unlisten();
    for (const watch of this.watches) watch.stop();
    this.watches.clear();
  }

  private onCommit(commit: Commit): void {
    if (this.watches.size === 0) return;
    const entries = this.db.machines.entriesOf(commit);
    if (entries.length === 0) return;
    for (const watch of this.watches) watch.deliver(commit, entries);
  }
}
