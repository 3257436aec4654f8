/**
 * @module Schema statements. Creating an object builds the same definition the embedded API
 * does (tableDefinition, queueDefinition, ...) and hands it to the catalog, whose change is
 * logged and rolled back like any other. A table's definition is immutable, so `create
 * index`, `create primary key`, `alter table ... add column` and `drop index` rebuild the
 * table inside the transaction: drop it, create the new definition and insert the rows again
 * (all as ordinary changes, so replay and rollback need nothing new). Views are delegated to
 * the view host.
 */
import { assert } from "../lib/assert.ts";
import { DbError } from "../lib/errors.ts";
import { qualifyName } from "../engine/index.ts";
import type { Catalog, ObjectDefinition, StoredObject, Transaction } from "../engine/index.ts";
import {
  Table,
  counterDefinition,
  histogramDefinition,
  queueDefinition,
  ringBufferDefinition,
  seriesDefinition,
  tableDefinition,
} from "../primitives/index.ts";
import type { ColumnDefinition, IndexDefinition, TableDefinition } from "../primitives/index.ts";
import type {
  ColumnSpec,
  CreateCounterStatement,
  CreateHistogramStatement,
  CreateRowObjectStatement,
  DropStatement,
  ObjectRef,
  Statement,
} from "./ast.ts";
import type { RunContext } from "./context.ts";
import { OptionReader } from "./ddl-options.ts";
import type { CompiledStatement } from "./dml.ts";
import { ProcedureObject, procedureDefinition } from "./procedures.ts";
import { unknownObject } from "./rql-errors.ts";
import { deadlineTick } from "./deadline.ts";

type SchemaStatement = Exclude<
  Statement,
  {
    type:
      | "query"
      | "insert"
      | "update"
      | "delete"
      | "counter_add"
      | "histogram_record"
      | "queue"
      | "call";
  }
>;

function columnDefinitions(specs: readonly ColumnSpec[]): ColumnDefinition[] {
  return specs.map((spec) =>
    spec.autoIncrement
      ? { name: spec.name, type: spec.type, autoIncrement: true }
      : { name: spec.name, type: spec.type },
  );
}

/** Compiles a schema statement; it runs (and resolves names) only when executed. */
export function compileSchemaStatement(statement: SchemaStatement): CompiledStatement {
  return { run: (ctx) => runSchemaStatement(statement, ctx), plan: [] };
}

function runSchemaStatement(statement: SchemaStatement, ctx: RunContext): undefined {
  const { tx, catalog } = ctx;
  switch (statement.type) {
    case "create_namespace":
      catalog.createNamespace(tx, statement.name, statement.ifNotExists);
      return undefined;
    case "create_table":
    case "create_ringbuffer":
    case "create_series":
    case "create_queue":
      catalog.create(tx, rowObjectDefinition(statement, ctx), statement.ifNotExists);
      return undefined;
    case "create_counter":
    case "create_histogram":
      catalog.create(tx, meterDefinition(statement, ctx), statement.ifNotExists);
      return undefined;
    case "create_primary_key": {
      const table = requireTable(catalog, statement.table);
      const definition = { ...table.definition, primaryKey: statement.columns };
      rebuildTable(tx, catalog, table, definition, "create primary key");
      return undefined;
    }
    case "create_index":
      createIndex(statement, ctx);
      return undefined;
    case "alter_table_add_column": {
      const table = requireTable(catalog, statement.table);
      const columns = [...table.definition.columns, ...columnDefinitions([statement.column])];
      rebuildTable(tx, catalog, table, { ...table.definition, columns }, "add column");
      return undefined;
    }
    case "create_view":
      requireViews(ctx).create(tx, statement);
      return undefined;
    case "create_procedure":
      catalog.create(tx, procedureDefinition(statement), statement.ifNotExists);
      return undefined;
    case "drop":
      runDrop(statement, ctx);
      return undefined;
  }
}

