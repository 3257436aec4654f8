// Goal: a datetime stored from text or Unix ms is the same instant on every machine: text
// without an offset is UTC (as the date functions read it), not the server's local time;
// impossible calendar days and times are refused rather than rolled over; text that is not
// ISO 8601 is refused; and ms beyond the datetime range are OUT_OF_RANGE instead of a value
// that reads back as none.
// Method: this process runs in a zone west of UTC (process.env.TZ is set before any Date is
// made; Node reads it afresh), then values go in through RQL parameters and back out.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { DbError, open } from "../../src/index.ts";
import type { Database } from "../../src/index.ts";

process.env.TZ = "America/New_York";

async function setup(): Promise<Database> {
  const db = await open();
  await db.admin(`create namespace s;
    create table s::t { id: int8, at: datetime } with { primary_key: { id } }`);
  return db;
}

async function stored(db: Database, at: unknown): Promise<string> {
  await db.command("delete s::t filter { true }; insert s::t [{ id: 1, at: $at }]", { at });
  const { frames } = await db.query("from s::t map { at }");
  return (frames[0]![0]!.at as Date).toISOString();
}

async function refused(db: Database, at: unknown): Promise<DbError> {
  try {
    await db.command("insert s::t [{ id: 2, at: $at }]", { at });
  } catch (caught) {
    assert.ok(caught instanceof DbError, String(caught));
    assert.equal(caught.details.column, "at", caught.message);
    return caught;
  }
  assert.fail(`expected ${JSON.stringify(at)} to be refused`);
}

describe("datetime from text and ms", () => {
  test("the zone of the process is local time west of UTC", () => {
    assert.equal(new Date(2024, 0, 2).getTimezoneOffset(), 300);
  });

  test("text without an offset is UTC, as a date is", async () => {
    const db = await setup();
    assert.equal(await stored(db, "2024-01-02T03:04:05"), "2024-01-02T03:04:05.000Z");
    assert.equal(await stored(db, "2024-01-02 03:04"), "2024-01-02T03:04:00.000Z");
    assert.equal(await stored(db, "2024-01-02"), "2024-01-02T00:00:00.000Z");
  });

  test("offsets and fractions are read as written", async () => {
    const db = await setup();
    assert.equal(await stored(db, "2024-01-02T03:04:05+02:00"), "2024-01-02T01:04:05.000Z");
    assert.equal(await stored(db, "2024-01-02T03:04:05.5-0130"), "2024-01-02T04:34:05.500Z");
    assert.equal(await stored(db, "2024-01-02T03:04:05.123456789Z"), "2024-01-02T03:04:05.123Z");
    assert.equal(await stored(db, "2024-02-29T23:59:59z"), "2024-02-29T23:59:59.000Z");
  });

  test("impossible days and times are refused, not rolled over", async () => {
    const db = await setup();
    for (const text of [
      "2024-02-30T00:00:00Z",
      "2023-02-29",
      "2024-04-31T10:00:00Z",
      "2024-01-01T24:00:00Z",
      "2024-01-01T23:60:00Z",
      "2024-01-01T00:00:00+24:00",
    ]) {
      const caught = await refused(db, text);
      assert.equal(caught.code, "TYPE_MISMATCH", text);
    }
  });

  test("text that is not ISO 8601 is refused", async () => {
    const db = await setup();
    for (const text of ["2024-01-01 10:00 PM", "2024-01-01 Z", "2024-01-01T10", "2024-01-01x"]) {
      const caught = await refused(db, text);
      assert.equal(caught.code, "TYPE_MISMATCH", text);
    }
  });

  test("Unix ms beyond the datetime range are OUT_OF_RANGE", async () => {
    const db = await setup();
    assert.equal(await stored(db, 8.64e15), "+275760-09-13T00:00:00.000Z");
    const caught = await refused(db, 1e20);
    assert.equal(caught.code, "OUT_OF_RANGE", caught.message);
  });
});

describe("time of day", () => {
  test("one time has one spelling: trailing fraction zeros go", async () => {
    const db = await open();
    await db.admin(`create namespace s;
      create table s::slots { at: time, n: int8 } with { primary_key: { at } }`);
    await db.command('insert s::slots [{ at: "12:00:00.50", n: 1 }, { at: "08:30:00.000", n: 2 }]');
    const { frames } = await db.query("from s::slots map { at }");
    assert.deepEqual(frames, [[{ at: "08:30:00" }, { at: "12:00:00.5" }]]);
    for (const at of ["12:00:00.5", "12:00:00.500000000"]) {
      try {
        await db.command("insert s::slots [{ at: $at, n: 3 }]", { at });
        assert.fail(`${at} is the same time as 12:00:00.50`);
      } catch (caught) {
        assert.ok(caught instanceof DbError, String(caught));
        assert.equal(caught.code, "CONSTRAINT_VIOLATION", caught.message);
      }
    }
    const found = await db.query("from s::slots filter { at == $at } map { n }", {
      at: "12:00:00.500",
    });
    assert.deepEqual(found.frames, [[{ n: 1 }]]);
  });

  test("text compared with a time (or uuid) is read in its one spelling", async () => {
    const db = await open();
    await db.admin(`create namespace s;
      create table s::slots { id: int8, at: time, u: uuid4 } with { primary_key: { id } }`);
    const u = "0b6f8f8e-4c1a-4a8e-9d2b-3c4d5e6f7a8b";
    await db.command(`insert s::slots [{ id: 1, at: "12:00:00.50", u: "${u}" }]`);
    const ids = async (filter: string): Promise<unknown> =>
      (await db.query(`from s::slots filter { ${filter} } map { id }`)).frames;
    // Stored as 12:00:00.5, the literal as written found nothing.
    assert.deepEqual(await ids('at == "12:00:00.50"'), [[{ id: 1 }]]);
    assert.deepEqual(await ids('"12:00:00.500" == at'), [[{ id: 1 }]]);
    assert.deepEqual(await ids('at != "12:00:00.50"'), [[]]);
    assert.deepEqual(await ids('at in ["08:00:00", "12:00:00.50"]'), [[{ id: 1 }]]);
    assert.deepEqual(await ids('not (at in ["12:00:00.500"])'), [[]]);
    assert.deepEqual(await ids(`u == "${u.toUpperCase()}"`), [[{ id: 1 }]]);
    // Text that is no time is refused, as for an ordered comparison or a parameter.
    await assert.rejects(ids('at == "noon"'), (error: unknown) => {
      assert.ok(error instanceof DbError, String(error));
      assert.equal(error.code, "TYPE_MISMATCH", error.message);
      return true;
    });
  });
});
