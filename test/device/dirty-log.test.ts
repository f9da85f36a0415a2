// contract §5 on the device side, in one thread: the log at granule T over tracked regions, its
// read-and-clear into a report window at page size P, and a fast-check property against a
// naive model of both.
import assert from 'node:assert/strict';
import test from 'ava';
import fc from 'fast-check';
import { IovaBitmap, type Contract } from '../../src/bitmap/iova-bitmap.js';
import { DirtyLog, planLog, type DirtyLogDescriptor } from '../../src/device/dirty-log.js';
import { ok } from '../../src/util/result.js';
import type { LoggingRange } from '../../src/uapi/structs.js';
import { KiB, PAGE, errnoOfChecked, presetBits, setBits } from '../helpers/abi.js';

const MiB = 1024n * KiB;
const GiB = 1024n * MiB;
const MAX_LOG_BYTES = 64 << 20;

function plan(T: bigint, ranges: LoggingRange[], maxLogBytes = MAX_LOG_BYTES): DirtyLogDescriptor {
  const d = ok(planLog(T, ranges, maxLogBytes), 'planLog');
  return d;
}

function logOf(T: bigint, ranges: LoggingRange[]): DirtyLog {
  return new DirtyLog(plan(T, ranges));
}

/** One REPORT of [iova, iova + length) at P into a fresh zeroed bitmap: the bits set and the count. */
function report(log: DirtyLog, iova: bigint, length: bigint, P: bigint = PAGE): { bits: number[]; pages: number } {
  const bitCount = Number((length + P - 1n) / P);
  const memory = new SharedArrayBuffer(Math.ceil(bitCount / 64) * 8);
  const bitmap = new IovaBitmap(memory, 0, { iova, length, pageSize: P });
  log.readAndClear(iova, length, bitmap);
  return { bits: setBits(memory, 0, bitCount), pages: bitmap.bitsSet };
}

const range = (iova: bigint, length: bigint): LoggingRange => ({ iova, length });

test('planLog: one bit per granule meeting a region, regions start on 32-bit boundaries', (t) => {
  // [6K, 70K) at T = 16K meets granules 0..4; [100K, 104K) meets granule 6.
  const d = plan(16n * KiB, [range(6n * KiB, 64n * KiB), range(100n * KiB, 4n * KiB)]);
  t.deepEqual(d.regions, [
    { iova: 6n * KiB, length: 64n * KiB, firstGranule: 0n, granuleCount: 5, bitOffset: 0 },
    { iova: 100n * KiB, length: 4n * KiB, firstGranule: 6n, granuleCount: 1, bitOffset: 32 },
  ]);
  t.is(d.logWords, 2);
  t.is(d.summaryWords, 1);
  t.is(d.buffer.byteLength, 12);
});

test('planLog: 64 GiB at 4 KiB costs 2 MiB of log plus a 64 KiB summary', (t) => {
  const d = plan(PAGE, [range(0n, 64n * GiB)]);
  t.is(d.logWords * 4, 2 << 20);
  t.is(d.summaryWords * 4, 64 << 10);
});

test('planLog: a log larger than maxLogBytes → ENOMEM, before allocating', (t) => {
  t.is(errnoOfChecked(planLog(PAGE, [range(0n, 1n << 62n)], MAX_LOG_BYTES)), 'ENOMEM');
  t.is(errnoOfChecked(planLog(PAGE, [range(0n, 32n * 1024n * PAGE)], 4096)), 'ENOMEM'); // 4 KiB of log + summary > 4096
  t.is(errnoOfChecked(planLog(PAGE, [range(0n, 31n * 1024n * PAGE)], 4096)), 'ok');
});

