/**
 * @module The web console on the HTTP port (DESIGN.md, "Server"): `GET /console` serves one
 * self-contained page (console-page.html: inline CSS and JS, no build step) and `GET /`
 * redirects to it. The page holds no data, so it loads without a token; everything it shows
 * comes from the authenticated endpoints (`/v1/query|command|admin`, `/v1/ws`) with the token
 * the user types into it. A strict Content-Security-Policy keeps it from loading anything but
 * itself.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";

export const consolePath = "/console";

/**
 * Inline script and style only (the page has no other files), requests only to this origin
 * and its WebSocket (`connect-src 'self'` does not cover ws: in every browser, hence ws: wss:).
 */
export const consoleContentSecurityPolicy =
  "default-src 'self'; script-src 'unsafe-inline' 'self'; style-src 'unsafe-inline' 'self'; " +
  "connect-src 'self' ws: wss:";

/** Adds `GET /console` and the `GET /` redirect to it. */
export function addConsoleRoutes(app: FastifyInstance): void {
  // Read once when the server starts: a missing page fails the start, not a request.
  const page = readFileSync(join(import.meta.dirname, "console-page.html"), "utf8");
  app.get("/", async (_request, reply) => {
    await reply.redirect(consolePath, 302);
  });
  app.get(consolePath, async (_request, reply) => {
    await reply
      .header("content-security-policy", consoleContentSecurityPolicy)
      .header("x-content-type-options", "nosniff")
      .type("text/html; charset=utf-8")
      .send(page);
  });
}
