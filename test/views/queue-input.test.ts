/**
 * Goal: a view over a queue reads the rows `from q` gives (the body's columns, or `id` and
 * `body`, then state, attempts, available_at, enqueued_at), not the stored message objects, and
 * follows every enqueue, claim, nack and ack, including a change to a message field only
 * (`available_at`) that the view alone reads.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createManualClock, open } from "../../src/index.ts";
import { assertViewMatches } from "./support.ts";

test("a view over a queue with columns reads its body columns and message fields", async () => {
  const clock = createManualClock();
  const db = await open({ clock });
  await db.admin("create namespace app; create queue app::q { id: int8, job: utf8, n: int8 }");
  const views = {
    "app::by_state": "from app::q aggregate { n: math::count(id), w: math::sum(n) } by { state }",
    "app::shown": "from app::q filter { n > 1 } map { id, job, r: 10 / n, state, attempts }",
    "app::due": "from app::q map { id, due: available_at }",
  };
  for (const [name, query] of Object.entries(views)) db.createView(name, { query });
  await db.admin(
    "create transactional view app::jobs { id: int8, job: utf8 } as " +
      "{ from app::q map { id, job } }",
  );
  const check = (when: string): void => {
    for (const [name, query] of Object.entries(views)) assertViewMatches(db, name, query, when);
    assertViewMatches(db, "app::jobs", "from app::q map { id, job }", when);
  };
  await db.command('insert app::q [{ id: 1, job: "a", n: 2 }, { id: 2, job: "b", n: 5 }]');
  check("after enqueue");
  assert.deepEqual(db.view("app::shown").get(1), {
    id: 1,
    job: "a",
    r: 5,
    state: "ready",
    attempts: 0,
  });
  const before = db.view("app::due").get(2)?.due;
  clock.advance(5);
  await db.command("queue app::q claim 2");
  check("after claim");
  assert.notEqual(db.view("app::due").get(2)?.due, before, "a claim moves available_at");
  await db.command("queue app::q nack 1");
  await db.command("queue app::q ack 2");
  check("after nack and ack");
  await db.close();
});

test("a view over a queue without columns reads id and body", async () => {
  const db = await open();
  const jobs = db.createQueue("default::jobs");
  const query = 'from jobs filter { body.task == "x" } map { id, task: body.task, state }';
  db.createView("default::xs", { query });
  jobs.enqueue({ task: "x" });
  jobs.enqueue({ task: "y" });
  jobs.claim(1);
  assertViewMatches(db, "default::xs", query);
  assert.deepEqual(
    db
      .view("default::xs")
      .scan()
      .map((row) => [row.task, row.state]),
    [["x", "claimed"]],
  );
  await db.close();
});
