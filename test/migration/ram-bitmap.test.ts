import test from 'ava';
import { ReportBitmap } from '../../src/coordinator/report-bitmap.js';
import { buildMemoryMap } from '../../src/migration/memory-map.js';
import { RamDirtyBitmap } from '../../src/migration/ram-bitmap.js';

const P = 4096;

test('markRange counts only pages that were clean; takeNext clears from the cursor and wraps', (t) => {
  const ram = new RamDirtyBitmap(1 << 20, P); // 256 pages
  t.is(ram.markRange(10 * P, 3 * P), 3);
  t.is(ram.markRange(11 * P, 1), 0);
  t.is(ram.markRange(200 * P, P), 1);
  t.is(ram.dirtyPages, 4);
  t.is(ram.takeNext(12), 12);
  t.is(ram.takeNext(13), 200);
  t.is(ram.takeNext(201), 10); // wrapped
  t.false(ram.isDirty(10));
  t.true(ram.isDirty(11));
  t.is(ram.takeNext(0), 11);
  t.is(ram.takeNext(0), -1);
  t.is(ram.markAll(), 256);
});

test('a report set for a section merges at the section RAM offset', (t) => {
  const map = buildMemoryMap({ ramBytes: 4 << 20, pageSize: P });
  const upper = map.ram[1]!; // [0xc0000, 4 MiB) at offset 0xc0000
  const memory = new SharedArrayBuffer(4096);
  const report = new ReportBitmap(memory, 0, 1024);
  report.begin({ iova: upper.iova, length: upper.length, pageSize: BigInt(P) }, true);
  new Uint8Array(memory)[0] = 0b101; // bits 0 and 2
  report.complete();
  const ram = new RamDirtyBitmap(map.ramBytes, P);
  ram.markRange(0xc2000, P); // page 194 already dirty
  t.is(ram.merge(upper, report), 1);
  t.true(ram.isDirty(192));
  t.true(ram.isDirty(194));
  t.is(ram.dirtyPages, 2);
  // Drained: the words read were zeroed, so the bitmap is ready for the next set as it is.
  t.is(report.state, 'zeroed');
  t.is(new Uint8Array(memory)[0], 0);
});

test('take hands out runs of consecutive pages up to the budget, from the cursor, wrapping once', (t) => {
  const ram = new RamDirtyBitmap(1 << 20, P); // 256 pages
  ram.markRange(30 * P, 40 * P); // 30..69: spans three words
  ram.markRange(100 * P, P);
  ram.markRange(5 * P, 2 * P);
  const runs: Array<[number, number]> = [];
  t.is(ram.take(40, 35, (first, count) => runs.push([first, count])), 35);
  // 40..69 (30 pages), 100, then wrapped: 5, 6, 30..31
  t.deepEqual(runs, [[40, 30], [100, 1], [5, 2], [30, 2]]);
  t.is(ram.dirtyPages, 8);
  runs.length = 0;
  t.is(ram.take(0, Infinity, (first, count) => runs.push([first, count])), 8);
  t.deepEqual(runs, [[32, 8]]);
  t.is(ram.dirtyPages, 0);
  t.is(ram.take(0, 10, () => t.fail()), 0);
});

test('take finds a lone dirty page far past clean words (the summary) and pages past 2^21', (t) => {
  const pages = 1 << 22; // 16 GiB at 4 KiB: 128 Ki words, 4 Ki summary words
  const ram = new RamDirtyBitmap(pages * P, P);
  t.is(ram.markRange((pages - 3) * P, P), 1);
  t.is(ram.markRange(7 * P, P), 1);
  t.is(ram.takeNext(8), pages - 3);
  t.is(ram.takeNext(pages - 2), 7); // wrapped
  t.is(ram.takeNext(0), -1);
  // A word emptied by take and dirtied again is found again.
  ram.markRange(1000 * P, P);
  t.is(ram.takeNext(0), 1000);
  ram.markRange(1000 * P, P);
  t.is(ram.takeNext(999), 1000);
});

test('a section whose RAM offset is not a multiple of 32 pages merges shifted across words', (t) => {
  const memory = new SharedArrayBuffer(4096);
  const report = new ReportBitmap(memory, 0, 1024);
  const section = { name: 'ram-high', kind: 'ram' as const, iova: 1n << 32n, length: BigInt(64 * P), offset: 40 * P };
  report.begin({ iova: section.iova, length: section.length, pageSize: BigInt(P) }, true);
  new Int32Array(memory)[0] = -1 >>> 0 | 0; // bits 0..31 → pages 40..71
  new Int32Array(memory)[1] = 1; // bit 32 → page 72
  report.complete();
  const ram = new RamDirtyBitmap(1 << 20, P);
  t.is(ram.merge(section, report), 33);
  const runs: Array<[number, number]> = [];
  ram.take(0, Infinity, (first, count) => runs.push([first, count]));
  t.deepEqual(runs, [[40, 33]]);
});

test('markAll on a clean bitmap, then take: one run per budget, every page once', (t) => {
  for (const pages of [2048, 100]) { // whole words (the fast path) and a partial last word
    const ram = new RamDirtyBitmap(pages * P, P);
    t.is(ram.markAll(), pages);
    t.is(ram.markAll(), 0);
    const runs: Array<[number, number]> = [];
    t.is(ram.take(0, 1000, (first, count) => runs.push([first, count])), Math.min(1000, pages));
    t.is(ram.take(1000 % pages, Infinity, (first, count) => runs.push([first, count])), Math.max(0, pages - 1000));
    t.deepEqual(runs, pages > 1000 ? [[0, 1000], [1000, pages - 1000]] : [[0, pages]]);
    t.is(ram.dirtyPages, 0);
    t.is(ram.takeNext(0), -1);
  }
});

test('drain visits every set word across clean and dirty 4 KiB chunks, clips the last word to the window, leaves all zero', (t) => {
  const bits = 3000 * 32 + 5; // 3001 words: three 1024-word chunks, the last partial
  const bytes = Math.ceil(bits / 64) * 8;
  const memory = new SharedArrayBuffer(bytes + 64);
  const report = new ReportBitmap(memory, 8, bytes);
  report.begin({ iova: 0n, length: BigInt(bits) * BigInt(P), pageSize: BigInt(P) }, true);
  const words = new Int32Array(memory, 8, bytes / 4);
  const set: Array<[number, number]> = [[0, 1], [1023, -1], [1024, 0x80000000 | 0], [2500, 0x10], [3000, 0xff]];
  for (const [w, v] of set) words[w] = v;
  report.complete();
  const seen: Array<[number, number]> = [];
  const n = report.drain((w, v) => seen.push([w, v]));
  // Word 3000 holds report bits 96000..96004 only: its bits 5..7 lie past the window.
  t.deepEqual(seen, [[0, 1], [1023, -1], [1024, 0x80000000 | 0], [2500, 0x10], [3000, 0x1f]]);
  t.is(n, 1 + 32 + 1 + 1 + 5);
  t.true(new Uint8Array(memory).every((b) => b === 0));
  t.is(report.state, 'zeroed');
});
