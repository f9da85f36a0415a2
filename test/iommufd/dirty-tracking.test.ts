// contract §7 behaviour of a HWPT's dirty log, in one thread: enabling (idempotent, from a clean log),
// disabling, NO_CLEAR, the page-table granule (4 KiB, 2 MiB in a huge mapping), the user-bitmap
// rules shared with device REPORT (contract §5), and the object model's coded errors.
import test from 'ava';
import { errnoOf, PAGE, presetBits, setBits } from '../helpers/abi.js';
import { HUGE, MiB, rig, type Rig } from '../helpers/iommufd.js';

const BASE = 1n << 30n;
const BITMAP_AT = 0;

/** A GET through the typed layer into a zeroed bitmap (unless `keep`): the bits set, and the count returned. */
function get(r: Rig, iova: bigint, length: bigint, pageSize = PAGE, opts: { noClear?: boolean; keep?: boolean; hwptId?: number } = {}): { bits: number[]; count: number } {
  const bitCount = Number(length / (pageSize & -pageSize));
  if (!opts.keep) r.mem.bytes.fill(0, BITMAP_AT, BITMAP_AT + Math.ceil(bitCount / 64) * 8);
  const count = r.calls.getDirtyBitmap({ hwptId: opts.hwptId ?? r.hwpt, iova, length, pageSize, bitmap: BITMAP_AT, noClear: opts.noClear ?? false });
  return { bits: setBits(r.mem.buffer, BITMAP_AT, bitCount), count };
}

function tracked(mappings: Array<{ iova: bigint; length: bigint; huge?: boolean }> = [{ iova: BASE, length: 64n * PAGE }]): Rig {
  const r = rig();
  for (const m of mappings) r.iommufd.map(r.ioas, m.iova, m.length, { huge: m.huge ?? false });
  r.calls.setDirtyTracking(r.hwpt, true);
  return r;
}

const page = (n: number | bigint) => BASE + BigInt(n) * PAGE;
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

test('NO_CLEAR reads without clearing: the same bits twice, then a clearing read, then nothing', (t) => {
  const r = tracked();
  for (const p of [1, 2, 40]) r.iommufd.dmaWrite(r.dev, page(p) + 100n, 8n);
  t.deepEqual(get(r, BASE, 64n * PAGE, PAGE, { noClear: true }), { bits: [1, 2, 40], count: 3 });
  t.deepEqual(get(r, BASE, 64n * PAGE, PAGE, { noClear: true }).bits, [1, 2, 40]);
  t.is(r.iommufd.pagingHwpt(r.hwpt)!.log!.countDirty(), 3);
  t.deepEqual(get(r, BASE, 64n * PAGE).bits, [1, 2, 40]);
  t.deepEqual(get(r, BASE, 64n * PAGE), { bits: [], count: 0 });
  t.is(r.iommufd.pagingHwpt(r.hwpt)!.log!.countDirty(), 0);
});

test('NO_CLEAR over part of the log leaves all of it; a clearing read of a sub-window clears only that', (t) => {
  const r = tracked();
  for (const p of [3, 10, 20]) r.iommufd.dmaWrite(r.dev, page(p), PAGE);
  t.deepEqual(get(r, page(8), 8n * PAGE, PAGE, { noClear: true }).bits, [2]); // page 10
  t.deepEqual(get(r, page(8), 8n * PAGE).bits, [2]);
  t.deepEqual(get(r, BASE, 64n * PAGE).bits, [3, 20]);
});

test('enabling twice is idempotent and clears stale bits; tracking stays on', (t) => {
  const r = tracked();
  r.iommufd.dmaWrite(r.dev, page(7), 1n);
  r.calls.setDirtyTracking(r.hwpt, true);
  t.true(r.iommufd.pagingHwpt(r.hwpt)!.tracking);
  t.is(r.iommufd.pagingHwpt(r.hwpt)!.log!.countDirty(), 0);
  t.deepEqual(get(r, BASE, 64n * PAGE).bits, []);
  r.iommufd.dmaWrite(r.dev, page(9), 1n);
  t.deepEqual(get(r, BASE, 64n * PAGE).bits, [9]);
});

