import test from 'ava';
import fc from 'fast-check';
import { percentile, summarizeLatencies } from '../../src/util/percentile.js';

const oneTo = (n: number) => Float64Array.from({ length: n }, (_, i) => i + 1);

test('nearest rank: p50, p99 and p100 of 1..100 are 50, 99 and 100; of 1..10 p99 is 10', (t) => {
  t.is(percentile(oneTo(100), 50), 50);
  t.is(percentile(oneTo(100), 99), 99);
  t.is(percentile(oneTo(100), 100), 100);
  t.is(percentile(oneTo(10), 99), 10);
  t.is(percentile(oneTo(10), 50), 5);
  t.is(percentile(oneTo(10), 1), 1);
  t.is(percentile([7], 50), 7);
  t.true(Number.isNaN(percentile([], 50)));
});

test('a percentile outside (0, 100] is a RangeError', (t) => {
  for (const p of [0, -1, 100.5, Number.NaN]) t.throws(() => percentile([1, 2], p), { instanceOf: RangeError }, String(p));
});

test('for any sample: the p-th percentile was measured, at least p % lie at or below it and fewer below', (t) => {
  fc.assert(fc.property(fc.array(fc.double({ min: 0, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 300 }), fc.double({ min: 0.01, max: 100, noNaN: true }), (values, p) => {
    const sorted = Float64Array.from(values).sort();
    const v = percentile(sorted, p);
    const atOrBelow = values.filter((x) => x <= v).length;
    const below = values.filter((x) => x < v).length;
    return values.includes(v) && atOrBelow >= (p / 100) * values.length && below < (p / 100) * values.length;
  }));
  t.pass();
});

test('summary of latencies: unsorted input, mean, min and max; null for none', (t) => {
  const s = summarizeLatencies([5, 1, 4, 2, 3])!;
  t.deepEqual(s, { count: 5, minMs: 1, p50Ms: 3, p90Ms: 5, p99Ms: 5, maxMs: 5, meanMs: 3 });
  t.is(summarizeLatencies([]), null);
});
