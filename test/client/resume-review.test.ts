// Goal: the client's subscriptions over a real database survive connections cut at random
// moments (mid-delta, mid-resubscribe, several in a row) with one gap-free stream each: one
// snapshot, then exactly one delta for every commit that touched the target, in seq order,
// whose changes applied to the snapshot give the target's rows; an update or removal names
// the row the key had.
// Method: the real HTTP/WebSocket listeners over a real in-memory database, reached through
// a TCP proxy that drops every connection at seeded random points while a writer commits
// random inserts, updates and deletes (every commit touches the table; some leave the view
// as it was, so its stream skips them). A table subscription and a view subscription (an
// aggregate by group) are followed; the commits' own seqs (a commit listener) are the
// reference. Fails if a resume skips or repeats a seq (tried in a worktree).
import { test } from "node:test";
import assert from "node:assert/strict";
import { isDeepStrictEqual } from "node:util";
import { open } from "../../src/index.ts";
import type { Database } from "../../src/index.ts";
import { connect } from "../../src/client/index.ts";
import type { SubscriptionMessage } from "../../src/client/index.ts";
import { createPrng } from "../../src/lib/prng.ts";
import { serveDatabase } from "../server/harness.ts";
import type { ServedDatabase } from "../server/harness.ts";
import { startTcpProxy } from "../support/tcp-proxy.ts";

function serve(db: Database): Promise<ServedDatabase> {
  return serveDatabase(db, { fault: (error) => assert.fail(String(error)) });
}

type Row = Record<string, unknown>;

/** A followed subscription: its messages checked as they come, and its rows by key. */
class Follower {
  readonly rows = new Map<unknown, Row>();
  readonly deltaSeqs: number[] = [];
  snapshots = 0;
  snapshotSeq = -1;
  readonly problems: string[] = [];

  constructor(private readonly keyOf: (row: Row) => unknown) {}

  take(message: SubscriptionMessage): void {
    if (message.type === "snapshot") {
      this.snapshots++;
      this.snapshotSeq = message.seq;
      this.rows.clear();
      for (const row of message.rows) this.rows.set(this.keyOf(row), row);
      return;
    }
    if (message.type === "end") {
      this.problems.push(`end ${message.reason} at ${message.seq}`);
      return;
    }
    const last = this.deltaSeqs.at(-1) ?? this.snapshotSeq;
    if (message.seq <= last) this.problems.push(`delta ${message.seq} after ${last}`);
    this.deltaSeqs.push(message.seq);
    for (const change of message.changes) {
      const current = this.rows.get(change.key);
      if (change.op === "insert" && current !== undefined) {
        this.problems.push(`insert over a row: ${message.seq} ${String(change.key)}`);
      }
      if (change.op !== "insert" && !isDeepStrictEqual(change.before ?? current, current)) {
        this.problems.push(`before is not the key's row: ${message.seq} ${String(change.key)}`);
      }
      if (change.op === "remove") this.rows.delete(change.key);
      else this.rows.set(change.key, change.row!);
    }
  }
}

const sortedRows = (rows: Iterable<Row>): string[] =>
  [...rows].map((row) => JSON.stringify(row)).sort();

test("subscriptions through random dropped connections: one gap-free stream each", async () => {
  const db = await open({ durability: "memory" });
  await db.admin(
    "create namespace s; " +
      "create table s::t { id: int4, g: utf8, v: int4 } with { primary_key: { id } }",
  );
  db.createView("s::v", {
    query: "from s::t aggregate { n: math::count(id), total: math::sum(v) } by { g }",
  });
  const touched = { table: [] as number[], view: [] as number[] };
  db.addCommitListener((commit) => {
    if (commit.changes.some((c) => c.object === "s::t")) touched.table.push(commit.seq);
    if (commit.changes.some((c) => c.object === "s::v")) touched.view.push(commit.seq);
  });
  const prng = createPrng(Number(process.env.RESUME_REVIEW_SEED ?? 20261129));
  const t = db.table<{ id: number; g: string; v: number }>("s::t");
  for (let id = 0; id < 20; id++) t.insert({ id, g: `g${id % 4}`, v: id });
  const server = await serve(db);
  const proxy = await startTcpProxy(server.port);
  const client = await connect(`http://127.0.0.1:${proxy.port}`, {
    transport: "websocket",
    reconnectDelayMs: 5,
    reconnectDelayMaxMs: 20,
  });
  const table = new Follower((row) => row["id"]);
  const view = new Follower((row) => row["g"]);
  const subscriptions = [
    client.subscribe({ table: "s::t" }, { onMessage: (m) => table.take(m) }),
    client.subscribe({ view: "s::v" }, { onMessage: (m) => view.take(m) }),
  ];
  try {
    let drops = 0;
    for (let round = 0; round < 400; round++) {
      const id = prng.int(30);
      const choice = prng.int(4);
      // Some writes change v by 0 or move nothing the view shows: commits the view skips.
      if (choice === 0) t.del(id);
      else if (choice === 1 && t.has(id)) t.update(id, { v: t.get(id)!.v });
      else t.set({ id, g: `g${prng.int(4)}`, v: prng.int(10) });
      if (prng.int(40) === 0) {
        proxy.dropConnections();
        drops++;
      }
      if (prng.int(3) === 0) await new Promise((resolve) => setImmediate(resolve));
      if (prng.int(25) === 0) await new Promise((resolve) => setTimeout(resolve, 1 + prng.int(8)));
    }
    assert.ok(drops >= 5, `only ${drops} drops`);
    const want = (follower: Follower, rows: () => Row[]): boolean =>
      isDeepStrictEqual(sortedRows(follower.rows.values()), sortedRows(rows()));
    for (let i = 0; i < 500; i++) {
      if (want(table, () => t.scan()) && want(view, () => db.view("s::v").scan())) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    for (const [name, follower, seqs, rows] of [
      ["table", table, touched.table, t.scan()],
      ["view", view, touched.view, db.view("s::v").scan()],
    ] as const) {
      assert.deepEqual(follower.problems, [], name);
      assert.equal(follower.snapshots, 1, `${name}: one snapshot, then resumes`);
      assert.deepEqual(
        follower.deltaSeqs,
        seqs.filter((seq) => seq > follower.snapshotSeq),
        `${name}: one delta per commit that touched it`,
      );
      assert.deepEqual(sortedRows(follower.rows.values()), sortedRows(rows), `${name}: rows`);
    }
  } finally {
    for (const subscription of subscriptions) subscription.close();
    await client.close();
    await proxy.close();
    await server.close();
    await db.close();
  }
});