test('disabling stops logging; bits logged before stay readable until the next enable clears them', (t) => {
  const r = tracked();
  r.iommufd.dmaWrite(r.dev, page(4), 1n);
  r.calls.setDirtyTracking(r.hwpt, false);
  t.false(r.iommufd.pagingHwpt(r.hwpt)!.tracking);
  t.is(r.iommufd.dmaWrite(r.dev, page(5), 1n), 0);
  t.deepEqual(get(r, BASE, 64n * PAGE, PAGE, { noClear: true }).bits, [4]);
  r.calls.setDirtyTracking(r.hwpt, true);
  t.deepEqual(get(r, BASE, 64n * PAGE).bits, []);
});

test('a HWPT is clean until enabled: writes before the first enable are not logged', (t) => {
  const r = rig();
  r.iommufd.map(r.ioas, BASE, 64n * PAGE);
  t.is(r.iommufd.dmaWrite(r.dev, page(1), 1n), 0);
  r.calls.setDirtyTracking(r.hwpt, true);
  t.deepEqual(get(r, BASE, 64n * PAGE).bits, []);
});

test('huge mapping: a 1-byte write dirties the whole 2 MiB (512 bits at 4 KiB; 1 bit at 2 MiB)', (t) => {
  const r = tracked([{ iova: BASE, length: 2n * HUGE, huge: true }]);
  t.is(r.iommufd.dmaWrite(r.dev, BASE + HUGE + 12345n, 1n), 1);
  t.deepEqual(get(r, BASE, 2n * HUGE, PAGE, { noClear: true }), { bits: range(512, 1024), count: 512 });
  t.deepEqual(get(r, BASE, 2n * HUGE, HUGE), { bits: [1], count: 1 });
  t.deepEqual(get(r, BASE, 2n * HUGE, PAGE).bits, []);
});

test('huge mapping: a window over part of a 2 MiB granule reports its overlap and keeps it logged', (t) => {
  const r = tracked([{ iova: BASE, length: HUGE, huge: true }]);
  r.iommufd.dmaWrite(r.dev, BASE, 1n);
  t.deepEqual(get(r, BASE + MiB, MiB).bits, range(0, 256)); // the second half only
  t.deepEqual(get(r, BASE, MiB).bits, range(0, 256)); // still logged: the granule was not wholly inside
  t.deepEqual(get(r, BASE, HUGE).bits.length, 512);
  t.deepEqual(get(r, BASE, HUGE).bits, []);
});

test('a write across a huge/small mapping boundary marks the 2 MiB granule and the 4 KiB page', (t) => {
  // huge [BASE, BASE + 2 MiB), small [BASE + 2 MiB, BASE + 2 MiB + 64 KiB)
  const r = tracked([{ iova: BASE, length: HUGE, huge: true }, { iova: BASE + HUGE, length: 16n * PAGE }]);
  t.is(r.iommufd.dmaWrite(r.dev, BASE + HUGE - 1n, 2n), 2);
  t.deepEqual(get(r, BASE, HUGE + 16n * PAGE, PAGE, { noClear: true }).bits, range(0, 513));
  // at 2 MiB: bit 0 for the huge granule, bit 1 for the page past it
  t.deepEqual(get(r, BASE, 2n * HUGE, HUGE, { noClear: true }).bits, [0, 1]);
  // a window starting at the small mapping: only the page
  t.deepEqual(get(r, BASE + HUGE, 16n * PAGE).bits, [0]);
  t.deepEqual(get(r, BASE, HUGE).bits.length, 512);
  t.is(r.iommufd.pagingHwpt(r.hwpt)!.log!.countDirty(), 0);
});

