import { mkdtempSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { open } from "../src/index.ts";
import { procedures } from "./server-procedures.ts";
for (const dur of ["memory", "sync"] as const) {
const db = await open(dur === "memory" ? {} : { durability: dur, path: mkdtempSync("/tmp/sbb-") });
db.defineProcedure("seed", procedures.seed as any);
db.defineProcedure("transfer", procedures.transfer as any);
await db.admin("create namespace bank; create table bank::accounts { id: int8, balance: int8 } with { primary_key: { id } }");
for (let f = 0; f < 100000; f += 10000) await db.call("seed", { from: f, to: f + 10000, balance: 1000000 });
for (const hot of [100000, 10]) {
  let x = 1;
  const t0 = performance.now();
  const n = 20000;
  const ps: Promise<unknown>[] = [];
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    const a = x % hot; const b = (a + 1 + (x >> 8) % (hot - 1)) % hot;
    ps.push(db.call("transfer", { from: a, to: b, amount: 1 }));
    if (ps.length >= 64) { await Promise.all(ps); ps.length = 0; }
  }
  await Promise.all(ps);
  console.log(dur, "hot", hot, Math.round(n / ((performance.now() - t0) / 1000)), "tps");
}
await db.close();
}
