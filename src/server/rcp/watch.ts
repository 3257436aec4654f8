/**
 * @module Watch subscriptions (specs/rcp.md §1.10, decision 10). A subscription follows the
 * machine entries of commits (db.machines.entriesOf): applied events, and with
 * `include_lifecycle` instance creation and deletion. With `from_offset` it first replays
 * matching history after that offset, then continues live: commits that arrive during the
 * replay are held back and delivered after it, so nothing is missed or repeated.
 */
import { assert } from "../../lib/assert.ts";
import type { RcpStreamEvent } from "../../protocol/index.ts";
import type { Commit, Database, MachineLogEntry } from "../../types.ts";

/** Commits read from the log per step of a replay. */
const replayCommitsPerRead = 1000;

/** Which entries a subscription wants: AND across lists, OR within one, empty = all. */
export interface WatchFilter {
  instanceId?: string;
  machines: readonly string[];
  fromStates: readonly string[];
  toStates: readonly string[];
  events: readonly string[];
}

export interface WatchOptions {
  id: string;
  kind: "instance" | "all";
  filter: WatchFilter;
  includeCtx: boolean;
  includeLifecycle: boolean;
  /** Live commits held back during a replay before the subscription ends as lagged. */
  heldCommitsMax: number;
}

/** Where a subscription's events go (a session). */
export interface WatchSink {
  /**
   * Queues the events of commit `seq`, all or none (an end resumes before the commit, so a
   * part sent would be sent again); returns false when the subscription must end lagged.
   */
  sendEvents(seq: number, events: readonly RcpStreamEvent[]): boolean;
  /** Ends the subscription with `{type: "end"}` and forgets it. */
  endWatch(watch: Watch, reason: string): void;
  /** Resolves when the reader has taken what was written (replay goes at its pace). */
  writable(): Promise<void>;
}

export class Watch {
  private replaying = true;
  private held: Array<{ commit: Commit; entries: readonly MachineLogEntry[] }> = [];
  private ended = false;
  /** The last commit seq delivered: where a client resumes after an `end` message. */
  lastOffset: number;
  /** Commits at or before this seq are never delivered (a `from_offset` may lie ahead). */
  private readonly resumeAfter: number;

  constructor(
    readonly options: WatchOptions,
    private readonly sink: WatchSink,
    startOffset: number,
  ) {
    this.lastOffset = startOffset;
    this.resumeAfter = startOffset;
  }

  get id(): string {
    return this.options.id;
  }

  /** A live commit. Held back while history is still being replayed. */
  deliver(commit: Commit, entries: readonly MachineLogEntry[]): void {
    if (this.ended || commit.seq <= this.resumeAfter) return;
    if (this.replaying) {
      this.held.push({ commit, entries });
      if (this.held.length > this.options.heldCommitsMax) this.sink.endWatch(this, "lagged");
      return;
    }
    this.emit(commit.seq, entries);
  }

  /**
   * Replays commits `fromSeq..uptoSeq` (read from memory or the log), then goes live with
   * the commits held back meanwhile (all after `uptoSeq`, so none is delivered twice).
   */
  async replay(db: Database, fromSeq: number, uptoSeq: number): Promise<void> {
    let next = fromSeq;
    while (next <= uptoSeq && !this.ended) {
      const commits = await db.readCommits(
        next,
        Math.min(replayCommitsPerRead, uptoSeq - next + 1),
      );
      if (commits.length === 0) break;
      for (const commit of commits) {
        if (commit.seq > uptoSeq || this.ended) break;
        // History can be long: write it no faster than the reader takes it.
        await this.sink.writable();
        this.emit(commit.seq, db.machines.entriesOf(commit));
        next = commit.seq + 1;
      }
    }
    this.goLive();
  }

  /** No history wanted: go live at once. */
  goLive(): void {
    for (const { commit, entries } of this.held) {
      if (commit.seq <= this.resumeAfter) continue;
      assert(commit.seq > this.lastOffset || this.ended, "watch would deliver a commit twice");
      this.emit(commit.seq, entries);
    }
    this.held = [];
    this.replaying = false;
  }

  stop(): void {
    this.ended = true;
    this.held = [];
  }

  private emit(seq: number, entries: readonly MachineLogEntry[]): void {
    if (this.ended) return;
    const events: RcpStreamEvent[] = [];
    let deleted = false;
    const watched = this.options.filter.instanceId;
    for (const entry of entries) {
      const event = this.toEvent(seq, entry);
      if (event !== undefined) events.push(event);
      if (entry.type === "delete_instance" && entry.instance_id === watched) deleted = true;
    }
    if (events.length > 0 && !this.sink.sendEvents(seq, events)) {
      this.sink.endWatch(this, "lagged");
      return;
    }
    if (this.ended) return;
    this.lastOffset = seq;
    // The watched instance is gone; an id created again is a new instance, watched afresh.
    if (deleted) this.sink.endWatch(this, "deleted");
  }

  private toEvent(seq: number, entry: MachineLogEntry): RcpStreamEvent | undefined {
    const { filter, includeCtx } = this.options;
    if (entry.type === "put_machine") return undefined;
    if (entry.type !== "apply_event" && !this.options.includeLifecycle) return undefined;
    if (filter.instanceId !== undefined && entry.instance_id !== filter.instanceId)
      return undefined;
    const base = { type: "event", subscription_id: this.id, instance_id: entry.instance_id };
    const where = { machine: entry.machine, version: entry.version, wal_offset: seq };
    let event: RcpStreamEvent;
    if (entry.type === "apply_event") {
      const move = { from_state: entry.from_state, to_state: entry.to_state, event: entry.event };
      event = { ...base, ...where, ...move, payload: entry.payload ?? null } as RcpStreamEvent;
      if (includeCtx) event.ctx = entry.ctx;
    } else if (entry.type === "create_instance") {
      const move = { from_state: "", to_state: entry.initial_state, event: "" };
      event = { ...base, ...where, ...move, payload: null, lifecycle: "created" } as RcpStreamEvent;
      if (includeCtx) event.ctx = entry.initial_ctx;
    } else {
      const move = { from_state: "", to_state: "", event: "" };
      event = { ...base, ...where, ...move, payload: null, lifecycle: "deleted" } as RcpStreamEvent;
    }
    return matches(filter, event) ? event : undefined;
  }
}

/** rstmdb's EventFilter: exact string equality, AND across lists, OR within a list. */
function matches(filter: WatchFilter, event: RcpStreamEvent): boolean {
  const within = (list: readonly string[], value: string): boolean =>
    list.length === 0 || list.includes(value);
  return (
    within(filter.machines, event.machine) &&
    within(filter.fromStates, event.from_state) &&
    within(filter.toStates, event.to_state) &&
    within(filter.events, event.event)
  );
}
