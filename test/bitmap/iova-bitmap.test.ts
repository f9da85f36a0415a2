// contract §5 geometry of the user bitmap writer on its own (one thread): bit n covers
// [iova + n*P, iova + (n+1)*P), lives in byte n/8 bit n%8 from any byte address, only ORs bits
// below ceil(length/P), and leaves every other byte alone.
import test from 'ava';
import { IovaBitmap, reportBitCount, type Contract } from '../../src/bitmap/iova-bitmap.js';
import { PAGE, presetBits, setBits } from '../helpers/abi.js';

const CONTRACTS: Contract[] = ['atomic', 'plain'];
const MEMORY_BYTES = 4096;

/** Memory filled with `fill`, a bitmap at `at` for the window, and a snapshot to diff against. */
function setup(at: number, window: { iova: bigint; length: bigint; pageSize: bigint }, contract: Contract = 'atomic', fill = 0) {
  const memory = new SharedArrayBuffer(MEMORY_BYTES);
  const bytes = new Uint8Array(memory);
  bytes.fill(fill);
  return { memory, bytes, bitmap: new IovaBitmap(memory, at, window, contract) };
}

/** Every byte except [at, at + n) is as in `before`. */
function untouchedOutside(bytes: Uint8Array, before: Uint8Array, at: number, n: number): boolean {
  for (let i = 0; i < bytes.length; i++) if ((i < at || i >= at + n) && bytes[i] !== before[i]) return false;
  return true;
}

test('reportBitCount is ceil(length / P)', (t) => {
  t.is(reportBitCount(1n, PAGE), 1);
  t.is(reportBitCount(PAGE, PAGE), 1);
  t.is(reportBitCount(PAGE + 1n, PAGE), 2);
  t.is(reportBitCount((1n << 64n) - 1n, 1n << 63n), 2);
});

for (const contract of CONTRACTS) {
  test(`${contract}: bit n is bit n%8 of byte n/8 (u64 words, little-endian)`, (t) => {
    const { bytes, bitmap } = setup(64, { iova: 0n, length: 256n * PAGE, pageSize: PAGE }, contract);
    for (const n of [0, 7, 8, 31, 32, 63, 64, 100, 255]) bitmap.setBits(n, n);
    bitmap.flush();
    t.deepEqual(setBits(bytes, 64, 256), [0, 7, 8, 31, 32, 63, 64, 100, 255]);
    t.deepEqual([...bytes.subarray(64, 64 + 13)], [0x81, 0x01, 0, 0x80, 0x01, 0, 0, 0x80, 0x01, 0, 0, 0, 0x10]);
    t.is(bytes[64 + 31], 0x80);
    t.is(bitmap.bitsSet, 9);
  });

  test(`${contract}: bit 0 starts at the report iova, which need not be aligned`, (t) => {
    const iova = 0x5800n; // not a multiple of P
    const { bytes, bitmap } = setup(0, { iova, length: 8n * PAGE, pageSize: PAGE }, contract);
    bitmap.set(iova - 1n, 1n); // just before the window: nothing
    bitmap.set(iova, 1n); // bit 0
    bitmap.set(iova + 2n * PAGE - 1n, 2n); // last byte of bit 1, first of bit 2
    bitmap.set(iova + 5n * PAGE + 100n, 1n); // bit 5
    bitmap.flush();
    t.deepEqual(setBits(bytes, 0, 64), [0, 1, 2, 5]);
    t.is(bitmap.bitsSet, 4);
  });

  test(`${contract}: nothing at or past ceil(length/P); the partial last word keeps its other bits`, (t) => {
    const at = 128;
    const window = { iova: 0x10000n, length: 69n * PAGE + 1n, pageSize: PAGE }; // 70 bits: word 1 partial
    const { bytes, bitmap } = setup(at, window, contract);
    presetBits(bytes.buffer as SharedArrayBuffer, at, [70, 71, 100, 127]); // user bits past the end
    const before = bytes.slice();
    bitmap.set(0n, 1n << 40n); // covers the window and far beyond on both sides
    bitmap.flush();
    bitmap.setBits(5000, 6000);
    bitmap.flush();
    const expected = [...Array.from({ length: 70 }, (_, n) => n), 70, 71, 100, 127];
    t.deepEqual(setBits(bytes, at, 128), expected);
    t.true(untouchedOutside(bytes, before, at, 16));
    t.is(bitmap.bitCount, 70);
    t.is(bitmap.bitsSet, 70);
  });

  test(`${contract}: an unaligned bitmap pointer is written byte-wise from that address`, (t) => {
    for (const at of [1, 2, 3, 5, 6, 7]) {
      const { bytes, bitmap } = setup(at + 256, { iova: 0n, length: 100n * PAGE, pageSize: PAGE }, contract);
      const before = bytes.slice();
      for (const n of [0, 9, 31, 32, 33, 63, 64, 99]) bitmap.setBits(n, n);
      bitmap.setBits(40, 47);
      bitmap.flush();
      t.deepEqual(setBits(bytes, at + 256, 128), [0, 9, 31, 32, 33, 40, 41, 42, 43, 44, 45, 46, 47, 63, 64, 99], `at +${at}`);
      t.true(untouchedOutside(bytes, before, at + 256, 13), `at +${at}: only ceil(100/8) bytes may change`);
    }
  });

  test(`${contract}: bits the user already set stay set`, (t) => {
    const { bytes, bitmap } = setup(8, { iova: 0n, length: 64n * PAGE, pageSize: PAGE }, contract);
    presetBits(bytes.buffer as SharedArrayBuffer, 8, [1, 3, 33, 62]);
    bitmap.setBits(2, 3);
    bitmap.setBits(40, 40);
    bitmap.flush();
    t.deepEqual(setBits(bytes, 8, 64), [1, 2, 3, 33, 40, 62]);
  });
}

