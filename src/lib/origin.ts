/**
 * @module Origins of commits, made so that V8 never pretenures them: every commit keeps its
 * origin, the change feed keeps the last commits, and an object literal whose objects one
 * scavenge finds all alive gets allocated in the old generation for good (young-array.ts).
 * An operation's origin is the same object for every commit it makes; others are made by
 * constructors, whose objects have no allocation site. All of them are plain objects.
 */
import { rowConstructor } from "./row-object.ts";

/** What caused a commit (the engine's `Origin`, restated here: lib imports no other module). */
interface Origin {
  readonly kind: string;
  readonly detail?: unknown;
}

/** Plain objects, by constructors (row-object.ts): an origin and a procedure call's detail. */
const OriginObject = rowConstructor();
const CallDetailObject = rowConstructor();

/** Operation origins by kind, then operation name: `{kind, detail: {op}}`, made once each. */
const operationOrigins = new Map<string, Map<string, Origin>>();

/** `{kind, detail}` for one commit. */
export function originOf(kind: string, detail: unknown): Origin {
  const origin = new OriginObject();
  origin.kind = kind;
  origin.detail = detail;
  return origin as unknown as Origin;
}

/** `{kind, detail: {op}}`: one frozen object per kind and operation, shared by its commits. */
export function operationOrigin(kind: string, op: string): Origin {
  let byOp = operationOrigins.get(kind);
  if (byOp === undefined) operationOrigins.set(kind, (byOp = new Map<string, Origin>()));
  let origin = byOp.get(op);
  if (origin === undefined) {
    origin = Object.freeze({ kind, detail: Object.freeze({ op }) });
    byOp.set(op, origin);
  }
  return origin;
}

/** `{kind: "procedure", detail: {name, args}}` for one call. */
export function procedureOrigin(name: string, args: unknown): Origin {
  const detail = new CallDetailObject();
  detail.name = name;
  detail.args = args;
  return originOf("procedure", detail);
}