test('a non-power-of-two page size acts as its lowest set bit (12 KiB → 4 KiB bits, 24 KiB → 8 KiB)', (t) => {
  const r = tracked();
  for (const p of [1, 6, 7]) r.iommufd.dmaWrite(r.dev, page(p), 1n);
  // 12 KiB = 0x3000: bits of 4 KiB, one per page
  t.deepEqual(get(r, BASE, 12n * PAGE, 3n * PAGE, { noClear: true }), { bits: [1, 6, 7], count: 3 });
  // 24 KiB = 0x6000: bits of 8 KiB; pages 6 and 7 share bit 3
  t.deepEqual(get(r, BASE, 24n * PAGE, 6n * PAGE), { bits: [0, 3], count: 2 });
});

test('the user bitmap keeps pre-set bits and nothing at or past the window\'s last bit is set', (t) => {
  const r = tracked([{ iova: BASE, length: HUGE, huge: true }]);
  r.iommufd.dmaWrite(r.dev, BASE + 3n, 1n);
  r.mem.bytes.fill(0, 0, 64);
  presetBits(r.mem.buffer, BITMAP_AT, [100]);
  // a 10-page window: the 2 MiB granule sets bits 0..9 and nothing past them
  t.deepEqual(get(r, BASE + 16n * PAGE, 10n * PAGE, PAGE, { keep: true }).bits, [...range(0, 10)]);
  t.deepEqual(setBits(r.mem.buffer, BITMAP_AT, 512), [...range(0, 10), 100]);
  // bytes: 0xff, 0x03 (bits 0..9), then only the pre-set bit 100 (byte 12, bit 4)
  t.deepEqual([...r.mem.bytes.slice(0, 16)], [0xff, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0]);
});

test('an unaligned user bitmap pointer: bits go from the pointer byte for byte', (t) => {
  const r = tracked();
  r.iommufd.dmaWrite(r.dev, page(0), 1n);
  r.iommufd.dmaWrite(r.dev, page(9), 1n);
  r.mem.bytes.fill(0, 0, 32);
  t.is(r.calls.getDirtyBitmap({ hwptId: r.hwpt, iova: BASE, length: 64n * PAGE, pageSize: PAGE, bitmap: 3 }), 2);
  t.deepEqual(setBits(r.mem.buffer, 3, 64), [0, 9]);
  t.deepEqual([...r.mem.bytes.slice(0, 3)], [0, 0, 0]);
});

test('GET covers only mapped IOVA: a window over holes and past mappings reports what is mapped and dirty', (t) => {
  const r = tracked([{ iova: BASE, length: 4n * PAGE }, { iova: page(8), length: 4n * PAGE }]);
  r.iommufd.dmaWrite(r.dev, page(3), 1n);
  r.iommufd.dmaWrite(r.dev, page(8), 2n * PAGE);
  t.deepEqual(get(r, 0n, 2n * BASE, BASE / 4n, { noClear: true }).bits, [4]); // 256 MiB bits: both land in bit 4
  t.deepEqual(get(r, BASE - 8n * PAGE, 32n * PAGE).bits, [11, 16, 17]);
});

test('dmaWrite: unmapped or partly mapped IOVA → EFAULT and nothing logged; a detached device → EFAULT', async (t) => {
  const r = tracked();
  t.is(await errnoOf(() => r.iommufd.dmaWrite(r.dev, page(64), 1n)), 'EFAULT');
  t.is(await errnoOf(() => r.iommufd.dmaWrite(r.dev, page(63), 2n * PAGE)), 'EFAULT');
  t.is(await errnoOf(() => r.iommufd.dmaWrite(r.dev, BASE - 1n, 2n)), 'EFAULT');
  t.is(r.iommufd.pagingHwpt(r.hwpt)!.log!.countDirty(), 0);
  t.is(await errnoOf(() => r.iommufd.dmaWrite(r.dev, page(0), 0n)), 'EINVAL');
  t.is(await errnoOf(() => r.iommufd.dmaWrite(r.dev, -1n, 1n)), 'EINVAL');
  t.is(await errnoOf(() => r.iommufd.dmaWrite(r.dev, (1n << 64n) - 1n, 2n)), 'EOVERFLOW');
  t.is(await errnoOf(() => r.iommufd.dmaWrite(999, page(0), 1n)), 'ENOENT');
  r.iommufd.detach(r.dev);
  t.is(await errnoOf(() => r.iommufd.dmaWrite(r.dev, page(0), 1n)), 'EFAULT');
  t.is(r.iommufd.pagingHwpt(r.hwpt)!.log!.countDirty(), 0);
});

