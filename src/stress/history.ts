// What a stress run recorded over time, for its HTML report and --json: the report-set latency
// histogram, each device's DMA throughput over time, and the faults and recoveries as events.
// The runner feeds a StressRecorder as sets complete; the pure functions below turn what it
// kept into the report's figures. Memory stays bounded however long the run: throughput samples
// are thinned by half when they pass a cap, events past a cap are counted, not kept.
import { linearTicks } from '../report/ticks.js';
import { summarizeLatencies, type LatencySummary } from '../util/percentile.js';
import type { StressFaultKind } from './options.js';

export interface StressEvent {
  /** ms since the rig was up. */
  atMs: number;
  /** The report set it happened in. */
  set: number;
  device: string;
  /** fault: injected before the set's REPORTs; recovery: the coordinator's answer to a failed REPORT; stop: the set ended the run. */
  type: 'fault' | 'recovery' | 'stop';
  kind: StressFaultKind | 'restarted' | 'retired' | 'none' | 'stopped';
  errno: string | null;
}

export interface HistogramBin { fromMs: number; toMs: number; sets: number }

export interface ThroughputBucket {
  /** End of the bucket, ms since the rig was up. */
  endMs: number;
  /** DMA writes logged per second in the bucket, per device (in device order). */
  writesPerSecond: number[];
}

export interface StressHistory {
  latencyHistogram: HistogramBin[];
  throughput: ThroughputBucket[];
  events: StressEvent[];
  /** Events past the cap, counted only. */
  eventsDropped: number;
}

/** A cumulative count of writes per device at a moment. */
export interface WritesSample { atMs: number; writes: number[] }

export const MAX_EVENTS = 2000;
const MAX_SAMPLES = 4096;
export const THROUGHPUT_BUCKETS = 40;
const HISTOGRAM_BINS = 20;

/**
 * Bins of round width (d3 ticks of 0..max) covering every latency; the last bin holds the
 * maximum. Empty for no latency.
 */
export function latencyHistogram(latenciesMs: ArrayLike<number>, bins = HISTOGRAM_BINS): HistogramBin[] {
  if (latenciesMs.length === 0) return [];
  let max = 0;
  for (let i = 0; i < latenciesMs.length; i++) max = Math.max(max, latenciesMs[i]!);
  const edges = linearTicks(max, bins).values;
  const width = edges[1]! - edges[0]!;
  const out = edges.slice(0, -1).map((from, i) => ({ fromMs: from, toMs: edges[i + 1]!, sets: 0 }));
  for (let i = 0; i < latenciesMs.length; i++) out[Math.min(out.length - 1, Math.floor(latenciesMs[i]! / width))]!.sets++;
  return out;
}

/** Cumulative writes at `atMs`, interpolated linearly between the samples around it. */
function writesAt(samples: WritesSample[], atMs: number, device: number): number {
  if (atMs <= samples[0]!.atMs) return samples[0]!.writes[device]!;
  for (let i = 1; i < samples.length; i++) {
    const b = samples[i]!;
    if (b.atMs < atMs) continue;
    const a = samples[i - 1]!;
    const span = b.atMs - a.atMs;
    return span <= 0 ? b.writes[device]! : a.writes[device]! + ((atMs - a.atMs) / span) * (b.writes[device]! - a.writes[device]!);
  }
  return samples.at(-1)!.writes[device]!;
}

/** Writes per second per device in `buckets` equal slices of [0, endMs]. */
export function throughputBuckets(samples: WritesSample[], endMs: number, buckets = THROUGHPUT_BUCKETS): ThroughputBucket[] {
  if (samples.length === 0 || endMs <= 0) return [];
  const devices = samples[0]!.writes.length;
  const n = Math.max(1, Math.min(buckets, samples.length - 1));
  const width = endMs / n;
  const out: ThroughputBucket[] = [];
  for (let k = 1; k <= n; k++) {
    const from = (k - 1) * width;
    const to = k * width;
    out.push({ endMs: to, writesPerSecond: Array.from({ length: devices }, (_, d) => ((writesAt(samples, to, d) - writesAt(samples, from, d)) / width) * 1000) });
  }
  return out;
}

/** What the runner feeds while the run goes on. */
export class StressRecorder {
  #latencies = new Float64Array(1024);
  #count = 0;
  #samples: WritesSample[] = [];
  /** Keep every `#stride`-th sample offered (doubles each time the cap is hit). */
  #stride = 1;
  #offered = 0;
  readonly events: StressEvent[] = [];
  eventsDropped = 0;

  constructor(devices: number) {
    this.#samples.push({ atMs: 0, writes: new Array<number>(devices).fill(0) });
  }

  latency(ms: number): void {
    if (this.#count === this.#latencies.length) {
      const grown = new Float64Array(this.#latencies.length * 2);
      grown.set(this.#latencies);
      this.#latencies = grown;
    }
    this.#latencies[this.#count++] = ms;
  }

  sample(atMs: number, writes: readonly number[]): void {
    if (this.#offered++ % this.#stride !== 0) return;
    this.#samples.push({ atMs, writes: [...writes] });
    if (this.#samples.length > MAX_SAMPLES) {
      this.#samples = this.#samples.filter((_, i) => i % 2 === 0);
      this.#stride *= 2;
    }
  }

  event(e: StressEvent): void {
    if (this.events.length < MAX_EVENTS) this.events.push(e);
    else this.eventsDropped++;
  }

  get latencies(): Float64Array {
    return this.#latencies.subarray(0, this.#count);
  }

  /** Rounded to the microsecond: finer digits are timer noise. */
  summary(): LatencySummary | null {
    const s = summarizeLatencies(this.latencies);
    if (s === null) return null;
    const us = (v: number) => Math.round(v * 1000) / 1000;
    return { count: s.count, minMs: us(s.minMs), p50Ms: us(s.p50Ms), p90Ms: us(s.p90Ms), p99Ms: us(s.p99Ms), maxMs: us(s.maxMs), meanMs: us(s.meanMs) };
  }

  /** The history up to `endMs`, with a last sample of the final counts. */
  history(endMs: number, finalWrites: readonly number[]): StressHistory {
    const samples = [...this.#samples, { atMs: endMs, writes: [...finalWrites] }];
    const throughput = throughputBuckets(samples, endMs).map((b) => ({ endMs: Math.round(b.endMs * 10) / 10, writesPerSecond: b.writesPerSecond.map(Math.round) }));
    const events = this.events.map((e) => ({ ...e, atMs: Math.round(e.atMs * 10) / 10 }));
    return { latencyHistogram: latencyHistogram(this.latencies), throughput, events, eventsDropped: this.eventsDropped };
  }
}
