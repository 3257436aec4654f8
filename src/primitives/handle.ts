/**
 * @module The base of every typed handle (`db.table(name)`, `db.counter(name)`, ...). A handle
 * names an object and re-resolves it when the catalog changes, so it survives drop and
 * re-create. Writes join the running transaction, or commit on their own when there is none.
 */
import { apiOrigin } from "../engine/index.ts";
import type { Engine, ObjectKind, StoredObject, Transaction } from "../engine/index.ts";

export abstract class Handle<T extends StoredObject> {
  private cached: T | undefined;
  private epoch = -1;

  constructor(
    protected readonly engine: Engine,
    readonly name: string,
    private readonly kind: ObjectKind,
  ) {}

  /** The object this handle names; UNKNOWN_OBJECT or WRONG_OBJECT_KIND if it is gone. */
  protected object(): T {
    const catalog = this.engine.catalog;
    if (this.epoch !== catalog.epoch || this.cached === undefined) {
      this.cached = catalog.require(this.name, this.kind) as T;
      this.epoch = catalog.epoch;
    }
    return this.cached;
  }

  /** Runs a write in the current transaction, or auto-commits it. */
  protected write<R>(fn: (tx: Transaction, object: T) => R): R {
    // Auto-committed handle writes have the embedded API's origin, as `db.transact` does.
    return this.engine.write((tx) => fn(tx, this.object()), apiOrigin);
  }

  /** The running transaction, if any: handles call primitives directly on this hot path. */
  protected get tx(): Transaction | undefined {
    return this.engine.current;
  }

  /** Time for reads that depend on it: the transaction's time, else the clock's. */
  protected now(): number {
    return this.engine.current?.now ?? this.engine.clock.now();
  }
}
