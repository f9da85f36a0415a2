import test from 'ava';
import fc from 'fast-check';
import { WORKLOAD_KINDS, checkWorkload, generatePages, type WorkloadSpec } from '../../src/workload/workload.js';

const spec = (over: Partial<WorkloadSpec> = {}): WorkloadSpec =>
  ({ kind: 'uniform', pageBase: 100, pageCount: 1000, writer: 1, writers: 4, stream: 3, ...over });

test('the same seed, stream and burst give the same pages; any one changed gives others', (t) => {
  for (const kind of WORKLOAD_KINDS) {
    const s = spec({ kind });
    const pages = [...generatePages(s, 42n, 7, 256)];
    t.deepEqual([...generatePages(s, 42n, 7, 256)], pages, kind);
    t.notDeepEqual([...generatePages(s, 43n, 7, 256)], pages, kind);
    t.notDeepEqual([...generatePages({ ...s, stream: 4 }, 42n, 7, 256)], pages, kind);
    if (kind !== 'ring') t.notDeepEqual([...generatePages(s, 42n, 8, 256)], pages, kind);
  }
});

test('every kind stays inside [pageBase, pageBase + pageCount)', (t) => {
  fc.assert(fc.property(
    fc.constantFrom(...WORKLOAD_KINDS), fc.integer({ min: 0, max: 1 << 20 }), fc.integer({ min: 8, max: 5000 }),
    fc.integer({ min: 1, max: 8 }), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.nat(1000),
    (kind, pageBase, pageCount, writers, seed, burst) => {
      const s = spec({ kind, pageBase, pageCount, writers, writer: writers - 1 });
      checkWorkload(s);
      return generatePages(s, seed, burst, 300).every((p) => p >= pageBase && p < pageBase + pageCount);
    },
  ));
  t.pass();
});

test('shared-words: writer t of N writes only pages ≡ t (mod N), so writers share every bitmap word', (t) => {
  const n = 8;
  const words = new Map<number, Set<number>>();
  for (let w = 0; w < n; w++) {
    for (const p of generatePages(spec({ kind: 'shared-words', pageBase: 0, pageCount: 4096, writer: w, writers: n }), 1n, 0, 2000)) {
      t.is(p % n, w);
      const word = p >>> 5;
      if (!words.has(word)) words.set(word, new Set());
      words.get(word)!.add(w);
    }
  }
  const shared = [...words.values()].filter((writers) => writers.size > 1).length;
  t.true(shared > words.size * 0.9, `${shared} of ${words.size} words have bits of several writers`);
});

test('ring: burst k continues where burst k-1 stopped, wrapping at the end of the space', (t) => {
  const s = spec({ kind: 'ring', pageBase: 10, pageCount: 100 });
  const b0 = [...generatePages(s, 5n, 0, 60)];
  const b1 = [...generatePages(s, 5n, 1, 60)];
  const seq = [...b0, ...b1];
  for (let i = 1; i < seq.length; i++) t.is(seq[i], 10 + ((seq[i - 1]! - 10 + 1) % 100));
});

test('ring with ringAt: bursts of different counts continue one another', (t) => {
  const s = spec({ kind: 'ring', pageBase: 10, pageCount: 100 });
  const b0 = [...generatePages(s, 5n, 0, 70, undefined, 0)];
  const b1 = [...generatePages(s, 5n, 1, 7, undefined, 70)];
  const b2 = [...generatePages(s, 5n, 2, 45, undefined, 77)];
  const seq = [...b0, ...b1, ...b2];
  for (let i = 1; i < seq.length; i++) t.is(seq[i], 10 + ((seq[i - 1]! - 10 + 1) % 100));
  // Without it, burst 1 of 7 would start at 7 pages past the start, inside burst 0.
  t.is(generatePages(s, 5n, 1, 7)[0], 10 + ((b0[0]! - 10 + 7) % 100));
});

test('hot: about hotProbability of the writes land in the writer\'s hot set, the same set for every stream', (t) => {
  const s = spec({ kind: 'hot', pageBase: 0, pageCount: 16384, hotFraction: 1 / 64, hotProbability: 0.9 });
  const counts = new Map<number, number>();
  for (const stream of [0, 1]) for (const p of generatePages({ ...s, stream }, 9n, 0, 20_000)) counts.set(p, (counts.get(p) ?? 0) + 1);
  // The 256 most written pages form one block (mod the space) and take ~90% of 40k writes.
  const top = [...counts.entries()].sort((a, b) => b[1] - a[1]).slice(0, 256);
  const hot = top.reduce((sum, [, c]) => sum + c, 0);
  t.true(hot > 40_000 * 0.88 && hot < 40_000 * 0.93, `${hot} hot writes`);
  const sorted = top.map(([p]) => p).sort((a, b) => a - b);
  const gaps = sorted.filter((p, i) => i > 0 && p !== sorted[i - 1]! + 1).length;
  t.true(gaps <= 1, 'one contiguous block, possibly wrapping');
});

test('checkWorkload refuses what no generator can serve', (t) => {
  t.throws(() => checkWorkload(spec({ pageCount: 0 })), { code: 'DMALOG_BAD_OPTION' });
  t.throws(() => checkWorkload(spec({ writer: 4 })), { code: 'DMALOG_BAD_OPTION' });
  t.throws(() => checkWorkload(spec({ kind: 'bogus' as never })), { code: 'DMALOG_BAD_OPTION' });
  t.throws(() => checkWorkload(spec({ pageBase: -1 })), { code: 'DMALOG_BAD_OPTION' });
  t.notThrows(() => checkWorkload(spec()));
});
