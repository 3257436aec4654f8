/**
 * The reference workload of the crash tests: step n inserts a row, moves a balance and adds
 * to a counter, so every step touches several primitives. `referenceDigest(n)` computes the
 * state after n steps without a database, to compare recovered state against.
 */
import { createHash } from "node:crypto";
import type { Database, Tx } from "../../src/index.ts";

export function workloadSetup(db: Database): void {
  db.transact((tx) => {
    if (tx.system("namespaces").some((row) => row.name === "crash")) return;
    tx.createNamespace("crash");
    tx.createTable("crash::steps", {
      columns: { n: "int8", value: "utf8" },
      primaryKey: "n",
    });
    tx.createTable("crash::balance", { columns: { id: "int4", amount: "int8" }, primaryKey: "id" });
    tx.table("crash::balance").insert({ id: 1, amount: 0 });
    tx.createCounter("crash::total");
  });
}

function valueOf(n: number): string {
  return `v${(n * 2654435761) % 1000003}`;
}

function moveOf(n: number): number {
  return (n % 7) - 3;
}

export function applyWorkloadStep(tx: Tx, n: number): void {
  tx.table("crash::steps").insert({ n, value: valueOf(n) });
  const balance = tx.table<{ id: number; amount: number }>("crash::balance");
  balance.update(1, { amount: balance.get(1)!.amount + moveOf(n) });
  tx.counter("crash::total").add(n);
}

/** A digest of the workload's state in a database. */
export function stateDigest(db: Database): string {
  const steps = db.table<{ n: number; value: string }>("crash::steps").scan();
  const amount = db.table<{ id: number; amount: number }>("crash::balance").get(1)!.amount;
  const total = db.counter("crash::total").get();
  return digest(
    steps.map((row) => `${row.n}=${row.value}`),
    amount,
    total,
  );
}

/** The digest `stateDigest` must give after exactly `n` steps. */
export function referenceDigest(n: number): string {
  const steps: string[] = [];
  let amount = 0;
  let total = 0;
  for (let k = 1; k <= n; k++) {
    steps.push(`${k}=${valueOf(k)}`);
    amount += moveOf(k);
    total += k;
  }
  return digest(steps, amount, total);
}

function digest(steps: string[], amount: number, total: number | bigint): string {
  return createHash("sha256")
    .update(`${steps.join(",")}|${amount}|${total}`)
    .digest("hex")
    .slice(0, 16);
}
