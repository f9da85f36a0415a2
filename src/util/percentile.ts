// Percentiles of a sample by the nearest-rank method: the p-th percentile is the smallest value
// with at least p % of the sample at or below it, so it is always a value that was measured
// (p99 of 100 sets is the 99th slowest, not an interpolation between two sets).

/** The p-th percentile (0 < p ≤ 100) of `sorted` (ascending). NaN for an empty sample. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (!(p > 0 && p <= 100)) throw new RangeError(`percentile ${p} is not in (0, 100]`);
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export interface LatencySummary {
  count: number;
  minMs: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
}

/** Count, min, p50, p90, p99, max and mean of latencies in ms; null for none. */
export function summarizeLatencies(latenciesMs: ArrayLike<number>): LatencySummary | null {
  if (latenciesMs.length === 0) return null;
  const sorted = Float64Array.from(latenciesMs).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    count: sorted.length, minMs: sorted[0]!, p50Ms: percentile(sorted, 50), p90Ms: percentile(sorted, 90), p99Ms: percentile(sorted, 99),
    maxMs: sorted[sorted.length - 1]!, meanMs: sum / sorted.length,
  };
}
