/**
 * @module `statebase/client`: the TypeScript client for Node and browsers (client.ts). It
 * imports only the protocol shapes and lib, never the engine or the server.
 */
export { Client, connect } from "./client.ts";
export type { ClientOptions } from "./client.ts";
export { ClientSubscription } from "./subscription.ts";
export type { SubscribeOptions } from "./subscription.ts";
export {
  AbortedError,
  AccessError,
  ConflictError,
  ConnectionError,
  InvalidInputError,
  LimitExceededError,
  NotFoundError,
  ServerError,
  StatebaseError,
  TimeoutError,
} from "./errors.ts";
export type { SocketFactory, SocketLike } from "./socket.ts";
export type {
  QueryParams,
  QueryResult,
  RowDelta,
  SubscriptionMessage,
  SubscriptionTarget,
} from "./types.ts";
