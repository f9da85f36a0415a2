import test from 'ava';
import { MAX_EVENTS, StressRecorder, latencyHistogram, throughputBuckets } from '../../src/stress/history.js';

test('latency histogram: round bins from 0, every set in one bin, the maximum in the last', (t) => {
  const latencies = [0.2, 0.4, 1.1, 3.9, 9.7, 0.05];
  const bins = latencyHistogram(latencies, 10);
  t.is(bins[0]!.fromMs, 0);
  t.is(bins.at(-1)!.toMs, 10);
  t.is(bins.reduce((a, b) => a + b.sets, 0), latencies.length);
  for (const [i, b] of bins.entries()) if (i > 0) t.is(b.fromMs, bins[i - 1]!.toMs);
  t.is(bins.at(-1)!.sets, 1); // 9.7
  t.is(bins[0]!.sets, 3); // 0.05, 0.2, 0.4 in [0, 1)
  t.deepEqual(latencyHistogram([]), []);
  t.is(latencyHistogram([0, 0]).reduce((a, b) => a + b.sets, 0), 2);
});

test('throughput: a steady writer gives its rate in every bucket, a stalled one 0 where it stalled', (t) => {
  // Device 0 writes 1000 per ms throughout; device 1 stops after 50 ms.
  const samples = Array.from({ length: 11 }, (_, i) => ({ atMs: i * 10, writes: [i * 10_000, Math.min(i, 5) * 5_000] }));
  const buckets = throughputBuckets(samples, 100, 10);
  t.is(buckets.length, 10);
  for (const b of buckets) t.is(Math.round(b.writesPerSecond[0]!), 1_000_000);
  t.deepEqual(buckets.map((b) => Math.round(b.writesPerSecond[1]!)), [500_000, 500_000, 500_000, 500_000, 500_000, 0, 0, 0, 0, 0]);
  t.deepEqual(buckets.map((b) => b.endMs), [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
  // Fewer samples than buckets: no more buckets than intervals between samples.
  t.is(throughputBuckets(samples.slice(0, 3), 20, 40).length, 2);
  t.deepEqual(throughputBuckets([], 100), []);
});

test('the recorder stays bounded: samples thinned, events past the cap counted', (t) => {
  const r = new StressRecorder(2);
  for (let i = 1; i <= 20_000; i++) {
    r.sample(i, [i, 2 * i]);
    r.latency(i % 7);
  }
  for (let i = 0; i < MAX_EVENTS + 5; i++) r.event({ atMs: i, set: i, device: 'mlx5-0', type: 'fault', kind: 'report-error', errno: null });
  const h = r.history(20_001, [20_001, 40_002]);
  t.is(h.events.length, MAX_EVENTS);
  t.is(h.eventsDropped, 5);
  t.is(h.throughput.length, 40);
  for (const b of h.throughput) {
    t.true(Math.abs(b.writesPerSecond[0]! - 1000) <= 1, String(b.writesPerSecond[0]));
    t.true(Math.abs(b.writesPerSecond[1]! - 2000) <= 2);
  }
  const s = r.summary()!;
  t.is(s.count, 20_000);
  t.is(s.maxMs, 6);
  t.is(s.minMs, 0);
  t.is(h.latencyHistogram.reduce((a, b) => a + b.sets, 0), 20_000);
});
