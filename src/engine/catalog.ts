/**
 * @module The catalog: namespaces and the objects in them. It is itself a stored object
 * (`system::catalog`), so creating or dropping an object is a change like any other: it is
 * logged, replayed and rolled back by the same mechanism as a row write.
 */
import { assert } from "../lib/assert.ts";
import { DbError } from "../lib/errors.ts";
import { nameLengthMax, objectsMax } from "../lib/limits.ts";
import { ChangeRecord } from "./transaction.ts";
import type { Transaction } from "./transaction.ts";
import type { Change, ObjectDefinition, ObjectKind, StoredObject } from "./types.ts";

export const catalogObjectName = "system::catalog";
export const defaultNamespace = "default";
export const systemNamespace = "system";

/** Builds a stored object from its definition. One factory per object kind. */
/**
 * Builds an object from its definition. `created`: the definition is being created now, not
 * replayed from a log or snapshot; a check added after a definition could be logged (one
 * that would now refuse it) runs only then, so a database that holds one still opens.
 */
export type ObjectFactory = (definition: ObjectDefinition, created: boolean) => StoredObject;

const namePattern = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Splits and validates `ns::name` (or a bare `name` in the default namespace). */
export function qualifyName(name: string): { namespace: string; local: string; qualified: string } {
  if (typeof name !== "string") {
    throw new DbError("INVALID_NAME", `object name must be text, got ${typeof name}`);
  }
  const parts = name.split("::");
  const [namespace, local] = parts.length === 1 ? [defaultNamespace, parts[0]!] : parts;
  if (parts.length > 2 || namespace === undefined || local === undefined) {
    throw new DbError("INVALID_NAME", `invalid object name "${name}": use namespace::name`, {
      object: name,
    });
  }
  checkIdentifier(namespace, name);
  checkIdentifier(local, name);
  return { namespace, local, qualified: `${namespace}::${local}` };
}

/** Validates one identifier (namespace, object or column name). */
export function checkIdentifier(identifier: string, context: string): void {
  if (
    identifier.length === 0 ||
    identifier.length > nameLengthMax ||
    !namePattern.test(identifier)
  ) {
    throw new DbError(
      "INVALID_NAME",
      `invalid name "${identifier}" in "${context}": use letters, digits and _ ` +
        `(at most ${nameLengthMax}, not starting with a digit)`,
      { object: context, value: identifier },
    );
  }
  // Names become property keys (a row's columns, a definition's fields), and assigning to
  // `__proto__` sets an object's prototype instead: a row would silently lose that column.
  if (identifier === "__proto__") {
    throw new DbError("INVALID_NAME", `the name "__proto__" in "${context}" is reserved`, {
      object: context,
      value: identifier,
    });
  }
}

/** Namespaces and objects, with DDL recorded as changes of `system::catalog`. */
export class Catalog implements StoredObject {
  readonly kind: ObjectKind = "system";
  readonly name = catalogObjectName;
  readonly definition: ObjectDefinition = { kind: "system", name: catalogObjectName };
  private readonly namespaces = new Set<string>([defaultNamespace, systemNamespace]);
  private readonly objects = new Map<string, StoredObject>();
  private readonly factories = new Map<ObjectKind, ObjectFactory>();
  /** Bumped on every create and drop, so handles know when to re-resolve their object. */
  epoch = 0;
  /** Vetoes a drop by throwing (a view depends on the object); see {@link setDropGuard}. */
  private dropGuard: ((object: StoredObject) => void) | undefined;

  /** Installs the check every drop passes first: it throws to refuse (OBJECT_IN_USE). */
  setDropGuard(guard: ((object: StoredObject) => void) | undefined): void {
    this.dropGuard = guard;
  }

  registerFactory(kind: ObjectKind, factory: ObjectFactory): void {
    assert(!this.factories.has(kind), `factory for ${kind} registered twice`);
    this.factories.set(kind, factory);
  }

  /** Namespaces and user object definitions, in creation order: what a snapshot keeps. */
  image(): { namespaces: string[]; objects: StoredObject[] } {
    const namespaces = [...this.namespaces];
    const objects = [...this.objects.values()].filter((object) => object.kind !== "system");
    return { namespaces, objects };
  }

  /** Rebuilds namespaces and objects from a snapshot into an empty catalog; not a change. */
  restoreImage(
    namespaces: readonly string[],
    definitions: readonly ObjectDefinition[],
  ): StoredObject[] {
    assert(
      [...this.objects.values()].every((object) => object.kind === "system"),
      "restore into a catalog that has objects",
    );
    for (const namespace of namespaces) this.namespaces.add(namespace);
    const built = definitions.map((definition) => this.build(definition, false));
    for (const object of built) this.objects.set(object.name, object);
    this.epoch++;
    return built;
  }

  /** Registers a built-in, read-only object (system tables); not a change. */
  registerSystemObject(object: StoredObject): void {
    assert(object.name.startsWith(`${systemNamespace}::`), "system objects live in system::");
    assert(!this.objects.has(object.name), `system object ${object.name} registered twice`);
    this.objects.set(object.name, object);
  }

  hasNamespace(namespace: string): boolean {
    return this.namespaces.has(namespace);
  }

  forEachNamespace(fn: (namespace: string) => void): void {
    for (const namespace of this.namespaces) fn(namespace);
  }

  forEachObject(fn: (object: StoredObject) => void): void {
    for (const object of this.objects.values()) fn(object);
  }

