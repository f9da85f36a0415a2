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
  t.is(report.state, 'consumed');
});
