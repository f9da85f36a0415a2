// The user-memory allocator in one thread: top-down first fit, coalescing on free, refusals coded.
import test from 'ava';
import fc from 'fast-check';
import { UserAllocator } from '../../src/host/allocator.js';
import { DmalogError, VfioError } from '../../src/errors.js';

const SIZE = 1 << 16;
const badOption = { instanceOf: DmalogError, code: 'DMALOG_BAD_OPTION' } as const;

test('without frees it hands out memory from the top down like a bump allocator, padding included', (t) => {
  const a = new UserAllocator(SIZE);
  t.is(a.alloc(24), SIZE - 24);
  t.is(a.alloc(10), SIZE - 40, 'aligned to 8 below the last one');
  t.is(a.alloc(8, 4096), SIZE - 4096);
  t.is(a.alloc(1), SIZE - 4104, 'the padding above the 4 KiB-aligned block went with it');
  t.is(a.freeBytes, SIZE - 4104);
});

test('a freed block is reused first fit from the top, and neighbours coalesce back to one block', (t) => {
  const a = new UserAllocator(SIZE);
  const [x, y, z] = [a.alloc(4096), a.alloc(4096), a.alloc(4096)];
  t.deepEqual([x, y, z], [SIZE - 4096, SIZE - 8192, SIZE - 12288]);
  a.free(y);
  t.is(a.alloc(1024), SIZE - 4096 - 1024, 'the hole of y, at its top end');
  a.free(SIZE - 4096 - 1024);
  // x and z around the hole: freeing both leaves the whole memory as one free block.
  a.free(x);
  a.free(z);
  t.is(a.freeBytes, SIZE);
  t.is(a.largestFree, SIZE, 'coalesced: one block spans the whole memory');
  t.is(a.alloc(SIZE), 0, 'so the whole memory can be allocated again');
});

test('ENOMEM when no free block fits, even when the free bytes add up to enough', (t) => {
  const a = new UserAllocator(3 * 4096);
  const [x, , z] = [a.alloc(4096), a.alloc(4096), a.alloc(4096)];
  a.free(x);
  a.free(z);
  t.is(a.freeBytes, 8192);
  const error = t.throws(() => a.alloc(8192), { instanceOf: VfioError });
  t.is(error?.errno, 'ENOMEM');
  t.is(a.alloc(4096), 8192, 'a block that fits still works');
});

test('double free and foreign pointers → DMALOG_BAD_OPTION; nothing moves', (t) => {
  const a = new UserAllocator(SIZE);
  const x = a.alloc(64);
  a.free(x);
  t.throws(() => a.free(x), badOption, 'double free');
  const y = a.alloc(64);
  for (const p of [y + 8, 0, -1, SIZE, 0.5, NaN]) t.throws(() => a.free(p), badOption, `foreign ${p}`);
  t.is(a.freeBytes, SIZE - 64, 'only y is live');
  a.free(y);
  t.is(a.freeBytes, SIZE);
});

test('fast-check: any sequence of allocs and frees keeps live blocks disjoint, in bounds, aligned, and frees all back', (t) => {
  fc.assert(fc.property(fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 1, max: 3000 }), fc.integer({ min: 0, max: 12 })), { maxLength: 80 }), (ops) => {
    const a = new UserAllocator(SIZE);
    const live: Array<{ at: number; bytes: number }> = [];
    for (const [doFree, bytes, alignLog] of ops) {
      if (doFree && live.length > 0) {
        const [gone] = live.splice(bytes % live.length, 1);
        a.free(gone!.at);
        continue;
      }
      const align = 1 << alignLog;
      let at: number;
      try { at = a.alloc(bytes, align); } catch (error) {
        if (error instanceof VfioError && error.errno === 'ENOMEM') continue;
        throw error;
      }
      if (at % align !== 0 || at < 0 || at + bytes > SIZE) return false;
      if (live.some((l) => at < l.at + l.bytes && l.at < at + bytes)) return false;
      live.push({ at, bytes });
    }
    for (const l of live) a.free(l.at);
    return a.freeBytes === SIZE && a.largestFree === SIZE;
  }), { numRuns: 300, seed: 10 });
  t.pass();
});
