import test from 'ava';
import { createPrng } from '../../src/util/prng.js';

test('one seed gives one stream; nearby seeds differ', (t) => {
  const draw = (seed: number | bigint) => { const p = createPrng(seed); return [p.nextU32(), p.nextU32(), p.nextBigU64()]; };
  t.deepEqual(draw(1), draw(1n));
  t.notDeepEqual(draw(1), draw(2));
  t.deepEqual(draw((1n << 64n) + 7n), draw(7));
});

test('int stays inside [lo, hi] and reaches both ends', (t) => {
  const p = createPrng(42);
  const seen = new Set<number>();
  for (let i = 0; i < 10_000; i++) {
    const v = p.int(-3, 3);
    t.true(v >= -3 && v <= 3 && Number.isInteger(v));
    seen.add(v);
  }
  t.is(seen.size, 7);
  for (let i = 0; i < 1000; i++) {
    const v = p.int(0, Number.MAX_SAFE_INTEGER);
    if (!(v >= 0 && v <= Number.MAX_SAFE_INTEGER)) t.fail(`out of range: ${v}`);
  }
});

test('nextFloat is in [0, 1) and nextBigU64 in [0, 2^64)', (t) => {
  const p = createPrng(3);
  let high = false;
  for (let i = 0; i < 10_000; i++) {
    const f = p.nextFloat();
    t.true(f >= 0 && f < 1);
    const b = p.nextBigU64();
    t.true(b >= 0n && b < 1n << 64n);
    if (b >= 1n << 63n) high = true;
  }
  t.true(high);
});
