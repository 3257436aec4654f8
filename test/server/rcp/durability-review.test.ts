// Goal: in `sync` durability no RCP answer tells a client of a commit before that commit is
// on disk (DESIGN.md "confirmed output"), whatever the answer is: a write's result, a read,
// or an error that names the state a commit made (STATE_CONFLICT's actual state, an invalid
// transition from it); and a pipelined run is answered in request order, its errors in their
// place (an error ready at once must not overtake a write waiting for its fsync).
// Method: an in-process server over a sync database. A listener on every commit notes, via
// db.durable, the highest seq known durable; the test's own data listener on each socket
// runs after the client has parsed the chunk and checks each new answer against it. Thirty
// rounds: one connection pipelines writes, failing writes and reads in one TCP write; a
// second one then reads the same instance and a third, with nothing else waiting, sends an
// event that conflicts with the pipeline's last write. Every answer must arrive only once
// the commits it reveals are durable (fails if errors or reads are answered at once, as on
// a connection with nothing pending: tried in a worktree).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startTestRcp } from "../../support/rcp-server.ts";
import type { TestRcp } from "../../support/rcp-server.ts";
import { requestFrame } from "../../support/rcp-wire.ts";
import type { Message, WireClient } from "../../support/rcp-wire.ts";

let rcp: TestRcp;
/** The highest seq db.durable has said is on disk. */
let durable = 0;

before(async () => {
  rcp = await startTestRcp({ durability: "sync" });
  rcp.db.addCommitListener((commit) => {
    void rcp.db.durable(commit.seq).then(() => {
      durable = Math.max(durable, commit.seq);
    });
  });
});

after(async () => {
  await rcp.stop();
});

/** Each answer with the durable seq when it arrived. */
interface Arrival {
  readonly message: Message;
  readonly durableThen: number;
}

/** Notes `durable` for every message `client` parses, as it parses it. */
function watchArrivals(client: WireClient): Arrival[] {
  const arrivals: Arrival[] = [];
  // Added after the client's own listener: runs once the chunk's messages are parsed.
  client.socket.on("data", () => {
    for (let i = arrivals.length; i < client.messages.length; i++) {
      arrivals.push({ message: client.messages[i]!, durableThen: durable });
    }
  });
  return arrivals;
}

const flip = {
  states: ["a", "b"],
  initial: "a",
  transitions: [
    { from: "a", event: "T", to: "b" },
    { from: "b", event: "U", to: "a" },
  ],
};

test("no answer, error or read reveals a commit before it is durable", async () => {
  const writer = await rcp.connect();
  const reader = await rcp.connect();
  const written = watchArrivals(writer);
  const read = watchArrivals(reader);
  const prober = await rcp.connect();
  const probed = watchArrivals(prober);
  await writer.ok("PUT_MACHINE", { machine: "flip", version: 1, definition: flip });
  for (let round = 0; round < 30; round++) {
    const id = `i${round}`;
    await writer.ok("CREATE_INSTANCE", { machine: "flip", version: 1, instance_id: id });
    const from = written.length;
    const requests: Array<[string, string, unknown]> = [
      [`${id}-t`, "APPLY_EVENT", { instance_id: id, event: "T" }],
      // Now in b: a conflict naming b, an event b has no transition for, a read of b.
      [`${id}-c`, "APPLY_EVENT", { instance_id: id, event: "U", expected_state: "a" }],
      [`${id}-x`, "APPLY_EVENT", { instance_id: id, event: "T" }],
      [`${id}-g`, "GET_INSTANCE", { instance_id: id }],
      [`${id}-u`, "APPLY_EVENT", { instance_id: id, event: "U" }],
      [`${id}-g2`, "GET_INSTANCE", { instance_id: id }],
      [`${id}-t2`, "APPLY_EVENT", { instance_id: id, event: "T" }],
    ];
    writer.sendRaw(
      Buffer.concat(requests.map(([rid, op, params]) => requestFrame(rid, op, params))),
    );
    // The other connection reads in the same turn, while the writes wait for their fsync.
    await new Promise((resolve) => setImmediate(resolve));
    const readId = reader.send("GET_INSTANCE", { instance_id: id });
    // An error on a connection with nothing else waiting, naming the state t2 made.
    const probeId = prober.send("APPLY_EVENT", {
      instance_id: id,
      event: "U",
      expected_state: "a",
    });
    await writer.waitFor((m) => m.id === `${id}-t2`);
    await reader.waitFor((m) => m.id === readId);
    await prober.waitFor((m) => m.id === probeId);

    const answers = written.slice(from);
    assert.deepEqual(
      answers.map((a) => a.message.id as string),
      requests.map(([rid]) => rid),
      `round ${round}: answers in request order`,
    );
    const [t, conflict, invalid, get, u, get2, t2] = answers;
    const tSeq = t!.message.result.wal_offset as number;
    const uSeq = u!.message.result.wal_offset as number;
    const t2Seq = t2!.message.result.wal_offset as number;
    assert.equal(conflict!.message.error.code, "CONFLICT");
    assert.equal(invalid!.message.error.code, "INVALID_TRANSITION");
    assert.equal(get!.message.result.state, "b");
    assert.equal(get2!.message.result.state, "a");
    for (const [answer, seq] of [
      [t, tSeq],
      [conflict, tSeq],
      [invalid, tSeq],
      [get, tSeq],
      [u, uSeq],
      [get2, uSeq],
      [t2, t2Seq],
    ] as const) {
      const what = `round ${round}: ${answer!.message.id as string} (needs ${seq})`;
      assert.ok(answer!.durableThen >= seq, `${what} arrived at durable ${answer!.durableThen}`);
    }
    const readAnswer = read.find((a) => a.message.id === readId)!;
    const revealed = readAnswer.message.result.last_wal_offset as number;
    assert.equal(revealed, t2Seq, `round ${round}: the read ran after the pipeline`);
    assert.ok(
      readAnswer.durableThen >= revealed,
      `round ${round}: a read of ${revealed} came at ${readAnswer.durableThen}`,
    );
    const probe = probed.find((a) => a.message.id === probeId)!;
    assert.equal(probe.message.error.code, "CONFLICT");
    assert.ok(
      probe.durableThen >= t2Seq,
      `round ${round}: a conflict naming ${t2Seq}'s state came at ${probe.durableThen}`,
    );
  }
});
