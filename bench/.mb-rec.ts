import { open } from "../src/index.ts";
import { encodeBody } from "../src/log/record.ts";
const db = await open({});
db.machines.put("toggle", 1, { states: ["a", "b"], initial: "a", transitions: [
  { from: "a", event: "TOGGLE", to: "b" }, { from: "b", event: "TOGGLE", to: "a" }] } as never);
db.machines.createInstance({ instance_id: `i-1`, machine: "toggle", version: 1 } as never);
db.transact((tx) => tx.machines.applyEvent({ instance_id: `i-1`, event: "TOGGLE", payload: { n: 5 } } as never), { origin: { kind: "rcp", detail: { op: "APPLY_EVENT" } } } as never);
console.log(encodeBody(db.lastCommit!));
