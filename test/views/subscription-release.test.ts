/**
 * Goal: subscriptions let go of the database when they end, and many at once are not taken
 * for a leak.
 * Method: open subscriptions (read or not), close them, collect garbage and check through weak
 * references that none is still reachable; open eleven at once and listen for Node's warning
 * about listeners on the database's closing signal.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { open } from "../../src/index.ts";
import type { Database } from "../../src/index.ts";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

/** Opens a subscription, reads its snapshot when `read`, closes it: only a weak ref is left. */
async function subscribeAndClose(db: Database, read: boolean): Promise<WeakRef<object>> {
  const subscription = db.subscribe({ table: "p::a" });
  if (read) await subscription[Symbol.asyncIterator]().next();
  subscription.close();
  return new WeakRef(subscription);
}

// Each subscription listened for the database's close and never stopped: every one ever
// opened (its queue, an unread snapshot's rows) stayed reachable until db.close(), so a server
// whose WebSocket clients reconnect and resubscribe grew without bound.
test("closed subscriptions, read or not, are collected while the database stays open", async () => {
  const db = await open();
  db.createNamespace("p");
  const t = db.createTable("p::a", { columns: { id: "int8", y: "int8" }, primaryKey: "id" });
  t.insertMany(Array.from({ length: 100 }, (_, id) => ({ id, y: id })));
  const refs: Array<WeakRef<object>> = [];
  for (let i = 0; i < 20; i++) refs.push(await subscribeAndClose(db, i % 2 === 0));
  for (let i = 0; i < 5; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    gc();
  }
  const alive = refs.filter((ref) => ref.deref() !== undefined).length;
  await db.close();
  assert.equal(alive, 0, `${alive} of 20 closed subscriptions are still reachable`);
});

test("a subscription closed by its own signal is collected too", async () => {
  const db = await open();
  db.createNamespace("p");
  db.createTable("p::a", { columns: { id: "int8", y: "int8" }, primaryKey: "id" });
  const refs: Array<WeakRef<object>> = [];
  const controllers: AbortController[] = [];
  for (let i = 0; i < 10; i++) {
    const controller = new AbortController();
    controllers.push(controller);
    refs.push(new WeakRef(db.subscribe({ table: "p::a" }, { signal: controller.signal })));
    controller.abort();
  }
  for (let i = 0; i < 5; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    gc();
  }
  const alive = refs.filter((ref) => ref.deref() !== undefined).length;
  await db.close();
  assert.equal(controllers.length, 10); // the signals outlive the subscriptions
  assert.equal(alive, 0, `${alive} of 10 aborted subscriptions are still reachable`);
});

test("eleven live subscriptions print no MaxListenersExceededWarning", async () => {
  const warnings: string[] = [];
  const onWarning = (warning: Error): void => {
    warnings.push(`${warning.name}: ${warning.message}`);
  };
  process.on("warning", onWarning);
  const db = await open();
  db.createNamespace("p");
  db.createTable("p::a", { columns: { id: "int8", y: "int8" }, primaryKey: "id" });
  const subscriptions = Array.from({ length: 11 }, () => db.subscribe({ table: "p::a" }));
  for (const subscription of subscriptions) await subscription[Symbol.asyncIterator]().next();
  await new Promise((resolve) => setImmediate(resolve));
  for (const subscription of subscriptions) subscription.close();
  await db.close();
  process.off("warning", onWarning);
  assert.deepEqual(warnings, []);
});
