// Goal: procedures run as one transaction with checked, typed arguments. TypeScript ones are
// registered with defineProcedure; RQL ones are created with `create procedure` and survive a
// restart (from the log and from a snapshot). Every call records its origin; a throw rolls
// the whole call back; `call` in a script runs inside the script's transaction.
// Method: black box through the embedded API; restarts reopen a temporary data directory.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { open } from "../../src/index.ts";
import type { Database } from "../../src/index.ts";
import { dbErrorOf, rejectsWithCode as rejects, throwsDb } from "../support/assertions.ts";

async function setup(): Promise<Database> {
  const db = await open();
  await db.admin(`create namespace shop;
    create table shop::orders { id: int8, status: utf8, total: float8 }
      with { primary_key: { id } }`);
  await db.command('insert shop::orders [(1, "open", 10.0), (2, "open", 20.0)]');
  return db;
}

describe("TypeScript procedures", () => {
  test("arguments are coerced to the declared types, by name or by position", async () => {
    const db = await setup();
    const seen: unknown[] = [];
    db.defineProcedure("shop::pay", {
      params: { id: "int8", note: "Option(utf8)" },
      run: (tx, args) => {
        seen.push(args);
        return tx.table("shop::orders").update(args.id, { status: "paid" });
      },
    });
    assert.deepEqual(await db.call("shop::pay", { id: 1 }), { id: 1, status: "paid", total: 10 });
    await db.call("shop::pay", [2n, "n"]);
    assert.deepEqual(seen, [
      { id: 1, note: null },
      { id: 2, note: "n" },
    ]);
    assert.deepEqual(db.lastCommit?.origin, {
      kind: "procedure",
      detail: { name: "shop::pay", args: { id: 2, note: "n" } },
    });
  });

  test("bad arguments are refused before the procedure runs, naming the parameter", async () => {
    const db = await setup();
    let runs = 0;
    db.defineProcedure("shop::p", { params: { id: "int8" }, run: () => runs++ });
    await rejects(db.call("shop::p", { id: "x" }), "TYPE_MISMATCH", /parameter id \(int8\)/);
    await rejects(db.call("shop::p", {}), "INVALID_ARGUMENT", /parameter id \(int8\) is required/);
    await rejects(
      db.call("shop::p", { id: 1, extra: 2 }),
      "INVALID_ARGUMENT",
      /no parameter "extra"/,
    );
    await rejects(db.call("shop::p", [1, 2]), "INVALID_ARGUMENT", /takes 1 argument/);
    await rejects(db.call("shop::p", { id: 2n ** 70n }), "OUT_OF_RANGE", /parameter id/);
    await rejects(db.call("shop::nope", {}), "UNKNOWN_PROCEDURE");
    assert.equal(runs, 0);
    assert.throws(
      () => db.defineProcedure("shop::q", { params: { a: "int99" }, run: () => 1 }),
      /a/,
    );
  });

  test("a procedure defined again runs its new body, by either name", async () => {
    // The registry keeps each name as called with the procedure it resolved to.
    const db = await setup();
    db.defineProcedure("pick", { params: { n: "int8" }, run: (_tx, args) => args["n"] });
    assert.equal(await db.call("pick", { n: 1 }), 1);
    assert.equal(await db.call("default::pick", { n: 2 }), 2);
    db.defineProcedure("default::pick", {
      params: { n: "int8" },
      run: (_tx, args) => (args["n"] as number) * 10,
    });
    assert.equal(await db.call("pick", { n: 1 }), 10);
    assert.equal(await db.call("default::pick", [2]), 20);
    await rejects(db.call("pick", { m: 1 }), "INVALID_ARGUMENT");
    await rejects(db.call("Pick!", {}), "INVALID_NAME");
  });

  test("a throw rolls the whole call back and keeps the error", async () => {
    const db = await setup();
    db.defineProcedure("shop::fail", {
      params: {},
      run: (tx) => {
        tx.table("shop::orders").insert({ id: 3, status: "open", total: 1 });
        tx.execute('update shop::orders { status: "x" } filter { true }');
        throw new Error("boom");
      },
    });
    const seq = db.seq;
    await assert.rejects(db.call("shop::fail"), /boom/);
    assert.equal(db.seq, seq);
    const rows = (await db.query("from shop::orders map { id, status }")).frames[0];
    assert.deepEqual(rows, [
      { id: 1, status: "open" },
      { id: 2, status: "open" },
    ]);
  });

  test("the async entry points are refused inside a transaction, never run after it", async () => {
    // They would commit on their own once the transaction ended, even when it rolled back.
    // The refusal is thrown: it fails the transaction, and a procedure that did not await
    // the promise leaves no unhandled rejection behind (one ends a server process).
    const db = await setup();
    db.defineProcedure("shop::other", { params: {}, run: () => 1 });
    const seq = db.seq;
    const entries = [
      () => db.command('update shop::orders { status: "x" } filter { true }'),
      () => db.admin("create namespace late"),
      () => db.query("from shop::orders"),
      () => db.call("shop::other"),
    ];
    for (const entry of entries) {
      throwsDb(() => db.transact(() => void entry()), {
        code: "TXN_ASYNC",
        message: /inside a transaction/,
      });
    }
    assert.equal(db.seq, seq);
    const { frames } = await db.query('from shop::orders filter { status == "x" }');
    assert.deepEqual(frames, [[]]);
  });

  test("call in RQL runs inside the script's transaction; rows come back as a frame", async () => {
    const db = await setup();
    db.defineProcedure("shop::big", {
      params: { min: "float8" },
      role: "read",
      run: (tx, args) =>
        tx.execute("from shop::orders filter total >= $min map { id }", args).frames[0],
    });
    const result = await db.command("call shop::big(15); call shop::big({ min: 5 })");
    assert.deepEqual(result.frames, [[{ id: 2 }], [{ id: 1 }, { id: 2 }]]);
    db.defineProcedure("shop::fail", {
      params: {},
      run: () => {
        throw new Error("no");
      },
    });
    const seq = db.seq;
    await assert.rejects(
      db.command('insert shop::orders [(9, "a", 1.0)]; call shop::fail()'),
      /no/,
    );
    assert.equal(db.seq, seq, "the insert before the call is rolled back too");
  });

  test("`call` in a script may not reach a procedure whose role is above its entry", async () => {
    // Otherwise a write token runs an admin procedure through POST /v1/command.
    const db = await setup();
    db.defineProcedure("shop::rebuild", { params: {}, role: "admin", run: () => "rebuilt" });
    db.defineProcedure("shop::touch", { params: {}, role: "write", run: () => "touched" });
    await rejects(db.command("call shop::rebuild()"), "FORBIDDEN", /shop::rebuild.*admin/);
    assert.deepEqual((await db.admin("call shop::rebuild()")).frames, [[{ result: "rebuilt" }]]);
    assert.deepEqual((await db.command("call shop::touch()")).frames, [[{ result: "touched" }]]);
    assert.throws(() => db.transact((tx) => tx.execute("call shop::rebuild()")), {
      code: "FORBIDDEN",
    });
    assert.deepEqual(db.execute("call shop::rebuild()", undefined, "admin").frames, [
      [{ result: "rebuilt" }],
    ]);
  });

  test("procedures calling themselves are bounded", async () => {
    const db = await setup();
    db.defineProcedure("loop", { params: {}, run: (tx) => tx.execute("call loop()") });
    await rejects(db.call("loop"), "LIMIT_EXCEEDED", /nest deeper/);
  });
});

