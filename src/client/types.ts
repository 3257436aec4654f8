/**
 * @module What the client sends and receives, as data. These mirror the server's contracts
 * (docs/server.md): the client never imports the engine or the server, only these shapes.
 */

// The shapes shared with the embedded API live in the protocol layer (types only, so a
// browser bundle loads nothing from there).
export type {
  QueryParams,
  QueryResult,
  RowDelta,
  SubscriptionMessage,
  SubscriptionTarget,
} from "../protocol/index.ts";
