/**
 * @module RCP, rstmdb's wire protocol (specs/rcp.md): the frame codec, the JSON-lines
 * decoder, the message envelopes and a client. Pure encoding plus the client's socket; the
 * server side lives in src/server/rcp.
 */
export {
  FrameError,
  checkFrameCrc,
  encodeFrame,
  encodeMessageFrame,
  encodeTextFrame,
  flagCompressed,
  flagCrcPresent,
  flagEndStream,
  flagStream,
  flagsKnown,
  frameHeaderSizeBytes,
  frameMagic,
  frameVersion,
  readFrameHeader,
} from "./frame.ts";
export type { Frame, FrameErrorReason, FrameHeader } from "./frame.ts";
export { FrameDecoder } from "./frame-decoder.ts";
export { LineDecoder } from "./line-decoder.ts";
export {
  errorResponse,
  isRetryable,
  okResponse,
  parseRequest,
  validateEnvelope,
  wireError,
  wireErrorCodes,
} from "./messages.ts";
export type {
  RcpRequest,
  RcpResponse,
  RcpStreamEnd,
  RcpStreamEvent,
  RequestParse,
  WireError,
  WireErrorCode,
} from "./messages.ts";
export {
  RcpClient,
  RcpClientError,
  rcpConnectTimeoutMsDefault,
  rcpConnectTimeoutMsMax,
} from "./client.ts";
export type { RcpClientOptions, RcpClientTls, RcpStreamMessage } from "./client.ts";
export type {
  QueryParams,
  QueryResult,
  RowDelta,
  SubscriptionMessage,
  SubscriptionTarget,
} from "./shapes.ts";