test('a write marks each granule it touches inside a region; writes outside regions are not logged', (t) => {
  const log = logOf(PAGE, [range(16n * KiB, 16n * KiB), range(64n * KiB, 8n * KiB)]);
  t.is(log.markWrite(0n, 16n * KiB), 0); // just before region 0
  t.is(log.markWrite(32n * KiB, 32n * KiB), 0); // the gap, exactly
  t.is(log.markWrite(72n * KiB, 1n << 40n), 0); // after region 1
  t.is(log.countDirty(), 0);
  t.is(log.markWrite(30n * KiB, 36n * KiB), 2); // last granule of region 0 + first of region 1
  t.is(log.markWrite(16n * KiB + 1n, 1n), 1);
  t.is(log.countDirty(), 3);
  t.deepEqual(report(log, 0n, 128n * KiB).bits, [4, 7, 16]);
});

test('bit 0 is relative to the report iova, not to the region or to 0', (t) => {
  const log = logOf(PAGE, [range(1n * MiB, 1n * MiB)]);
  log.markWrite(1n * MiB + 5n * PAGE, 1n);
  t.deepEqual(report(log, 1n * MiB + 3n * PAGE, 8n * PAGE).bits, [2]);
});

test('granule T > P: a dirty granule sets every report bit it overlaps (replicates)', (t) => {
  const log = logOf(16n * KiB, [range(0n, 1n * MiB)]);
  log.markWrite(16n * KiB + 5n, 1n);
  t.deepEqual(report(log, 0n, 64n * KiB), { bits: [4, 5, 6, 7], pages: 4 });
});

test('granule T < P: dirty granules coalesce into one report bit', (t) => {
  const log = logOf(PAGE, [range(0n, 1n * MiB)]);
  log.markWrite(16n * KiB, 1n);
  log.markWrite(28n * KiB, 4n * KiB);
  log.markWrite(64n * KiB, 1n);
  t.deepEqual(report(log, 0n, 128n * KiB, 16n * KiB), { bits: [1, 4], pages: 2 });
});

test('an unaligned report iova: a granule sets both bits it straddles', (t) => {
  const log = logOf(PAGE, [range(0n, 1n * MiB)]);
  log.markWrite(0x1000n, 1n);
  log.markWrite(0x5000n, PAGE);
  // Bit n covers [0x800 + n*4K, ...): granule [4K, 8K) meets bits 0 and 1; [20K, 24K) bits 4 and 5.
  t.deepEqual(report(log, 0x800n, 16n * PAGE).bits, [0, 1, 4, 5]);
});

test('records are clipped to the window: nothing at or past ceil(length/P)', (t) => {
  const log = logOf(64n * KiB, [range(0n, 1n * MiB)]);
  log.markWrite(0n, 1n);
  // The 64 KiB granule covers 16 pages; the window has 5 pages and a byte: 6 bits.
  t.deepEqual(report(log, 0n, 5n * PAGE + 1n), { bits: [0, 1, 2, 3, 4, 5], pages: 6 });
});

test('a partial granule at the window edge stays logged and is reported again; inside ones are cleared', (t) => {
  const log = logOf(16n * KiB, [range(0n, 1n * MiB)]);
  log.markWrite(0n, 32n * KiB); // granules 0 and 1
  // Window [0, 24K): granule 0 wholly inside (cleared), granule 1 partly (kept).
  t.deepEqual(report(log, 0n, 24n * KiB).bits, [0, 1, 2, 3, 4, 5]);
  t.is(log.countDirty(), 1);
  // The next REPORT of the rest finds granule 1 again (its summary bit was set back).
  t.deepEqual(report(log, 16n * KiB, 16n * KiB).bits, [0, 1, 2, 3]);
  t.is(log.countDirty(), 0);
  t.deepEqual(report(log, 0n, 1n * MiB).bits, []);
});

test('a window inside one granule reports it and keeps it', (t) => {
  const log = logOf(64n * KiB, [range(0n, 1n * MiB)]);
  log.markWrite(70n * KiB, 1n); // granule 1 = [64K, 128K)
  t.deepEqual(report(log, 80n * KiB, 8n * KiB).bits, [0, 1]);
  t.deepEqual(report(log, 80n * KiB, 8n * KiB).bits, [0, 1]);
  t.is(log.countDirty(), 1);
  t.deepEqual(report(log, 64n * KiB, 64n * KiB).bits.length, 16);
  t.is(log.countDirty(), 0);
});

