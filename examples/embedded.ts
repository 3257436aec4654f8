// The README's embedded example: a bank with accounts, a transfer counter, a latency
// histogram and a job queue. test/examples.test.ts runs this file and checks its output.
import { open } from "statebase";

const db = await open();

db.createNamespace("bank");
const accounts = db.createTable<{ id: number; owner: string; balance: number }>("bank::accounts", {
  columns: { id: "int8", owner: "utf8", balance: "int8" },
  primaryKey: "id",
  indexes: [{ name: "by_owner", columns: ["owner"] }],
});
const transfers = db.createCounter("bank::transfers");
const amounts = db.createHistogram("bank::amounts", { max: 1_000_000 });

accounts.insertMany([
  { id: 1, owner: "ada", balance: 100 },
  { id: 2, owner: "bob", balance: 50 },
]);

// One serializable transaction: it commits whole, or a throw undoes all of it.
function transfer(from: number, to: number, amount: number): void {
  db.transact(() => {
    const source = accounts.get(from);
    const target = accounts.get(to);
    if (!source || !target) throw new Error("no such account");
    if (source.balance < amount) db.abort(`insufficient funds in account ${from}`);
    accounts.update(from, { balance: source.balance - amount });
    accounts.update(to, { balance: target.balance + amount });
    transfers.add(1);
    amounts.record(amount);
  });
}

transfer(1, 2, 30);
try {
  transfer(2, 1, 500);
} catch (error) {
  console.log("refused:", (error as { code: string }).code);
}

console.log(
  "balances:",
  accounts
    .scan()
    .map((a) => `${a.owner}=${a.balance}`)
    .join(" "),
);
console.log("transfers:", transfers.get(), "p50 amount:", amounts.percentile(50));
console.log("ada's accounts:", accounts.lookup("by_owner", "ada").length);
console.log("commits so far:", db.seq);
await db.close();
