/**
 * Goal: a client resuming a subscription on a replicated follower that has not yet applied
 * the client's `fromSeq` (it saw that seq on another node) is served once the follower
 * catches up, not refused for good; a node that is no follower still refuses at once.
 * Method: the real listeners over a real in-memory database whose replication status says
 * `follower` (commits made by the test stand in for the ones it applies from the stream).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { open } from "../../../src/index.ts";
import type { Database } from "../../../src/index.ts";
import { Client, StatebaseError } from "../../../src/client/index.ts";
import { serveDatabase, testServerLimits } from "../harness.ts";
import type { ServedDatabase } from "../harness.ts";

const limits = testServerLimits;

function serve(db: Database, requestTimeoutMs = limits.requestTimeoutMs): Promise<ServedDatabase> {
  return serveDatabase(db, {
    limits: { requestTimeoutMs },
    fault: (error) => assert.fail(String(error)),
  });
}

async function withDatabase(role: string | undefined, use: (db: Database) => Promise<void>) {
  const db = await open({ durability: "memory" });
  if (role !== undefined) {
    Object.defineProperty(db, "replication", { get: () => ({ role, appliedSeq: db.seq }) });
  }
  try {
    await db.admin(
      "create namespace s; create table s::t { id: int4 } with { primary_key: { id } }",
    );
    await db.command("insert s::t [{ id: 1 }]");
    await use(db);
  } finally {
    await db.close();
  }
}

test("a follower behind a resume's fromSeq serves it once it has applied that seq", async () => {
  await withDatabase("follower", async (db) => {
    const server = await serve(db);
    const client = new Client(server.url, {});
    try {
      await client.start();
      const seen = db.seq + 1; // the client saw this commit on a node further ahead
      const messages = client.subscribe({ table: "s::t" }, { fromSeq: seen });
      const iterator = messages[Symbol.asyncIterator]();
      // Answered after the subscribe on the same socket: the server has read it by now.
      await client.query("from [{ a: 1 }]");
      await db.command("insert s::t [{ id: 2 }]");
      await db.command("insert s::t [{ id: 3 }]");
      const next = (await iterator.next()).value;
      assert.equal(next?.type, "delta");
      assert.equal(next?.seq, seen + 1);
      messages.close();
    } finally {
      await client.close();
      await server.close();
    }
  });
});

test("a node that is no follower refuses a fromSeq after its last commit at once", async () => {
  await withDatabase(undefined, async (db) => {
    const server = await serve(db);
    const client = new Client(server.url, {});
    try {
      await client.start();
      const messages = client.subscribe({ table: "s::t" }, { fromSeq: db.seq + 1 });
      await assert.rejects(messages[Symbol.asyncIterator]().next(), (error: unknown) => {
        assert.ok(error instanceof StatebaseError, String(error));
        assert.equal(error.code, "INVALID_ARGUMENT");
        return true;
      });
    } finally {
      await client.close();
      await server.close();
    }
  });
});

test("a follower that does not reach the fromSeq within the request timeout refuses", async () => {
  await withDatabase("follower", async (db) => {
    const server = await serve(db, 1);
    const client = new Client(server.url, {});
    try {
      await client.start();
      const messages = client.subscribe({ table: "s::t" }, { fromSeq: db.seq + 1 });
      await assert.rejects(messages[Symbol.asyncIterator]().next(), {
        code: "INVALID_ARGUMENT",
      });
    } finally {
      await client.close();
      await server.close();
    }
  });
});
