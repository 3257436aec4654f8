// RQL on an embedded database: schema, data, a transactional view, a query with parameters.
// test/examples.test.ts runs this file and checks the README shows it verbatim.
import { open } from "statebase";

const db = await open();

await db.admin(`
  create namespace shop;
  create table shop::orders {
    id: int8 with { auto_increment }, customer: utf8, total: float8, status: utf8
  } with { primary_key: { id } };
  create index shop::orders_by_customer on shop::orders { customer };
  create view shop::open_by_customer { customer: utf8, n: int8, total: float8 } as {
    from shop::orders filter { status == "open" }
    aggregate { n: math::count(id), total: math::sum(total) } by { customer }
  }
`);

await db.command(`
  insert shop::orders [
    { customer: "ada", total: 150.0, status: "open" },
    { customer: "bob", total: 80.0, status: "open" },
    { customer: "ada", total: 20.0, status: "open" }
  ]
`);
await db.command(`update shop::orders { status: "paid" } filter { id == 1 }`);

const big = await db.query(
  `from shop::orders filter { customer == $who and total > $min } map { id, total }`,
  { who: "ada", min: 10 },
);
console.log("ada's orders:", JSON.stringify(big.frames[0]));

// The view was kept correct inside each commit, never recomputed.
const view = await db.query(`from shop::open_by_customer sort { customer }`);
console.log("open by customer:", JSON.stringify(view.frames[0]));
await db.close();
