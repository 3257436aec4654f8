// Goal: the query deadline (src/rql/deadline.ts). A script past it fails with QUERY_TIMEOUT
// naming the limit, its value and where to change it, and leaves nothing behind; the open()
// default and a call's own timeoutMs decide it; procedures' scripts run under their call's;
// point queries never read the clock; a parse of a long script is counted too.
// Method: the embedded API with an injected clock that moves 1 ms at every read, so a script
// times out after a fixed amount of work whatever the machine's speed (no timing thresholds).
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { open } from "../../src/index.ts";
import type { Database, OpenOptions } from "../../src/index.ts";
import { deadlineCheckCostMax } from "../../src/rql/index.ts";
import { dbErrorOf, rejectsWithCode as rejects } from "../support/assertions.ts";

/** A clock that moves 1 ms at every read, and counts the reads. */
function steppingClock(): { now: () => number; reads: () => number } {
  let readCount = 0;
  const startMs = 1_700_000_000_000;
  return { now: () => startMs + ++readCount, reads: () => readCount };
}

const rowCount = 100;

async function setup(options: OpenOptions = {}): Promise<Database> {
  const db = await open(options);
  await db.admin(`create namespace b;
    create table b::t { id: int8, a: int8 } with { primary_key: { id } }`);
  const rows = Array.from({ length: rowCount }, (_, i) => `(${i}, ${i})`).join(", ");
  await db.command(`insert b::t [${rows}]`);
  return db;
}

/** A query of rowCount × 1,001 units of work: some 25 clock reads, so 25 ms of this clock. */
const slowQuery = `from b::t distinct { ${Array.from({ length: 1000 }, () => "a").join(", ")} }`;