test('writes of a device on a HWPT without the capability are translated but logged nowhere', (t) => {
  const r = tracked();
  t.is(r.iommufd.dmaWrite(r.plainDev, page(2), 1n), 0);
  t.deepEqual(get(r, BASE, 64n * PAGE).bits, []);
});

test('two HWPTs on one IOAS keep separate logs; each device marks only its own', (t) => {
  const r = tracked();
  const dev2 = r.iommufd.bindDevice('nic2');
  const hwpt2 = r.iommufd.allocHwpt(dev2, r.ioas, { dirtyTracking: true });
  r.iommufd.attach(dev2, hwpt2);
  r.calls.setDirtyTracking(hwpt2, true);
  r.iommufd.dmaWrite(r.dev, page(1), 1n);
  r.iommufd.dmaWrite(dev2, page(2), 1n);
  t.deepEqual(get(r, BASE, 64n * PAGE).bits, [1]);
  t.deepEqual(get(r, BASE, 64n * PAGE, PAGE, { hwptId: hwpt2 }).bits, [2]);
});

test('mappings made after the HWPT are logged; unmapping drops a mapping\'s bits with it', (t) => {
  const r = tracked();
  r.iommufd.map(r.ioas, page(128), 4n * PAGE);
  r.iommufd.dmaWrite(r.dev, page(129), 1n);
  r.iommufd.dmaWrite(r.dev, page(1), 1n);
  t.deepEqual(get(r, BASE, 256n * PAGE, PAGE, { noClear: true }).bits, [1, 129]);
  r.iommufd.unmap(r.ioas, page(128), 4n * PAGE);
  t.deepEqual(get(r, BASE, 256n * PAGE).bits, [1]);
  t.deepEqual(r.iommufd.mappings(r.ioas), [{ iova: BASE, length: 64n * PAGE, huge: false }]);
});

