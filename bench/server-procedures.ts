/**
 * The procedures bench/server.ts loads into `statebase serve --module`: the SpacetimeDB
 * transfer (read two balances, check funds, debit and credit) and a seeding helper.
 */
import type { Tx } from "../src/types.ts";

interface Account {
  id: number;
  balance: number;
}

export const procedures = {
  seed: {
    params: { from: "int8", to: "int8", balance: "int8" },
    role: "admin",
    run(tx: Tx, args: Record<string, unknown>) {
      const { from, to, balance } = args as { from: number; to: number; balance: number };
      const accounts = tx.table<Account>("bank::accounts");
      for (let id = from; id < to; id++) accounts.insert({ id, balance });
      return to - from;
    },
  },
  transfer: {
    params: { from: "int8", to: "int8", amount: "int8" },
    role: "write",
    run(tx: Tx, args: Record<string, unknown>) {
      const { from, to, amount } = args as { from: number; to: number; amount: number };
      const accounts = tx.table<Account>("bank::accounts");
      const source = accounts.get(from);
      const target = accounts.get(to);
      if (source === undefined || target === undefined) return false;
      if (source.balance < amount) return false;
      accounts.update(from, { balance: source.balance - amount });
      accounts.update(to, { balance: target.balance + amount });
      return true;
    },
  },
};