describe("RQL procedures", () => {
  const create = `create procedure shop::pay { id: int8 } as {
    update shop::orders { status: "paid" } filter { id == $id };
    from shop::orders filter id == $id map { id, status }
  }`;

  test("create, call from RQL and from db.call, typed parameters, drop", async () => {
    const db = await setup();
    await db.admin(create);
    const viaRql = await db.command("call shop::pay(1)");
    assert.deepEqual(viaRql.frames, [
      [{ namespace: "shop", table: "orders", updated: 1 }],
      [{ id: 1, status: "paid" }],
    ]);
    const viaApi = await db.call("shop::pay", { id: 2 });
    assert.deepEqual(viaApi, {
      frames: [[{ namespace: "shop", table: "orders", updated: 1 }], [{ id: 2, status: "paid" }]],
    });
    await rejects(db.command('call shop::pay("x")'), "TYPE_MISMATCH", /parameter id/);
    const objects = (await db.query('from system::objects filter name == "pay"')).frames[0];
    assert.deepEqual(objects, [{ namespace: "shop", name: "pay", kind: "procedure" }]);
    await rejects(db.admin("drop table shop::pay"), "WRONG_OBJECT_KIND");
    await db.admin("drop procedure shop::pay");
    await rejects(db.call("shop::pay", { id: 1 }), "UNKNOWN_PROCEDURE");
  });

  test("a failing body rolls back everything it did", async () => {
    const db = await setup();
    await db.admin(`create procedure shop::bad { id: int8 } as {
      delete shop::orders filter { true };
      from shop::missing
    }`);
    const seq = db.seq;
    await rejects(db.call("shop::bad", [1]), "RQL_UNKNOWN_OBJECT");
    assert.equal(db.seq, seq);
    assert.equal((await db.query("from shop::orders")).frames[0]!.length, 2);
  });

  test("an error inside a called body says where the call and the error are", async () => {
    // The body's own line and column were reported as if they were the calling script's:
    // "line 2, column 13" pointed into `call shop::broken()`, which has no such column.
    const db = await setup();
    await db.admin(`create procedure shop::broken { } as {
      from shop::orders
        filter { nope == 1 }
    }`);
    const seq = db.seq;
    const caught = await dbErrorOf(db.command("from shop::orders;\n  call shop::broken()"));
    assert.equal(caught.code, "UNKNOWN_COLUMN", caught.message);
    const where = [caught.details.line, caught.details.col, caught.details.procedure];
    assert.deepEqual(where, [2, 3, "shop::broken"], caught.message);
    const inner = 'at line 2, column 18 of its body: unknown column "nope"';
    assert.equal(caught.message, `line 2, column 3: in procedure shop::broken, ${inner}`);
    assert.equal(db.seq, seq);
    // Errors of the call itself (its name, its arguments) are said at the call too.
    for (const [rql, code] of [
      ["from shop::orders;\n  call shop::nothing()", "UNKNOWN_PROCEDURE"],
      ["from shop::orders;\n  call shop::broken(1)", "INVALID_ARGUMENT"],
    ]) {
      const error = await dbErrorOf(db.command(rql!));
      assert.equal(error.code, code, error.message);
      assert.deepEqual([error.details.line, error.details.col], [2, 3], error.message);
      assert.match(error.message, /^line 2, column 3: /);
    }
  });

  test("db.call says an error's line and column are in the procedure's body", async () => {
    // db.call reported "line 2, column 18: unknown column" with nothing saying that the
    // position was in the body: the caller sent no text at all.
    const db = await setup();
    await db.admin(`create procedure shop::broken { } as {
      from shop::orders
        filter { nope == 1 }
    }`);
    const seq = db.seq;
    const caught = await dbErrorOf(db.call("shop::broken"));
    assert.equal(caught.code, "UNKNOWN_COLUMN", caught.message);
    const inner = 'at line 2, column 18 of its body: unknown column "nope"';
    assert.equal(caught.message, `in procedure shop::broken, ${inner}`);
    const where = [caught.details.line, caught.details.col, caught.details.procedure];
    assert.deepEqual(where, [2, 18, "shop::broken"], caught.message);
    assert.equal(db.seq, seq);
    // Errors without a place (the arguments) are as they were.
    const error = await dbErrorOf(db.call("shop::broken", [1]));
    assert.equal(error.code, "INVALID_ARGUMENT", error.message);
    assert.equal(error.details.procedure, undefined, error.message);
  });

  test("a body reading the past or a key's history is refused when created", async () => {
    // Both read the log before the transaction starts, which a call inside a transaction
    // cannot do: the procedure was stored, and every call failed saying "run it through
    // db.query, db.command or db.admin", which the caller had just done.
    const db = await setup();
    const bodies: Array<[string, number, string]> = [
      ["from shop::orders as of 1", 8, "as of"],
      [
        "from shop::orders inner join { from shop::orders as of 1 } as o using (id, o.id)",
        39,
        "as of",
      ],
      ['from system::history { object: "shop::orders", key: $id }', 8, "system::history"],
    ];
    for (const [body, col, what] of bodies) {
      const seq = db.seq;
      const caught = await dbErrorOf(
        db.admin(`create procedure shop::past { id: int8 } as {\n  ${body}\n}`),
      );
      assert.equal(caught.code, "INVALID_ARGUMENT", caught.message);
      assert.match(caught.message, new RegExp(`^line 2, column ${col}: .*${what}`), body);
      assert.deepEqual([caught.details.line, caught.details.col], [2, col], caught.message);
      assert.equal(db.seq, seq, "nothing was created");
    }
    await rejects(db.call("shop::past", [1]), "UNKNOWN_PROCEDURE");
  });

  test("survive a restart, from the log and from a snapshot", async () => {
    const path = await mkdtemp(join(tmpdir(), "statebase-procedures-"));
    try {
      let db = await open({ path, durability: "sync" });
      await db.admin(`create namespace shop;
        create table shop::orders { id: int8, status: utf8, total: float8 }
      with { primary_key: { id } }`);
      await db.command('insert shop::orders [(1, "open", 10.0), (2, "open", 20.0)]');
      await db.admin(create);
      await db.close();

      db = await open({ path, durability: "sync" });
      await db.command("call shop::pay(1)");
      await db.snapshot();
      await db.close();

      db = await open({ path, durability: "sync" });
      const result = await db.call("shop::pay", { id: 2 });
      assert.deepEqual((result as { frames: unknown[][] }).frames[1], [{ id: 2, status: "paid" }]);
      const statuses = (await db.query("from shop::orders map { status }")).frames[0];
      assert.deepEqual(statuses, [{ status: "paid" }, { status: "paid" }]);
      await db.close();
    } finally {
      await rm(path, { recursive: true, force: true });
    }
  });
});