test('summary level: a sparse log far from its start is found, and cleared words are skipped', (t) => {
  const log = logOf(PAGE, [range(0n, 1n * GiB)]); // 8192 log words, 256 summary words
  log.markWrite(1n * GiB - PAGE, 1n);
  log.markWrite(512n * MiB, 1n);
  t.deepEqual(report(log, 512n * MiB - 2n * PAGE, 512n * MiB + 2n * PAGE).bits, [2, 131073]);
  t.is(log.countDirty(), 0);
  t.deepEqual(report(log, 0n, 1n * GiB).bits, []);
  // A write after the read is found again (the writer sets the summary bit back).
  log.markWrite(1n * GiB - PAGE, PAGE);
  t.deepEqual(report(log, 1n * GiB - 4n * PAGE, 4n * PAGE).bits, [3]);
});

test('a report outside every region reads nothing and clears nothing', (t) => {
  const log = logOf(PAGE, [range(1n * MiB, 1n * MiB)]);
  log.markWrite(1n * MiB, 1n * MiB);
  t.deepEqual(report(log, 0n, 1n * MiB).bits, []);
  t.deepEqual(report(log, 2n * MiB, 1n * MiB).bits, []);
  t.is(log.countDirty(), 256);
});

test('the log is shared: a DirtyLog built from the same descriptor sees the same bits', (t) => {
  const d = plan(PAGE, [range(0n, 1n * MiB)]);
  const writer = new DirtyLog(d);
  const reader = new DirtyLog(structuredClone(d)); // as a worker receives it
  writer.markWrite(3n * PAGE, 2n * PAGE);
  t.deepEqual(report(reader, 0n, 8n * PAGE).bits, [3, 4]);
  t.is(writer.countDirty(), 0);
});

test('a granule shared by two regions (closer than T) sets its bits once and counts them once', (t) => {
  // T = 64 KiB; the regions touch at 260 KiB, inside granule 4 = [256K, 320K): one log bit each.
  const log = logOf(64n * KiB, [range(108n * KiB, 152n * KiB), range(260n * KiB, 4n * KiB)]);
  t.is(log.markWrite(200n * KiB, 64n * KiB), 3); // region 0: granules 3, 4; region 1: granule 4
  t.is(log.countDirty(), 3);
  // Granule 3 gives bits 15..31; granule 4's first bytes give bits 31 and 32 (across a u32 word boundary).
  const window = { iova: 128n * KiB + 2n, length: 128n * KiB + 2n };
  t.deepEqual(report(log, window.iova, window.length), { bits: Array.from({ length: 18 }, (_, i) => 15 + i), pages: 18 });
  t.is(log.countDirty(), 2, 'granule 4 is only partly inside: both copies stay logged');
  t.deepEqual(report(log, 256n * KiB, 64n * KiB), { bits: Array.from({ length: 16 }, (_, i) => i), pages: 16 });
  t.is(log.countDirty(), 0);
});

test('markBits across word boundaries', (t) => {
  const log = logOf(PAGE, [range(0n, 1n * MiB)]);
  log.markBits(30, 70); // bits 30..99: words 0..3
  t.deepEqual(report(log, 0n, 1n * MiB).bits, Array.from({ length: 70 }, (_, i) => 30 + i));
});

// ---- Property: DirtyLog + IovaBitmap against a naive model -------------------------------

/** The naive model: a set of dirty (region, granule) pairs and a per-bit report. */
class Model {
  readonly dirty = new Set<string>();
  constructor(readonly regions: Array<{ iova: number; end: number }>, readonly T: number) {}

  write(iova: number, length: number): void {
    this.regions.forEach((r, ri) => {
      const lo = Math.max(iova, r.iova);
      const hi = Math.min(iova + length, r.end);
      for (let k = Math.floor(lo / this.T); lo < hi && k <= Math.floor((hi - 1) / this.T); k++) this.dirty.add(`${ri}:${k}`);
    });
  }

