// contract §5 and §7 under real concurrency: two threads write through one HWPT's shared log (small
// pages and huge 2 MiB granules) while this thread keeps issuing GET_DIRTY_BITMAP on random
// windows, clearing and NO_CLEAR mixed: the union of the clearing GETs is exactly what was written
// (none lost, none invented).
import test from 'ava';
import { IOMMU_HWPT_GET_DIRTY_BITMAP } from '../../src/iommufd/abi.js';
import { iommufdIoctl } from '../../src/iommufd/ioctl.js';
import { PAGE } from '../helpers/abi.js';
import { HUGE, putGet, rig } from '../helpers/iommufd.js';
import type { IommuRaceWriterData } from '../fixtures/iommu-race-writer.js';
import { compareSeen, readWhileWriting } from '../helpers/race.js';

const WRITER = new URL('../fixtures/iommu-race-writer.js', import.meta.url);
const BASE = 1n << 32n;
const SMALL_PAGES = 1 << 18; // 1 GiB at 4 KiB
const HUGE_GRANULES = 64; // 128 MiB at 2 MiB
const PAGES = SMALL_PAGES + HUGE_GRANULES * 512;
const ARG_AT = 0;
const BITMAP_AT = 64;

test('two writer threads and a GETting thread: every write reported by a clearing GET, none lost, none invented', async (t) => {
  const r = rig(BITMAP_AT + PAGES / 8 + 1024);
  r.iommufd.map(r.ioas, BASE, BigInt(SMALL_PAGES) * PAGE);
  r.iommufd.map(r.ioas, BASE + BigInt(SMALL_PAGES) * PAGE, BigInt(HUGE_GRANULES) * HUGE, { huge: true });
  r.calls.setDirtyTracking(r.hwpt, true);
  const descriptor = r.iommufd.logDescriptor(r.hwpt)!;
  const shadow = new SharedArrayBuffer(PAGES / 8);
  const seen = new Uint32Array(PAGES / 32);
  const bitmap = new Uint32Array(r.mem.buffer, BITMAP_AT, PAGES / 32);
  const get = (p0: number, n: number, noClear: boolean) => {
    bitmap.fill(0, 0, Math.ceil(n / 32));
    putGet(r.mem, ARG_AT, { hwptId: r.hwpt, iova: BASE + BigInt(p0) * PAGE, length: BigInt(n) * PAGE, data: BigInt(BITMAP_AT), flags: noClear ? 1 : 0 });
    const rc = iommufdIoctl(r.iommufd, r.mem, IOMMU_HWPT_GET_DIRTY_BITMAP, ARG_AT);
    if (rc !== 0) throw new Error(`GET returned ${rc}`);
    if (noClear) return;
    for (let b = 0; b < n; b++) if ((bitmap[b >>> 5]! >>> (b & 31)) & 1) seen[(p0 + b) >>> 5]! |= 1 << ((p0 + b) & 31);
  };

  const parts = 2;
  const gets = await readWhileWriting(t, WRITER, parts,
    (part) => ({ descriptor, shadow, base: BASE, smallPages: SMALL_PAGES, hugeGranules: HUGE_GRANULES, writes: 40_000, part, parts } satisfies IommuRaceWriterData), 7, (x) => {
      const p0 = x % PAGES;
      get(p0, 1 + ((x >>> 3) % Math.min(PAGES - p0, 1 << (x & 15))), (x & 0x30000) === 0);
    });
  get(0, PAGES, true); // a NO_CLEAR read at the end takes nothing away either
  get(0, PAGES, false);

  const { lost, invented, total } = compareSeen(new Uint32Array(shadow), seen);
  t.true(total > 70_000, `pages written: ${total}`);
  t.is(lost, 0);
  t.is(invented, 0);
  t.is(r.iommufd.pagingHwpt(r.hwpt)!.log!.countDirty(), 0);
  t.true(gets > 1);
});