test('plain contract: a concurrent bit set between load and store is lost (the merged kernel\'s RMW)', (t) => {
  // Single-threaded demonstration: the word is loaded when first touched and stored at flush.
  const { bytes, bitmap } = setup(0, { iova: 0n, length: 32n * PAGE, pageSize: PAGE }, 'plain');
  bitmap.setBits(0, 0);
  bytes[1] = 0x01; // "another tracker" sets bit 8 meanwhile
  bitmap.flush();
  t.deepEqual(setBits(bytes, 0, 32), [0]);
  const atomic = setup(0, { iova: 0n, length: 32n * PAGE, pageSize: PAGE }, 'atomic');
  atomic.bitmap.setBits(0, 0);
  atomic.bytes[1] = 0x01;
  atomic.bitmap.flush();
  t.deepEqual(setBits(atomic.bytes, 0, 32), [0, 8]);
});

test('set clips to the window on both sides and handles a window ending at 2^64 - 1', (t) => {
  const top = (1n << 64n) - 1n;
  const { bytes, bitmap } = setup(0, { iova: top - 3n * PAGE + 1n, length: 3n * PAGE - 1n, pageSize: PAGE });
  t.is(bitmap.bitCount, 3);
  bitmap.set(top - PAGE + 1n, PAGE); // the last bit (one byte short of a page), and past 2^64 - 1
  bitmap.flush();
  t.deepEqual(setBits(bytes, 0, 64), [2]);
  bitmap.set(top - PAGE, 1n); // the last byte of bit 1
  bitmap.set(0n, top - 3n * PAGE + 1n); // everything before the window
  bitmap.flush();
  t.deepEqual(setBits(bytes, 0, 64), [1, 2]);
});

