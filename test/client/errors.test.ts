/**
 * Goal: every code the HTTP and WebSocket endpoints answer becomes the client error class of
 * its kind, including the protocol layer's own codes (not in the database's table).
 * Method: errorFromWire on each code the protocol layer answers.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  ConnectionError,
  InvalidInputError,
  LimitExceededError,
  NotFoundError,
  ServerError,
  TimeoutError,
  errorFromWire,
} from "../../src/client/errors.ts";

test("the protocol layer's codes are typed by what they mean", () => {
  const cases: Array<[string, number, new (...args: never[]) => Error]> = [
    ["INVALID_JSON", 400, InvalidInputError],
    ["UNSUPPORTED_MEDIA_TYPE", 415, InvalidInputError],
    ["METHOD_NOT_ALLOWED", 405, InvalidInputError],
    ["UPGRADE_REQUIRED", 426, InvalidInputError],
    ["NOT_FOUND", 404, NotFoundError],
    ["LIMIT_EXCEEDED", 431, LimitExceededError],
    ["TIMEOUT", 408, TimeoutError],
    ["DISCONNECTED", 502, ConnectionError],
    ["INTERNAL", 500, ServerError],
  ];
  for (const [code, status, type] of cases) {
    const error = errorFromWire({ code, message: "m" }, status);
    assert.ok(error instanceof type, `${code} is ${error.name}`);
    assert.equal(error.code, code);
  }
});