function rowObjectDefinition(
  statement: CreateRowObjectStatement,
  ctx: RunContext,
): ObjectDefinition {
  const name = statement.name.name;
  const columns = columnDefinitions(statement.columns);
  const options = new OptionReader(
    statement.options,
    `${statement.type.slice(7)} ${name}`,
    ctx.params,
  );
  let definition: ObjectDefinition;
  switch (statement.type) {
    case "create_table": {
      const primaryKey = options.columns("primary_key");
      definition = tableDefinition(name, {
        columns,
        ...(primaryKey === undefined ? {} : { primaryKey }),
      });
      break;
    }
    case "create_ringbuffer": {
      const capacity = options.integer("capacity");
      if (capacity === undefined) {
        throw new DbError("INVALID_ARGUMENT", `ringbuffer ${name} needs with { capacity: N }`, {
          object: name,
        });
      }
      const partitionBy =
        options.nested("partition")?.columns("by") ?? options.columns("partition_by");
      definition = ringBufferDefinition(name, {
        columns,
        capacity,
        ...(partitionBy === undefined ? {} : { partitionBy }),
      });
      break;
    }
    case "create_series": {
      const key = options.columns("key");
      if (key?.length !== 1) {
        throw new DbError("INVALID_ARGUMENT", `series ${name} needs with { key: column }`, {
          object: name,
        });
      }
      definition = seriesDefinition(name, { columns, key: key[0]! });
      break;
    }
    case "create_queue": {
      const visibility = options.durationMs("visibility");
      const attempts = options.integer("attempts");
      definition = queueDefinition(name, {
        ...(columns.length === 0 ? {} : { columns }),
        ...(visibility === undefined ? {} : { visibility }),
        ...(attempts === undefined ? {} : { attempts }),
      });
      break;
    }
  }
  options.finish();
  return definition;
}

function meterDefinition(
  statement: CreateCounterStatement | CreateHistogramStatement,
  ctx: RunContext,
): ObjectDefinition {
  const name = statement.name.name;
  const options = new OptionReader(
    statement.options,
    `${statement.type.slice(7)} ${name}`,
    ctx.params,
  );
  let definition: ObjectDefinition;
  if (statement.type === "create_counter") {
    const by = columnDefinitions(statement.keyColumns);
    definition = counterDefinition(name, by.length === 0 ? {} : { by });
  } else {
    const min = options.integer("min");
    const max = options.integer("max");
    const digits = options.integer("digits");
    definition = histogramDefinition(name, {
      ...(min === undefined ? {} : { min }),
      ...(max === undefined ? {} : { max }),
      ...(digits === undefined ? {} : { digits }),
    });
  }
  options.finish();
  return definition;
}

function requireTable(catalog: Catalog, ref: ObjectRef): Table {
  const object = catalog.get(ref.name);
  if (object === undefined) throw unknownObject(ref.name, ref.pos);
  if (!(object instanceof Table)) {
    throw new DbError("WRONG_OBJECT_KIND", `${object.name} is a ${object.kind}, not a table`, {
      object: object.name,
    });
  }
  return object;
}

/**
 * Replaces a table by one with `definition`, keeping its rows (re-validated). `change` names
 * the statement for errors (`create index`).
 */
function rebuildTable(
  tx: Transaction,
  catalog: Catalog,
  table: Table,
  definition: TableDefinition,
  change: string,
): void {
  const rows = [...table.scan()];
  // Build the new table first, so an invalid definition fails before anything changes.
  assert(new Table(definition).name === table.name, "a rebuilt table keeps its name");
  try {
    catalog.drop(tx, table.name);
  } catch (error) {
    // A view reading the table refuses the drop a rebuild starts with; said as it is, the
    // refusal would speak of a drop the user never asked for.
    if (!(error instanceof DbError) || !Array.isArray(error.details.views)) throw error;
    throw new DbError(
      "OBJECT_IN_USE",
      `${change} rebuilds ${table.name} (a table definition is immutable), but view ` +
        `${error.details.views.join(", ")} reads it; drop the view first, then create it again`,
      error.details,
    );
  }
  const rebuilt = catalog.create(tx, definition);
  assert(rebuilt instanceof Table, "a table definition builds a table");
  rows.forEach((row, i) => {
    deadlineTick(1);
    rebuilt.insert(tx, row, i + 1);
  });
}

