/**
 * Goal: subscriptions deliver a snapshot then one delta per commit that changed the target,
 * in commit order; resume from a seq with no gap and no duplicate; end a slow subscriber as
 * `lagged` without holding writers back; follow views, queries, queues and machines.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { open } from "../../src/index.ts";
import type { Database, DbError, Subscription, SubscriptionMessage } from "../../src/index.ts";

async function take(subscription: Subscription, count: number): Promise<SubscriptionMessage[]> {
  const out: SubscriptionMessage[] = [];
  if (count === 0) return out;
  for await (const message of subscription) {
    out.push(message);
    if (out.length === count) break;
  }
  return out;
}

async function accounts(): Promise<Database> {
  const db = await open();
  db.createTable("default::accounts", {
    columns: { id: "int8", owner: "utf8", balance: "int8" },
    primaryKey: "id",
  });
  return db;
}

test("a table subscription: snapshot, then deltas in commit order, then end", async () => {
  const db = await accounts();
  const accountsTable = db.table("default::accounts");
  accountsTable.insert({ id: 1, owner: "ada", balance: 5 });
  const subscription = db.subscribe({ table: "accounts" });
  accountsTable.insert({ id: 2, owner: "bob", balance: 1 });
  db.createCounter("default::other").add(1); // a commit that does not touch the table
  db.transact(() => {
    accountsTable.update(1, { balance: 6 });
    accountsTable.del(2);
  });
  subscription.close();
  const messages = await take(subscription, 4);
  assert.deepEqual(messages, [
    { type: "snapshot", seq: 2, rows: [{ id: 1, owner: "ada", balance: 5 }] },
    {
      type: "delta",
      seq: 3,
      changes: [{ op: "insert", key: 2, row: { id: 2, owner: "bob", balance: 1 } }],
    },
    {
      type: "delta",
      seq: 6,
      changes: [
        {
          op: "update",
          key: 1,
          row: { id: 1, owner: "ada", balance: 6 },
          before: { id: 1, owner: "ada", balance: 5 },
        },
        { op: "remove", key: 2, before: { id: 2, owner: "bob", balance: 1 } },
      ],
    },
    { type: "end", seq: 6, reason: "closed" },
  ]);
  await db.close();
});

test("resuming from a seq this database never reached says why it cannot", async () => {
  const db = await accounts(); // a memory database: a restart of its server starts it empty
  assert.throws(
    () => db.subscribe({ table: "accounts" }, { fromSeq: db.seq + 40 }),
    (error: DbError) =>
      error.code === "INVALID_ARGUMENT" &&
      error.message.startsWith(`fromSeq ${db.seq + 40} is after this database's last commit`) &&
      error.message.endsWith("subscribe without fromSeq for a fresh snapshot"),
  );
  assert.throws(() => db.subscribe({ table: "accounts" }, { fromSeq: -1 }), /fromSeq must be/);
  await db.close();
});

test("resuming from a seq delivers exactly the commits after it", async () => {
  const db = await accounts();
  const table = db.table("default::accounts");
  for (let id = 1; id <= 5; id++) table.insert({ id, owner: "x", balance: id });
  const lastSeen = db.seq - 2;
  const subscription = db.subscribe({ table: "accounts" }, { fromSeq: lastSeen });
  table.insert({ id: 6, owner: "y", balance: 6 });
  const messages = await take(subscription, 3);
  assert.deepEqual(
    messages.map((m) => [m.type, m.seq]),
    [
      ["delta", lastSeen + 1],
      ["delta", lastSeen + 2],
      ["delta", lastSeen + 3],
    ],
  );
  assert.deepEqual(
    messages.flatMap((m) => (m.type === "delta" ? m.changes.map((c) => c.key) : [])),
    [4, 5, 6],
  );
  subscription.close();
  await db.close();
});

test("a subscriber that falls behind ends as lagged and writers never wait", async () => {
  const db = await accounts();
  const table = db.table("default::accounts");
  const subscription = db.subscribe({ table: "accounts" }, { pendingCommitsMax: 3 });
  for (let id = 1; id <= 10; id++) table.insert({ id, owner: "x", balance: id });
  const messages = await take(subscription, 5);
  assert.deepEqual(
    messages.map((m) => m.type),
    ["snapshot", "delta", "delta", "delta", "end"],
  );
  const end = messages[4]!;
  assert.equal(end.type === "end" && end.reason, "lagged");
  // Resuming from the end's seq continues with no gap.
  const resumed = db.subscribe({ table: "accounts" }, { fromSeq: end.seq });
  const next = await take(resumed, 1);
  assert.equal(next[0]?.seq, end.seq + 1);
  resumed.close();
  await db.close();
});

test("view, query and queue subscriptions", async () => {
  const db = await accounts();
  const table = db.table("default::accounts");
  table.insert({ id: 1, owner: "ada", balance: 5 });
  const query = "from accounts aggregate { total: math::sum(balance) } by { owner }";
  db.createView("default::totals", { query });
  const view = db.subscribe({ view: "totals" });
  const live = db.subscribe({
    query: "from accounts filter { balance > $min }",
    params: { min: 3 },
  });
  const jobs = db.createQueue("default::jobs");
  const queue = db.subscribe({ queue: "jobs" });
  table.insert({ id: 2, owner: "ada", balance: 2 });
  table.update(1, { balance: 1 });
  jobs.enqueue({ task: "t" });
  const [viewSnapshot, viewDelta] = await take(view, 2);
  assert.deepEqual(viewSnapshot, { type: "snapshot", seq: 3, rows: [{ owner: "ada", total: 5 }] });
  assert.equal(viewDelta?.type === "delta" && viewDelta.changes[0]?.row?.total, 7);
  const [querySnapshot, queryDelta] = await take(live, 2);
  assert.equal(querySnapshot?.type === "snapshot" && querySnapshot.rows.length, 1);
  assert.deepEqual(queryDelta?.type === "delta" && queryDelta.changes.map((c) => c.op), ["remove"]);
  const [queueSnapshot, queueDelta] = await take(queue, 2);
  assert.equal(queueSnapshot?.type === "snapshot" && queueSnapshot.rows.length, 0);
  assert.equal(queueDelta?.type === "delta" && queueDelta.changes[0]?.op, "insert");
  for (const subscription of [view, live, queue]) subscription.close();
  await db.close();
});

test("a machine subscription follows the machine's instance table", async () => {
  const db = await open();
  db.machines.put("order", 1, {
    states: ["created", "paid"],
    initial: "created",
    transitions: [{ from: "created", event: "PAY", to: "paid" }],
  });
  const subscription = db.subscribe({ machine: "order" });
  const { instance_id } = db.machines.createInstance({ machine: "order", version: 1 });
  db.machines.applyEvent({ instance_id, event: "PAY" });
  const [snapshot, created, paid] = await take(subscription, 3);
  assert.equal(snapshot?.type, "snapshot");
  assert.equal(created?.type === "delta" && created.changes[0]?.op, "insert");
  assert.equal(paid?.type === "delta" && paid.changes[0]?.row?.state, "paid");
  subscription.close();
  await db.close();
});

test("dropping the target (or a query's input) ends the subscription: UNKNOWN_OBJECT", async () => {
  // Its rows would otherwise stay on screen, and a table re-created under the same name
  // would add its rows to them.
  const db = await accounts();
  const table = db.table("default::accounts");
  table.insert({ id: 1, owner: "ada", balance: 5 });
  const direct = db.subscribe({ table: "accounts" });
  const live = db.subscribe({ query: "from accounts filter { balance > 1 }" });
  db.transact(() => {
    table.insert({ id: 2, owner: "bob", balance: 2 });
    db.drop("default::accounts");
  });
  const dropSeq = db.seq;
  db.createTable("default::accounts", { columns: { id: "int8" }, primaryKey: "id" });
  db.table("default::accounts").insert({ id: 9 });
  for (const subscription of [direct, live]) {
    const seen: string[] = [];
    await assert.rejects(
      (async () => {
        for await (const message of subscription) seen.push(`${message.type} ${message.seq}`);
      })(),
      (error: Error & { code?: string }) => {
        assert.equal(error.code, "UNKNOWN_OBJECT");
        assert.match(error.message, new RegExp(`default::accounts was dropped at seq ${dropSeq}`));
        return true;
      },
    );
    assert.deepEqual(seen, [`snapshot ${dropSeq - 1}`, `delta ${dropSeq}`]);
  }
  // A resume across the drop ends the same way.
  const resumed = db.subscribe({ table: "accounts" }, { fromSeq: dropSeq - 1 });
  await assert.rejects(take(resumed, 3), { code: "UNKNOWN_OBJECT" });
  await db.close();
});

test("a query subscription's params must be a record or a list, said as such", async () => {
  // A number or a string was taken as no params at all: "parameter $min is not bound".
  const db = await accounts();
  for (const params of [5, "x", true]) {
    const target = { query: "from accounts filter { balance > $min }", params };
    assert.throws(() => db.subscribe(target as never), {
      code: "INVALID_ARGUMENT",
      message: /params must be a record or a list/,
    });
  }
  await db.close();
});
