import { open } from "../src/index.ts";
import { mkdtempSync } from "node:fs";
const dir = mkdtempSync("/tmp/mb/x");
const db = await open({ path: dir, durability: process.env.D ?? "sync" } as never);
db.machines.put("toggle", 1, { states: ["a", "b"], initial: "a", transitions: [
  { from: "a", event: "TOGGLE", to: "b" }, { from: "b", event: "TOGGLE", to: "a" }] } as never);
const slots = 1600;
for (let i = 0; i < slots; i++) db.machines.createInstance({ instance_id: `i-${i}`, machine: "toggle", version: 1 } as never);
await db.flush();
const origin = { kind: "rcp", detail: { op: "APPLY_EVENT" } };
for (let round = 0; round < 5; round++) {
  const n = 100_000;
  const t0 = performance.now(); const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    db.transact((tx) => tx.machines.applyEvent({ instance_id: `i-${i % slots}`, event: "TOGGLE", payload: { n: i } } as never), { origin } as never);
    if (i % 800 === 799) await db.durable();
  }
  await db.durable();
  const c = process.cpuUsage(c0);
  console.log(`${((performance.now() - t0) * 1000 / n).toFixed(1)} µs wall/op, ${((c.user + c.system) / n).toFixed(1)} µs cpu/op`);
}
await db.close();