function createIndex(
  statement: Extract<Statement, { type: "create_index" }>,
  ctx: RunContext,
): void {
  const table = requireTable(ctx.catalog, statement.table);
  const local = indexLocalName(statement.name, table.name);
  const existing = table.definition.indexes ?? [];
  if (existing.some((index) => index.name === local)) {
    if (statement.ifNotExists) return;
    throw new DbError("OBJECT_EXISTS", `${table.name} already has an index ${local}`, {
      object: table.name,
    });
  }
  const index: IndexDefinition = {
    name: local,
    columns: statement.columns,
    unique: statement.unique,
    ordered: true,
  };
  const definition = { ...table.definition, indexes: [...existing, index] };
  rebuildTable(ctx.tx, ctx.catalog, table, definition, "create index");
}

/** `shop::orders_by_customer` names index `orders_by_customer`, in the table's namespace. */
function indexLocalName(ref: ObjectRef, table: string): string {
  if (!ref.name.includes("::")) return ref.name;
  const { namespace, local } = qualifyName(ref.name);
  if (namespace !== qualifyName(table).namespace) {
    throw new DbError(
      "INVALID_ARGUMENT",
      `index ${ref.name} must be in the namespace of ${table}`,
      {
        object: table,
      },
    );
  }
  return local;
}

function requireViews(ctx: RunContext): NonNullable<RunContext["host"]["views"]> {
  const views = ctx.host.views;
  if (views === undefined) {
    throw new DbError("INVALID_ARGUMENT", "views are not available in this database build");
  }
  return views;
}

const dropKindOf: Readonly<Record<string, StoredObject["kind"]>> = {
  table: "table",
  ringbuffer: "ring_buffer",
  series: "series",
  counter: "counter",
  histogram: "histogram",
  queue: "queue",
  procedure: "procedure",
};

function runDrop(statement: DropStatement, ctx: RunContext): void {
  const { tx, catalog } = ctx;
  const name = statement.name.name;
  switch (statement.kind) {
    case "namespace":
      throw new DbError(
        "INVALID_ARGUMENT",
        `drop namespace is not supported; drop its objects instead`,
        {
          object: name,
        },
      );
    case "view":
      requireViews(ctx).drop(tx, name, statement.ifExists);
      return;
    case "index":
      dropIndex(statement, ctx);
      return;
    default:
      break;
  }
  const object = catalog.get(name);
  if (object === undefined) {
    if (statement.ifExists) return;
    throw unknownObject(name, statement.name.pos);
  }
  const kind = dropKindOf[statement.kind]!;
  if (object.kind !== kind && !(kind === "procedure" && object instanceof ProcedureObject)) {
    throw new DbError(
      "WRONG_OBJECT_KIND",
      `${object.name} is a ${object.kind}, not a ${statement.kind}`,
      {
        object: object.name,
      },
    );
  }
  catalog.drop(tx, object.name);
}

/** `drop index ns::name`: finds the table in that namespace holding the index. */
function dropIndex(statement: DropStatement, ctx: RunContext): void {
  const { namespace, local } = qualifyName(statement.name.name);
  let owner: Table | undefined;
  ctx.catalog.forEachObject((object) => {
    if (!(object instanceof Table) || qualifyName(object.name).namespace !== namespace) return;
    if ((object.definition.indexes ?? []).some((index) => index.name === local)) owner = object;
  });
  if (owner === undefined) {
    if (statement.ifExists) return;
    throw unknownObject(statement.name.name, statement.name.pos);
  }
  const indexes = (owner.definition.indexes ?? []).filter((index) => index.name !== local);
  rebuildTable(ctx.tx, ctx.catalog, owner, { ...owner.definition, indexes }, "drop index");
}
