import test from 'ava';
import fc from 'fast-check';
import { intersect, normalize, subtract, totalLength } from '../../src/coordinator/range-set.js';
import type { LoggingRange } from '../../src/uapi/structs.js';

const r = (iova: number, length: number): LoggingRange => ({ iova: BigInt(iova), length: BigInt(length) });

test('normalize sorts, joins overlapping and touching ranges, drops empty ones', (t) => {
  t.deepEqual(normalize([r(30, 10), r(0, 10), r(10, 5), r(50, 0), r(35, 10)]), [r(0, 15), r(30, 15)]);
  t.deepEqual(normalize([r(0, 100), r(10, 5)]), [r(0, 100)]);
  t.deepEqual(normalize([]), []);
});

test('normalize copies: its input is left as it was', (t) => {
  const input = [r(10, 5), r(0, 10)];
  normalize(input)[0]!.length = 999n;
  t.deepEqual(input, [r(10, 5), r(0, 10)]);
});

test('intersect clips each range to the window', (t) => {
  const set = [r(0, 10), r(20, 10), r(40, 10)];
  t.deepEqual(intersect(set, r(5, 20)), [r(5, 5), r(20, 5)]);
  t.deepEqual(intersect(set, r(10, 10)), []);
  t.deepEqual(intersect(set, r(0, 100)), set);
});

test('subtract splits a range the window falls inside', (t) => {
  t.deepEqual(subtract([r(0, 100)], r(40, 20)), [r(0, 40), r(60, 40)]);
  t.deepEqual(subtract([r(0, 10), r(20, 10)], r(5, 20)), [r(0, 5), r(25, 5)]);
  t.deepEqual(subtract([r(0, 10)], r(0, 10)), []);
  t.deepEqual(subtract([r(0, 10)], r(10, 5)), [r(0, 10)]);
});

test('totalLength sums bigint lengths past 2^53', (t) => {
  t.is(totalLength([r(0, 10), { iova: 1n << 60n, length: (1n << 62n) + 1n }]), (1n << 62n) + 11n);
  t.is(totalLength([]), 0n);
});

// A naive model: a range set as the set of unit addresses it holds.
const units = (set: readonly LoggingRange[]) => {
  const s = new Set<number>();
  for (const x of set) for (let a = Number(x.iova); a < Number(x.iova + x.length); a++) s.add(a);
  return s;
};
const arbRange = fc.record({ iova: fc.integer({ min: 0, max: 60 }), length: fc.integer({ min: 0, max: 20 }) }).map((x) => r(x.iova, x.length));

test('normalize, intersect and subtract agree with a unit-set model', (t) => {
  fc.assert(fc.property(fc.array(arbRange, { maxLength: 8 }), arbRange, (ranges, window) => {
    const set = normalize(ranges);
    // Normal form: sorted, disjoint, non-touching, no empty range.
    for (let i = 0; i < set.length; i++) {
      if (set[i]!.length <= 0n) return false;
      if (i > 0 && set[i - 1]!.iova + set[i - 1]!.length >= set[i]!.iova) return false;
    }
    const all = units(ranges);
    const w = units([window]);
    const same = (a: Set<number>, b: Set<number>) => a.size === b.size && [...a].every((x) => b.has(x));
    return same(units(set), all) &&
      same(units(intersect(set, window)), new Set([...all].filter((x) => w.has(x)))) &&
      same(units(subtract(set, window)), new Set([...all].filter((x) => !w.has(x)))) &&
      totalLength(set) === BigInt(all.size);
  }));
  t.pass();
});
