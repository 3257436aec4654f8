/** @module The HTTP listener's public surface (server.ts). */
export { startHttpServer } from "./server.ts";
export type { HttpServer, HttpServerOptions } from "./server.ts";
export { forwardedHeader } from "./forward.ts";
export type { WriteForwarding } from "./forward.ts";
