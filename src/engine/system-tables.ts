/**
 * @module The `system::*` catalog tables: read-only views of namespaces, objects, columns and
 * indexes, computed from the catalog when read, so they can never be stale.
 */
import { assert } from "../lib/assert.ts";
import type { Catalog } from "./catalog.ts";
import type {
  Change,
  ColumnDescription,
  ObjectDefinition,
  ObjectKind,
  StoredObject,
} from "./types.ts";

type SystemRow = Readonly<Record<string, unknown>>;

/** A read-only table whose rows are computed from the catalog. */
export class SystemTable implements StoredObject {
  readonly kind: ObjectKind = "system";
  readonly definition: ObjectDefinition;

  constructor(
    readonly name: string,
    readonly columns: readonly string[],
    private readonly produce: () => SystemRow[],
  ) {
    this.definition = { kind: "system", name };
  }

  scan(): SystemRow[] {
    return this.produce();
  }

  applyChange(change: Change): void {
    assert(false, `system table ${this.name} got change ${change.kind}`);
  }

  revertChange(change: Change): void {
    assert(false, `system table ${this.name} got change ${change.kind}`);
  }
}

interface IndexLike {
  name: string;
  columns: string[];
  unique?: boolean;
  ordered?: boolean;
}

function userObjects(catalog: Catalog): StoredObject[] {
  const out: StoredObject[] = [];
  catalog.forEachObject((object) => {
    if (object.kind !== "system") out.push(object);
  });
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Code unit order, as RQL sorts text (not the locale's order, where a sorts before B). */
function compareTexts(a: readonly string[], b: readonly string[]): number {
  for (let i = 0; i < a.length; i++) {
    if (a[i]! !== b[i]!) return a[i]! < b[i]! ? -1 : 1;
  }
  return 0;
}

function splitName(qualified: string): { namespace: string; name: string } {
  const [namespace = "", name = ""] = qualified.split("::");
  return { namespace, name };
}

/** Registers `system::namespaces`, `system::objects`, `system::columns`, `system::indexes`. */
export function registerSystemTables(catalog: Catalog): void {
  catalog.registerSystemObject(
    new SystemTable("system::namespaces", ["name"], () => {
      const out: SystemRow[] = [];
      catalog.forEachNamespace((name) => out.push({ name }));
      return out.sort((a, b) => compareTexts([String(a.name)], [String(b.name)]));
    }),
  );
  catalog.registerSystemObject(
    new SystemTable("system::objects", ["namespace", "name", "kind"], () =>
      userObjects(catalog)
        .map((object) => ({ ...splitName(object.name), kind: object.kind }))
        // By namespace, then name, as `sort { namespace, name }` orders them: "a1::x" as
        // one text sorts before "a::x", though namespace a sorts before a1.
        .sort((a, b) => compareTexts([a.namespace, a.name], [b.namespace, b.name])),
    ),
  );
  catalog.registerSystemObject(
    new SystemTable(
      "system::columns",
      ["object", "name", "type", "position", "auto_increment"],
      () =>
        userObjects(catalog).flatMap((object) => {
          const columns =
            object.describeColumns?.() ??
            ((object.definition.columns ?? []) as ColumnDescription[]);
          return columns.map((column, position) => ({
            object: object.name,
            name: column.name,
            type: column.type,
            position,
            auto_increment: column.autoIncrement === true,
          }));
        }),
    ),
  );
  catalog.registerSystemObject(
    new SystemTable("system::indexes", ["object", "name", "columns", "unique", "ordered"], () =>
      userObjects(catalog).flatMap((object) => {
        const indexes = (object.definition.indexes ?? []) as IndexLike[];
        return indexes.map((index) => ({
          object: object.name,
          name: index.name,
          columns: index.columns.join(","),
          unique: index.unique === true,
          ordered: index.ordered === true,
        }));
      }),
    ),
  );
}