test('object model errors are coded: capability, attach, map alignment and overlap, unmap splitting, ids', async (t) => {
  const r = rig();
  t.deepEqual(r.iommufd.hwInfo(r.plainDev), { dirtyTracking: false });
  t.deepEqual(r.iommufd.hwInfo(r.dev), { dirtyTracking: true });
  t.is(await errnoOf(() => r.iommufd.allocHwpt(r.plainDev, r.ioas, { dirtyTracking: true })), 'EOPNOTSUPP');
  t.is(await errnoOf(() => r.iommufd.allocHwpt(r.dev, r.dev, {})), 'ENOENT');
  t.is(await errnoOf(() => r.iommufd.allocHwpt(r.ioas, r.ioas, {})), 'ENOENT');
  t.is(await errnoOf(() => r.iommufd.attach(r.dev, r.hwpt)), 'EINVAL'); // already attached
  r.iommufd.detach(r.plainDev);
  t.is(await errnoOf(() => r.iommufd.attach(r.plainDev, r.hwpt)), 'EINVAL'); // its IOMMU cannot track
  t.is(await errnoOf(() => r.iommufd.detach(r.plainDev)), 'EINVAL');
  t.is(await errnoOf(() => r.iommufd.map(r.ioas, BASE + 1n, PAGE)), 'EINVAL');
  t.is(await errnoOf(() => r.iommufd.map(r.ioas, BASE, PAGE + 1n)), 'EINVAL');
  t.is(await errnoOf(() => r.iommufd.map(r.ioas, BASE + PAGE, HUGE, { huge: true })), 'EINVAL');
  t.is(await errnoOf(() => r.iommufd.map(r.ioas, BASE, HUGE + PAGE, { huge: true })), 'EINVAL');
  t.is(await errnoOf(() => r.iommufd.map(r.ioas, BASE, 0n)), 'EINVAL');
  t.is(await errnoOf(() => r.iommufd.map(r.ioas, (1n << 64n) - PAGE, 2n * PAGE)), 'EOVERFLOW');
  t.is(await errnoOf(() => r.iommufd.map(r.ioas, (1n << 64n) - PAGE, PAGE + 1n)), 'EOVERFLOW'); // inclusive end 2^64: past u64
  r.iommufd.map(r.ioas, BASE, HUGE, { huge: true });
  t.is(await errnoOf(() => r.iommufd.map(r.ioas, BASE + HUGE - PAGE, 2n * PAGE)), 'EINVAL'); // overlap
  t.is(await errnoOf(() => r.iommufd.unmap(r.ioas, BASE, PAGE)), 'EINVAL'); // would split
  t.is(await errnoOf(() => r.iommufd.unmap(r.ioas, 2n * BASE, PAGE)), 'ENOENT');
  t.is(await errnoOf(() => r.iommufd.map(999, BASE, PAGE)), 'ENOENT');
  t.is(await errnoOf(() => r.iommufd.bindDevice('')), 'EINVAL');
  t.is(await errnoOf(() => r.iommufd.allocHwpt(r.dev, r.ioas, { dirtyTracking: true })), 0);
});

test('a mapping whose log would not fit → ENOMEM, and nothing is mapped', async (t) => {
  const { Iommufd } = await import('../../src/iommufd/iommufd.js');
  const fd = new Iommufd({ maxLogBytes: 1024 });
  const ioas = fd.allocIoas();
  const dev = fd.bindDevice('d');
  fd.allocHwpt(dev, ioas, { dirtyTracking: true });
  t.is(await errnoOf(() => fd.map(ioas, 0n, 1n << 30n)), 'ENOMEM'); // 32 KiB of log at 4 KiB
  t.deepEqual(fd.mappings(ioas), []);
  t.is(await errnoOf(() => fd.map(ioas, 0n, 1n << 30n, { huge: true })), 0); // 64 bytes at 2 MiB
});

test('the top of the IOVA space: a mapping may end exactly at 2^64 (the inclusive end fits in u64), and its writes are logged and reported', async (t) => {
  const TOP = 1n << 64n;
  const r = tracked([{ iova: TOP - 4n * HUGE, length: 2n * HUGE, huge: true }, { iova: TOP - 4n * PAGE, length: 4n * PAGE }]);
  t.is(r.iommufd.dmaWrite(r.dev, TOP - 1n, 1n), 1); // the last byte of u64 IOVA
  t.is(r.iommufd.dmaWrite(r.dev, TOP - 3n * PAGE - 1n, 2n), 2); // straddles two 4 KiB granules
  t.is(r.iommufd.dmaWrite(r.dev, TOP - 2n * HUGE - 1n, 1n), 1); // the last byte of the huge mapping: all 2 MiB
  t.is(await errnoOf(() => r.iommufd.dmaWrite(r.dev, TOP - 1n, 2n)), 'EOVERFLOW');
  t.deepEqual(get(r, TOP - 4n * PAGE, 4n * PAGE), { bits: [0, 1, 3], count: 3 });
  t.deepEqual(get(r, TOP - 4n * HUGE, 2n * HUGE, HUGE).bits, [1]);
  t.deepEqual(get(r, TOP - 4n * PAGE, 4n * PAGE).bits, [], 'cleared by the first GET');
  r.iommufd.unmap(r.ioas, TOP - 4n * PAGE, 4n * PAGE);
  t.deepEqual(r.iommufd.mappings(r.ioas).map((m) => m.iova), [TOP - 4n * HUGE]);
});