  report(iova: number, length: number, P: number): Set<number> {
    const bits = new Set<number>();
    const end = iova + length;
    for (const key of [...this.dirty]) {
      const k = Number(key.split(':')[1]);
      const gs = k * this.T;
      const ge = gs + this.T;
      const lo = Math.max(gs, iova);
      const hi = Math.min(ge, end);
      for (let n = Math.floor((lo - iova) / P); lo < hi && n <= Math.floor((hi - 1 - iova) / P); n++) bits.add(n);
      if (gs >= iova && ge <= end) this.dirty.delete(key);
    }
    return bits;
  }
}

const SIZES = [4096, 8192, 16384, 65536];
const scenario = fc.record({
  T: fc.constantFrom(...SIZES),
  contract: fc.constantFrom<Contract>('atomic', 'plain'),
  // Regions in 4 KiB pages: a start, then (gap, length) pairs; gap 0 = touching.
  first: fc.nat({ max: 40 }),
  spans: fc.array(fc.record({ gap: fc.nat({ max: 24 }), length: fc.integer({ min: 1, max: 40 }) }), { minLength: 1, maxLength: 4 }),
  ops: fc.array(fc.oneof(
    fc.record({ kind: fc.constant('write' as const), iova: fc.nat({ max: 200 * 4096 }), length: fc.integer({ min: 1, max: 3 * 65536 }) }),
    fc.record({
      kind: fc.constant('report' as const), iova: fc.nat({ max: 200 * 4096 }), length: fc.integer({ min: 1, max: 200 * 4096 }),
      P: fc.constantFrom(...SIZES), misalign: fc.nat({ max: 7 }), preset: fc.nat(),
    }),
  ), { minLength: 1, maxLength: 30 }),
});

test('property: every REPORT sets exactly the model\'s bits and touches no other byte', (t) => {
  fc.assert(fc.property(scenario, (s) => {
    const regions: Array<{ iova: number; end: number }> = [];
    let at = s.first * 4096;
    for (const span of s.spans) {
      at += regions.length === 0 ? 0 : span.gap * 4096;
      regions.push({ iova: at, end: at + span.length * 4096 });
      at += span.length * 4096;
    }
    const log = logOf(BigInt(s.T), regions.map((r) => range(BigInt(r.iova), BigInt(r.end - r.iova))));
    const model = new Model(regions, s.T);
    for (const op of s.ops) {
      if (op.kind === 'write') {
        log.markWrite(BigInt(op.iova), BigInt(op.length));
        model.write(op.iova, op.length);
      } else {
        const bitCount = Math.ceil(op.length / op.P);
        const bitmapAt = 64 + op.misalign;
        const memory = new SharedArrayBuffer(bitmapAt + Math.ceil(bitCount / 64) * 8 + 64);
        const bytes = new Uint8Array(memory);
        // Pre-set user bits: a pattern drawn from the seed, inside the bitmap's words only.
        const preset = Array.from({ length: Math.ceil(bitCount / 64) * 64 }, (_, n) => n).filter((n) => ((op.preset >>> (n % 31)) ^ n) % 5 === 0);
        presetBits(memory, bitmapAt, preset);
        const before = bytes.slice();
        const bitmap = new IovaBitmap(memory, bitmapAt, { iova: BigInt(op.iova), length: BigInt(op.length), pageSize: BigInt(op.P) }, s.contract);
        log.readAndClear(BigInt(op.iova), BigInt(op.length), bitmap);
        const want = model.report(op.iova, op.length, op.P);
        const expected = before.slice();
        for (const n of want) expected[bitmapAt + (n >>> 3)]! |= 1 << (n & 7);
        // node:assert throws, so fast-check sees the failure and shrinks it.
        assert.deepEqual(bytes, expected, 'bitmap bytes');
        assert.equal(bitmap.bitsSet, want.size, 'bits counted once each');
      }
      assert.equal(log.countDirty(), model.dirty.size, 'granules still logged');
    }
  }), { numRuns: 1000 });
  t.pass();
});
