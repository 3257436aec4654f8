/**
 * Goal: review f131cc0 through replication: a follower applies a keyless table's changes
 * (rows replaced on update, deleted by RQL through identity on the writer) to rows it decoded
 * itself, and must hold the writer's rows by row id, with the index, commit by commit.
 * Method: in-process writer and follower against the nats-server at NATS_URL; a seeded mix of
 * inserts, updates, deletes by row id and by RQL, some in transactions that roll back.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { open } from "../../src/index.ts";
import type { Database } from "../../src/index.ts";
import { createPrng } from "../../src/lib/prng.ts";
import { deleteReplicatedLog, eventually, natsUrl, uniqueStream } from "../support/nats.ts";

interface Keyless {
  n: number;
  g: string;
}

const leaseTtlMs = 6000;
/** Past the last row id the workload gives (3 inserts a round, 40 rounds). */
const rowIdsRead = 130;

function rowsOf(db: Database): unknown {
  const l = db.table<Keyless>("r::l");
  return {
    byId: Array.from({ length: rowIdsRead }, (_, id) => l.get(id) ?? null),
    byN: l.range("by_n").map((row) => row.n),
  };
}

test("a follower holds keyless rows as the writer replaced and deleted them", async (t) => {
  const stream = uniqueStream("keyless_review");
  t.after(() => deleteReplicatedLog(stream));
  const replicate = { url: natsUrl, stream, leaseTtlMs };
  const writer = await open({ replicate: { ...replicate, node: "w" }, onMessage: () => {} });
  const follower = await open({
    replicate: { ...replicate, node: "f", role: "follower" },
    onMessage: () => {},
  });
  t.after(async () => {
    await follower.close();
    await writer.close();
  });
  await eventually(() => writer.replication?.role === "writer", "the writer holds its lease");
  writer.createNamespace("r");
  writer.createTable("r::l", {
    columns: { n: "int4", g: "utf8" },
    indexes: [{ name: "by_n", columns: ["n"], ordered: true }],
  });
  const prng = createPrng(7);
  for (let round = 0; round < 40; round++) {
    const l = writer.table<Keyless>("r::l");
    const live = Array.from({ length: rowIdsRead }, (_, id) => id).filter(
      (id) => l.get(id) !== undefined,
    );
    const fails = prng.int(5) === 0;
    try {
      writer.transact((tx) => {
        const table = tx.table<Keyless>("r::l");
        for (let i = 0; i < 3; i++) table.insert({ n: prng.int(3), g: "x" });
        if (live.length > 0) table.update(live[prng.int(live.length)]!, { n: prng.int(3) });
        tx.execute('update r::l { g: "y" } filter { n == $n }', { n: prng.int(3) });
        tx.execute('delete r::l filter { n == $n && g == "y" }', { n: prng.int(3) });
        if (fails) throw new Error("rolled back");
      });
    } catch (error) {
      assert.equal((error as Error).message, "rolled back");
    }
    await writer.durable();
    const expected = rowsOf(writer);
    await eventually(() => follower.seq === writer.seq, `the follower applies round ${round}`);
    assert.deepEqual(rowsOf(follower), expected, `round ${round}`);
  }
  assert.equal(follower.failure, undefined, follower.failure?.message);
  const rows = writer.table<Keyless>("r::l").scan();
  assert.ok(rows.length > 5 && rows.length < 100, `${rows.length} rows left`);
  assert.equal(writer.table<Keyless>("r::l").get(rowIdsRead), undefined);
});
