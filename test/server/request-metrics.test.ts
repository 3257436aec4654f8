/**
 * Goal: the per-request metrics, kept as plain numbers, render exactly what prom-client's own
 * Counter and Histogram render for the same requests (names, labels, buckets, sums, counts).
 * Method: fast-check sequences of requests fed to both, text output compared line by line
 * (as sets: Prometheus gives the order of a metric's lines no meaning); reset empties both.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { Counter, Histogram, Registry } from "prom-client";
import { RequestMetrics } from "../../src/server/request-metrics.ts";

const bounds = [0.001, 0.01, 0.1, 1];
const names = { count: "t_requests_total", latency: "t_request_duration_seconds" };
const help = { count: "Requests.", latency: "Latency." };

function reference(registry: Registry): (p: string, op: string, o: string, s: number) => void {
  const count = new Counter({
    name: names.count,
    help: help.count,
    labelNames: ["protocol", "op", "outcome"],
    registers: [registry],
  });
  const latency = new Histogram({
    name: names.latency,
    help: help.latency,
    labelNames: ["protocol", "op"],
    buckets: bounds,
    registers: [registry],
  });
  return (protocol, op, outcome, seconds) => {
    count.inc({ protocol, op, outcome });
    latency.observe({ protocol, op }, seconds);
  };
}

const lines = async (registry: Registry): Promise<string[]> =>
  (await registry.metrics()).split("\n").sort();

const request = fc.record({
  protocol: fc.constantFrom("rcp", "http", "ws"),
  op: fc.constantFrom("PING", "APPLY_EVENT", "query", 'odd "op"\\'),
  outcome: fc.constantFrom("ok", "NOT_FOUND", "forwarded"),
  // Bounds themselves included: a value equal to a bound belongs to its bucket.
  seconds: fc.oneof(fc.constantFrom(0, ...bounds), fc.double({ min: 0, max: 5, noNaN: true })),
});

test("request metrics render what prom-client's counter and histogram render", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(request, { maxLength: 60 }), async (requests) => {
      const expected = new Registry();
      const observe = reference(expected);
      const actual = new Registry();
      const metrics = new RequestMetrics(actual, names, help, bounds);
      for (const { protocol, op, outcome, seconds } of requests) {
        observe(protocol, op, outcome, seconds);
        metrics.observe(protocol, op, outcome, seconds);
      }
      assert.deepEqual(await lines(actual), await lines(expected));
      assert.deepEqual(
        (await actual.getMetricsAsJSON()).map((metric) => [metric.name, metric.type]),
        (await expected.getMetricsAsJSON()).map((metric) => [metric.name, metric.type]),
      );
    }),
    { numRuns: 200 },
  );
});

test("resetting the registry empties the request metrics", async () => {
  const registry = new Registry();
  const metrics = new RequestMetrics(registry, names, help, bounds);
  metrics.observe("rcp", "PING", "ok", 0.002);
  assert.match(
    await registry.metrics(),
    /t_requests_total\{protocol="rcp",op="PING",outcome="ok"\} 1/,
  );
  registry.resetMetrics();
  assert.doesNotMatch(await registry.metrics(), /protocol="rcp"/);
});
