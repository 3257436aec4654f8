/** @module The WebSocket endpoint's public surface (gateway.ts; sessions in session.ts). */
export { createWebSocketGateway, webSocketPath } from "./gateway.ts";
export type { WebSocketGateway, WebSocketGatewayOptions } from "./gateway.ts";
