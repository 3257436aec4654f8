/**
 * @module The per-request metrics (requests by outcome, latency by operation) kept as plain
 * numbers and rendered only when scraped. prom-client's own counter and histogram hash their
 * label set and look up every bucket by its bound on each call: with one call of each per
 * request, that was a twentieth of an RCP server's CPU under load. These two objects render
 * what prom-client's Counter and Histogram would (the same names, labels and lines).
 */
import type { Metric, Registry } from "prom-client";

/** Requests of one (protocol, op): their latency histogram and their count by outcome. */
interface OpSeries {
  readonly protocol: string;
  readonly op: string;
  /** `bucketCounts[i]`: observations in (bounds[i-1], bounds[i]]; the last is above all. */
  readonly bucketCounts: number[];
  sum: number;
  count: number;
  readonly outcomes: Map<string, number>;
}

/** One line of a metric as prom-client renders it. */
interface Line {
  readonly value: number;
  readonly labels: Record<string, string | number>;
  readonly metricName?: string;
}

export class RequestMetrics {
  private readonly series = new Map<string, Map<string, OpSeries>>();

  constructor(
    registry: Registry,
    names: { readonly count: string; readonly latency: string },
    help: { readonly count: string; readonly latency: string },
    private readonly boundsSeconds: readonly number[],
  ) {
    // prom-client renders any registered object with get(); its types list only its classes.
    const register = (metric: object): void => registry.registerMetric(metric as Metric);
    register(this.renderer(names.count, help.count, "counter", () => this.countLines()));
    register(
      this.renderer(names.latency, help.latency, "histogram", () => this.latencyLines(names)),
    );
  }

  /** Counts one request and records how long it took. */
  observe(protocol: string, op: string, outcome: string, seconds: number): void {
    const series = this.seriesOf(protocol, op);
    const bounds = this.boundsSeconds;
    let bucket = 0;
    while (bucket < bounds.length && seconds > bounds[bucket]!) bucket++;
    series.bucketCounts[bucket]!++;
    series.sum += seconds;
    series.count++;
    series.outcomes.set(outcome, (series.outcomes.get(outcome) ?? 0) + 1);
  }

  private seriesOf(protocol: string, op: string): OpSeries {
    let byOp = this.series.get(protocol);
    if (byOp === undefined) this.series.set(protocol, (byOp = new Map<string, OpSeries>()));
    let series = byOp.get(op);
    if (series === undefined) {
      const bucketCounts = new Array<number>(this.boundsSeconds.length + 1).fill(0);
      series = { protocol, op, bucketCounts, sum: 0, count: 0, outcomes: new Map() };
      byOp.set(op, series);
    }
    return series;
  }

  private *allSeries(): Generator<OpSeries> {
    for (const byOp of this.series.values()) yield* byOp.values();
  }

  private countLines(): Line[] {
    const lines: Line[] = [];
    for (const { protocol, op, outcomes } of this.allSeries()) {
      for (const [outcome, value] of outcomes)
        lines.push({ value, labels: { protocol, op, outcome } });
    }
    return lines;
  }

  private latencyLines(names: { readonly latency: string }): Line[] {
    const lines: Line[] = [];
    const bucketName = `${names.latency}_bucket`;
    for (const series of this.allSeries()) {
      const { protocol, op } = series;
      let cumulative = 0;
      // `le` first, where prom-client puts it.
      this.boundsSeconds.forEach((le, i) => {
        cumulative += series.bucketCounts[i]!;
        lines.push({ value: cumulative, labels: { le, protocol, op }, metricName: bucketName });
      });
      lines.push({
        value: series.count,
        labels: { le: "+Inf", protocol, op },
        metricName: bucketName,
      });
      lines.push({
        value: series.sum,
        labels: { protocol, op },
        metricName: `${names.latency}_sum`,
      });
      lines.push({
        value: series.count,
        labels: { protocol, op },
        metricName: `${names.latency}_count`,
      });
    }
    return lines;
  }

  /** The object prom-client's registry renders (and resets, on resetMetrics). */
  private renderer(name: string, help: string, type: string, lines: () => Line[]): object {
    const metric = {
      name,
      help,
      type,
      aggregator: "sum",
      // The registry may rename a counter (OpenMetrics output): the name is read when asked.
      get: () => Promise.resolve({ ...metric, values: lines() }),
      reset: () => this.series.clear(),
    };
    return metric;
  }
}