test('a granule projection: T > P replicates, T < P coalesces, unaligned iova straddles', (t) => {
  const run = (T: bigint, P: bigint, iova: bigint, granule: bigint) => {
    const { bytes, bitmap } = setup(0, { iova, length: 64n * P, pageSize: P });
    bitmap.project(T, granule, 0).setGranule(0);
    bitmap.flush();
    return setBits(bytes, 0, 64);
  };
  t.deepEqual(run(16384n, PAGE, 0n, 1n), [4, 5, 6, 7]); // [16K, 32K) at 4K
  t.deepEqual(run(PAGE, 16384n, 0n, 5n), [1]); // [20K, 24K) at 16K
  t.deepEqual(run(PAGE, PAGE, 0x800n, 1n), [0, 1]); // [4K, 8K) against bits at 2K offset
  t.deepEqual(run(16384n, PAGE, 0x800n, 1n), [3, 4, 5, 6, 7]); // [16K, 32K) from 2K
  t.deepEqual(run(16384n, PAGE, 20480n, 1n), [0, 1, 2]); // granule starts before the window
});

// Bit indexes past 2^31 and 2^32 (a bitmap in up to 4 GiB of user memory holds 2^35 bits): every
// conversion from bit to word and byte must stay exact (32-bit shifts would drop or move bits).
const HUGE_MEMORY_BYTES = 2 ** 32; // allocated lazily: only the pages touched cost memory
const FAR_BITS = [2 ** 31 + 5, 2 ** 32 + 77, 2 ** 34 + 3, 2 ** 35 - 1];

function bitIsSet(bytes: Uint8Array, at: number, bit: number): boolean {
  return ((bytes[at + Math.floor(bit / 8)]! >>> (bit % 8)) & 1) === 1;
}

for (const contract of CONTRACTS) {
  for (const at of [0, 3]) {
    test(`${contract}, bitmap at byte ${at}: bits at 2^31 + 5 … 2^35 - 1 land exactly where they belong`, (t) => {
      const memory = new SharedArrayBuffer(HUGE_MEMORY_BYTES);
      const bytes = new Uint8Array(memory);
      const window = { iova: 0n, length: BigInt(2 ** 35 - 8 * at) * PAGE, pageSize: PAGE };
      const bitmap = new IovaBitmap(memory, at, window, contract);
      const bits = FAR_BITS.filter((b) => b < bitmap.bitCount);
      for (const b of bits) bitmap.set(BigInt(b) * PAGE, 1n);
      bitmap.orMask(2 ** 33 + 30, 0b111); // unaligned run across a word boundary: bits +30, +31, +32
      bitmap.flush();
      t.is(bitmap.bitsSet, bits.length + 3);
      for (const b of [...bits, 2 ** 33 + 30, 2 ** 33 + 31, 2 ** 33 + 32]) t.true(bitIsSet(bytes, at, b), `bit ${b}`);
      // Nothing else near them: the aliases a 32-bit shift would hit, and the neighbours.
      for (const b of [5, 77, 3, 2 ** 31 + 4, 2 ** 31 + 6, 2 ** 32 + 76, 2 ** 33 + 29, 2 ** 33 + 33]) t.false(bitIsSet(bytes, at, b), `bit ${b}`);
    });
  }
}

test('a window of 2^35 bits is clipped at its last bit, not at a 32-bit wrap of it', (t) => {
  const memory = new SharedArrayBuffer(HUGE_MEMORY_BYTES);
  const bytes = new Uint8Array(memory);
  const bitmap = new IovaBitmap(memory, 0, { iova: 0n, length: BigInt(2 ** 35 - 3) * PAGE, pageSize: PAGE });
  bitmap.setBits(2 ** 35 - 10, 2 ** 35 + 10); // runs past the end: clipped to bit 2^35 - 4
  bitmap.flush();
  t.is(bitmap.bitsSet, 7);
  t.true(bitIsSet(bytes, 0, 2 ** 35 - 4));
  t.false(bitIsSet(bytes, 0, 2 ** 35 - 3));
  t.is(bytes[0], 0);
});