describe("query deadline", () => {
  test("a script past the deadline fails with QUERY_TIMEOUT naming the limit", async () => {
    const db = await setup({ clock: steppingClock(), queryTimeoutMs: 5 });
    const error = await dbErrorOf(db.query(slowQuery));
    assert.equal(error.code, "QUERY_TIMEOUT");
    assert.equal(error.category, "LimitExceeded");
    assert.match(error.message, /deadline of 5 ms \(queryTimeoutMs\)/);
    assert.match(
      error.message,
      /open\(\{ queryTimeoutMs \}\).*\{ timeoutMs \}.*limits\.queryTimeoutMs/,
    );
    assert.equal(error.details.limitMs, 5);
    // The same query with room enough answers.
    const answer = await db.query(slowQuery, undefined, { timeoutMs: 1000 });
    assert.equal(answer.frames[0]!.length, rowCount);
    await db.close();
  });

  test("a mutating script past its deadline leaves nothing behind", async () => {
    const db = await setup({ clock: steppingClock(), queryTimeoutMs: 5 });
    const seq = db.seq;
    const before = await db.query("from b::t");
    const script = `update b::t { a: a + 1 } filter { true };
      insert b::t [(1000, 1)];
      delete b::t filter { id < 10 };
      ${slowQuery}`;
    await rejects(db.command(script), "QUERY_TIMEOUT");
    assert.equal(db.seq, seq, "no commit");
    assert.deepEqual(await db.query("from b::t"), before);
    await db.close();
  });

  test("a call's timeoutMs overrides the database's default, 0 lifting it", async () => {
    const none = await setup({ clock: steppingClock() });
    assert.equal((await none.query(slowQuery)).frames[0]!.length, rowCount, "no default");
    await rejects(none.query(slowQuery, undefined, { timeoutMs: 5 }), "QUERY_TIMEOUT");
    await none.close();
    const tight = await setup({ clock: steppingClock(), queryTimeoutMs: 5 });
    const lifted = await tight.query(slowQuery, undefined, { timeoutMs: 0 });
    assert.equal(lifted.frames[0]!.length, rowCount);
    await rejects(tight.query(slowQuery, undefined, { timeoutMs: 6 }), "QUERY_TIMEOUT", /6 ms/);
    await tight.close();
  });

  test("point queries and small scripts never read the clock", async () => {
    const readsOf = async (options: OpenOptions): Promise<number> => {
      const clock = steppingClock();
      const db = await setup({ clock, ...options });
      const reads = clock.reads();
      for (let id = 0; id < 50; id++) {
        const answer = await db.query("from b::t filter { id == $id } map { a }", { id });
        assert.deepEqual(answer.frames, [[{ a: id }]]);
      }
      await db.close();
      return clock.reads() - reads;
    };
    // Transactions read the clock for their time; the deadline adds no read.
    assert.equal(await readsOf({ queryTimeoutMs: 1 }), await readsOf({}));
  });

  test("procedures run under their call's deadline and are undone", async () => {
    const db = await setup({ clock: steppingClock() });
    await db.admin(`create procedure b::slow {} as {
      insert b::t [(2000, 1)];
      ${slowQuery}
    }`);
    db.defineProcedure("b::wrapper", {
      params: {},
      run: (tx) => {
        tx.table("b::t").insert({ id: 3000, a: 1 });
        return tx.execute(slowQuery, undefined, "query");
      },
    });
    const seq = db.seq;
    await rejects(db.call("b::slow", {}, { timeoutMs: 5 }), "QUERY_TIMEOUT");
    await rejects(db.call("b::wrapper", {}, { timeoutMs: 5 }), "QUERY_TIMEOUT");
    await rejects(db.command("call b::slow()", undefined, { timeoutMs: 5 }), "QUERY_TIMEOUT");
    assert.equal(db.seq, seq);
    assert.deepEqual((await db.query("from b::t filter { id >= 2000 }")).frames, [[]]);
    // Without a deadline the same calls run to the end.
    const answer = (await db.call("b::wrapper", {})) as { frames: unknown[][] };
    assert.equal(answer.frames[0]!.length, rowCount);
    await db.close();
  });

  test("a long script's parse and compile count against the deadline", async () => {
    const db = await setup({ clock: steppingClock(), queryTimeoutMs: 5 });
    // 50,000 steps: far more units than the 5 clock reads the limit allows.
    assert.ok(50_000 > 8 * deadlineCheckCostMax);
    await rejects(db.query(`from b::t ${"take 1 ".repeat(50_000)}`), "QUERY_TIMEOUT");
    await rejects(db.query(`from b::t ${"map { a } ".repeat(50_000)}`), "QUERY_TIMEOUT");
    await db.close();
  });

  test("tokenizing and parsing one long expression stop at the deadline", async () => {
    const db = await setup({ clock: steppingClock(), queryTimeoutMs: 5 });
    // A character no token starts with at the very end: a tokenizer that ran to the end
    // before the deadline was checked would answer RQL_PARSE, not QUERY_TIMEOUT.
    const items = Array.from({ length: 50_000 }, (_, i) => String(i)).join(", ");
    await rejects(db.query(`from b::t filter { a in [${items}] } §`), "QUERY_TIMEOUT");
    // One expression of 100,000 tokens: its parse ticks per token (no lexical error here).
    await rejects(db.query(`from b::t filter { a in [${items}] }`), "QUERY_TIMEOUT");
    // With no deadline, the same text reaches the character and is refused for it.
    await rejects(
      db.query(`from b::t filter { a in [${items}] } §`, undefined, { timeoutMs: 0 }),
      "RQL_PARSE",
    );
    await db.close();
  });

  test("limits out of range are refused, naming the option", async () => {
    await rejects(open({ queryTimeoutMs: -1 }), "INVALID_ARGUMENT", /queryTimeoutMs/);
    await rejects(open({ queryTimeoutMs: 1.5 }), "INVALID_ARGUMENT", /queryTimeoutMs/);
    await rejects(open({ queryTimeoutMs: 1e12 }), "LIMIT_EXCEEDED", /queryTimeoutMs/);
    const db = await setup();
    await rejects(db.query("from b::t", undefined, { timeoutMs: -5 }), "INVALID_ARGUMENT");
    const typo = { timeout: 5 } as unknown as { timeoutMs: number };
    await rejects(db.query("from b::t", undefined, typo), "INVALID_ARGUMENT", /timeout/);
    await rejects(db.call("b::none", {}, { timeoutMs: Infinity }), "INVALID_ARGUMENT");
    await db.close();
  });
});