  get(name: string): StoredObject | undefined {
    return this.objects.get(name) ?? this.objects.get(qualifyName(name).qualified);
  }

  /** Resolves an object or throws UNKNOWN_OBJECT; checks its kind when `kind` is given. */
  require(name: string, kind?: ObjectKind): StoredObject {
    const object = this.get(name);
    if (object === undefined) {
      throw new DbError("UNKNOWN_OBJECT", `unknown object "${name}"`, { object: name });
    }
    if (kind !== undefined && object.kind !== kind) {
      throw new DbError(
        "WRONG_OBJECT_KIND",
        `${object.name} is a ${object.kind.replace("_", " ")}, not a ${kind.replace("_", " ")}`,
        { object: object.name },
      );
    }
    return object;
  }

  // ---- DDL, recorded as changes ----

  createNamespace(tx: Transaction, namespace: string, ifNotExists = false): boolean {
    checkIdentifier(namespace, namespace);
    if (this.namespaces.has(namespace)) {
      if (ifNotExists) return false;
      throw new DbError("OBJECT_EXISTS", `namespace ${namespace} already exists`, {
        object: namespace,
      });
    }
    tx.assertWritable(namespace);
    const change = new ChangeRecord(this.name, "create_namespace", namespace, undefined, {
      name: namespace,
    });
    this.applyChange(change);
    tx.record(this, change);
    return true;
  }

  /** Creates an object from its definition; returns it. */
  create(tx: Transaction, definition: ObjectDefinition, ifNotExists = false): StoredObject {
    const { namespace, qualified } = qualifyName(definition.name);
    const existing = this.objects.get(qualified);
    if (existing !== undefined) {
      if (ifNotExists && existing.kind === definition.kind) return existing;
      throw new DbError("OBJECT_EXISTS", `${qualified} already exists`, { object: qualified });
    }
    if (!this.namespaces.has(namespace)) {
      throw new DbError("UNKNOWN_NAMESPACE", `unknown namespace "${namespace}" in ${qualified}`, {
        object: qualified,
      });
    }
    if (namespace === systemNamespace) {
      throw new DbError("READ_ONLY", `namespace system is reserved`, { object: qualified });
    }
    if (this.objects.size >= objectsMax) {
      throw new DbError("LIMIT_EXCEEDED", `at most ${objectsMax} objects`, { object: qualified });
    }
    tx.assertWritable(qualified);
    const normalized = { ...definition, name: qualified };
    // Build first: an invalid definition throws before anything changes.
    const object = this.build(normalized, true);
    const change = new ChangeRecord(this.name, "create", qualified, undefined, object.definition);
    this.objects.set(qualified, object);
    this.epoch++;
    tx.record(this, change);
    return object;
  }

  /** Drops an object; `refuse` may veto (e.g. a view depends on it). */
  drop(tx: Transaction, name: string, ifExists = false): boolean {
    const object = this.get(name);
    if (object === undefined || object.kind === "system") {
      if (ifExists && object === undefined) return false;
      throw new DbError(
        object === undefined ? "UNKNOWN_OBJECT" : "READ_ONLY",
        object === undefined ? `unknown object "${name}"` : `${name} cannot be dropped`,
        { object: name },
      );
    }
    tx.assertWritable(object.name);
    this.dropGuard?.(object);
    const change = new ChangeRecord(this.name, "drop", object.name, object.definition, undefined);
    // Recorded first: a refused record (too many changes) reverts nothing for a drop.
    tx.record(this, change);
    this.objects.delete(object.name);
    this.epoch++;
    // Rollback must restore the very object with its state, which the change cannot carry.
    tx.onRollback(() => {
      this.objects.set(object.name, object);
      this.epoch++;
    });
    return true;
  }

  // ---- StoredObject ----

  applyChange(change: Change): void {
    switch (change.kind) {
      case "create_namespace":
        assert(!this.namespaces.has(change.key as string), "namespace replayed twice");
        this.namespaces.add(change.key as string);
        return;
      case "create": {
        assert(!this.objects.has(change.key as string), "object created twice on replay");
        const definition = change.after as ObjectDefinition;
        this.objects.set(change.key as string, this.build(definition, false));
        this.epoch++;
        return;
      }
      case "drop":
        assert(this.objects.has(change.key as string), "replayed drop of a missing object");
        this.objects.delete(change.key as string);
        this.epoch++;
        return;
      default:
        assert(false, `unknown catalog change ${change.kind}`);
    }
  }

  revertChange(change: Change): void {
    switch (change.kind) {
      case "create_namespace":
        assert(this.namespaces.delete(change.key as string), "reverted a missing namespace");
        return;
      case "create":
        assert(this.objects.delete(change.key as string), "reverted a missing object");
        this.epoch++;
        return;
      case "drop":
        // Restored by the transaction's undo action registered in drop().
        return;
      default:
        assert(false, `unknown catalog change ${change.kind}`);
    }
  }

  private build(definition: ObjectDefinition, created: boolean): StoredObject {
    const factory = this.factories.get(definition.kind);
    if (factory === undefined) {
      throw new DbError("INVALID_ARGUMENT", `unknown object kind "${definition.kind}"`, {
        object: definition.name,
      });
    }
    const object = factory(definition, created);
    assert(object.name === definition.name, "factory renamed the object");
    assert(object.kind === definition.kind, "factory changed the object kind");
    return object;
  }
}
