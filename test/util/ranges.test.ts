import test from 'ava';
import { compareRanges, sortRanges } from '../../src/util/ranges.js';

const r = (iova: number, length: number) => ({ iova: BigInt(iova), length: BigInt(length) });

test('sortRanges orders by iova, then length, and leaves its input alone', (t) => {
  const input = [r(9, 1), r(0, 2), r(4, 3), r(4, 1)];
  t.deepEqual(sortRanges(input), [r(0, 2), r(4, 1), r(4, 3), r(9, 1)]);
  t.deepEqual(input, [r(9, 1), r(0, 2), r(4, 3), r(4, 1)]);
});

test('compareRanges works past 2^53 (bigint, no subtraction to number)', (t) => {
  const top = (1n << 64n) - 4096n;
  t.is(compareRanges({ iova: top, length: 1n }, { iova: top - 1n, length: 1n }), 1);
  t.is(compareRanges({ iova: top, length: 1n }, { iova: top, length: 2n }), -1);
  t.is(compareRanges({ iova: top, length: 2n }, { iova: top, length: 2n }), 0);
});
