import test from 'ava';
import { ceilDiv, floorDiv, isPowerOfTwo, popcount32 } from '../../src/util/bits.js';

test('floorDiv/ceilDiv on bigints round toward -∞/+∞', (t) => {
  t.deepEqual([floorDiv(-1n, 4n), floorDiv(-4n, 4n), floorDiv(5n, 4n), ceilDiv(-1n, 4n), ceilDiv(5n, 4n), ceilDiv(8n, 4n)], [-1n, -1n, 1n, 0n, 2n, 2n]);
  t.is(ceilDiv((1n << 64n) - 1n, 1n << 63n), 2n);
});

test('ceilDiv on numbers agrees with bigint division up to 2^53', (t) => {
  t.deepEqual([0, 1, 8, 9, -1, -9, 7].map((a, i) => ceilDiv(a, i === 6 ? -2 : 8)), [0, 1, 1, 2, -0, -1, -3]);
  for (const b of [3, 7, 32, 4096, 1e6, 2 ** 52 + 1]) {
    for (const a of [2 ** 53 - 1, 2 ** 53 - 2, Math.floor((2 ** 53 - 1) / b) * b + 1, Math.floor((2 ** 53 - 1) / b) * b - 1]) {
      t.is(ceilDiv(a, b), Number(ceilDiv(BigInt(a), BigInt(b))), `${a} / ${b}`);
    }
  }
});

test('isPowerOfTwo for numbers past 2^31 and bigints', (t) => {
  t.deepEqual([0, 1, 2, 3, 4096, 2 ** 31, 2 ** 40, 2 ** 40 + 1, -4, 0.5].map(isPowerOfTwo), [false, true, true, false, true, true, true, false, false, false]);
  t.deepEqual([0n, 1n, 3n, 1n << 63n, (1n << 63n) + 1n, -2n].map(isPowerOfTwo), [false, true, false, true, false, false]);
});

test('popcount32 counts uint32 and int32 words alike', (t) => {
  t.deepEqual([0, 1, 0xff, 0x80000000, 0xffffffff, 0x55555555, -1, -2147483648].map(popcount32), [0, 1, 8, 1, 32, 16, 32, 1]);
});
