// contract §7 through the raw ioctl: every errno rule, one test each, in the kernel's order. Every
// failing call must leave user memory byte for byte as it was (the bitmap included) and the HWPT's
// log and tracking state untouched; a clearing GET afterwards still finds the writes made before.
import test, { type ExecutionContext } from 'ava';
import { VFIO_DEVICE_FEATURE } from '../../src/uapi/abi.js';
import { ERRNO, type Errno } from '../../src/uapi/errno.js';
import {
  GET_DIRTY_BITMAP_BYTES, IOMMU_HWPT_GET_DIRTY_BITMAP, IOMMU_HWPT_SET_DIRTY_TRACKING, SET_DIRTY_TRACKING_BYTES,
} from '../../src/iommufd/abi.js';
import { iommufdIoctl } from '../../src/iommufd/ioctl.js';
import { errnoOf, firstDifference, PAGE, setBits } from '../helpers/abi.js';
import { putGet, putSet, rig, type Rig } from '../helpers/iommufd.js';

const SET = IOMMU_HWPT_SET_DIRTY_TRACKING;
const GET = IOMMU_HWPT_GET_DIRTY_BITMAP;
const BASE = 1n << 30n;
const PAGES = 64;
const WRITTEN = [0, 5, 63];
const ARG_AT = 256;
const BITMAP_AT = 1024;
const U64 = 1n << 64n;

interface Armed extends Rig { ioctl: (request: number, at: bigint | number) => number }

/** A rig with [BASE, +64 pages) mapped, tracking on, pages 0, 5 and 63 written, bitmap bytes pre-set. */
function armed(): Armed {
  const r = rig();
  r.iommufd.map(r.ioas, BASE, BigInt(PAGES) * PAGE);
  const ioctl = (request: number, at: bigint | number) => iommufdIoctl(r.iommufd, r.mem, request, at);
  if (ioctl(SET, putSet(r.mem, ARG_AT, { hwptId: r.hwpt })) !== 0) throw new Error('enable failed');
  for (const p of WRITTEN) r.iommufd.dmaWrite(r.dev, BASE + BigInt(p) * PAGE + 17n, 1n);
  r.mem.bytes.fill(0xa5, BITMAP_AT, BITMAP_AT + 64); // the user's own bits, which must stay
  return { ...r, ioctl };
}

/** The call fails with exactly `errno`, and nothing anywhere changed. */
function fails(t: ExecutionContext, r: Armed, request: number, at: bigint | number, errno: Errno, note = ''): void {
  const before = r.mem.bytes.slice();
  const dirty = r.iommufd.pagingHwpt(r.hwpt)!.log!.countDirty();
  const tracking = r.iommufd.pagingHwpt(r.hwpt)!.tracking;
  t.is(r.ioctl(request, at), -ERRNO[errno], `${errno} ${note}`);
  t.is(firstDifference(r.mem.bytes, before), -1, `user memory unchanged ${note}`);
  t.is(r.iommufd.pagingHwpt(r.hwpt)!.log!.countDirty(), dirty, `log unchanged ${note}`);
  t.is(r.iommufd.pagingHwpt(r.hwpt)!.tracking, tracking, `tracking unchanged ${note}`);
}

/** A clearing GET of the whole mapping into a zeroed bitmap: the pages it reports. */
function pagesNow(r: Armed): number[] {
  r.mem.bytes.fill(0, 2048, 2048 + 8);
  t_ok(r.ioctl(GET, putGet(r.mem, ARG_AT, { hwptId: r.hwpt, iova: BASE, length: BigInt(PAGES) * PAGE, data: 2048n })));
  return setBits(r.mem.buffer, 2048, PAGES);
}

function t_ok(rc: number): void {
  if (rc !== 0) throw new Error(`ioctl returned ${rc}`);
}

const getAt = (r: Armed, g: Partial<Parameters<typeof putGet>[2]> = {}) =>
  putGet(r.mem, ARG_AT, { hwptId: r.hwpt, iova: BASE, length: BigInt(PAGES) * PAGE, data: BigInt(BITMAP_AT), ...g });

test('a valid GET reports exactly the pages written, keeping the user\'s bits (the baseline the failures compare with)', (t) => {
  const r = armed();
  r.mem.bytes.fill(0, BITMAP_AT, BITMAP_AT + 64);
  r.mem.bytes[BITMAP_AT + 1] = 0x02; // bit 9, pre-set
  t.is(r.ioctl(GET, getAt(r)), 0);
  t.deepEqual(setBits(r.mem.buffer, BITMAP_AT, PAGES), [0, 5, 9, 63]);
  t.deepEqual(pagesNow(r), []);
});

test('§7 a request other than SET_DIRTY_TRACKING / GET_DIRTY_BITMAP → ENOTTY', (t) => {
  const r = armed();
  const at = getAt(r);
  for (const request of [VFIO_DEVICE_FEATURE, 0x3b8a, 0x3b8d, 0x3b80, 0x408b, 0x40303b8c, 0x8b, 0, -1]) fails(t, r, request, at, 'ENOTTY', `0x${request.toString(16)}`);
  t.deepEqual(pagesNow(r), WRITTEN);
});

test('§7 generic: size unreadable → EFAULT (SET and GET)', (t) => {
  const r = armed();
  const len = r.mem.byteLength;
  for (const request of [SET, GET]) {
    for (const at of [len - 3, len, len + 100, -1n, U64 - 1n]) fails(t, r, request, BigInt(at), 'EFAULT', `at ${at}`);
  }
  t.deepEqual(pagesNow(r), WRITTEN);
});

test('§7 generic: size below the minimum (16, 48) → EINVAL', (t) => {
  const r = armed();
  for (const size of [0, 4, 15]) fails(t, r, SET, putSet(r.mem, ARG_AT, { hwptId: r.hwpt, size }), 'EINVAL', `SET size ${size}`);
  for (const size of [0, 16, 47]) fails(t, r, GET, getAt(r, { size }), 'EINVAL', `GET size ${size}`);
  t.deepEqual(pagesNow(r), WRITTEN);
});

test('§7 generic: a non-zero byte past the known struct → E2BIG; zero bytes past it are fine', (t) => {
  const r = armed();
  for (const [size, dirtyAt] of [[17, 16], [64, 63], [4096, 200]] as const) {
    r.mem.bytes.fill(0, ARG_AT, ARG_AT + size);
    putSet(r.mem, ARG_AT, { hwptId: r.hwpt, size, flags: 0 });
    r.mem.bytes[ARG_AT + dirtyAt] = 1;
    fails(t, r, SET, ARG_AT, 'E2BIG', `SET size ${size}`);
  }
  r.mem.bytes.fill(0, ARG_AT, ARG_AT + 64);
  getAt(r, { size: 64 });
  r.mem.bytes[ARG_AT + 48] = 0x80;
  fails(t, r, GET, ARG_AT, 'E2BIG', 'GET size 64');
  r.mem.bytes[ARG_AT + 48] = 0;
  t.is(r.ioctl(GET, ARG_AT), 0, 'GET size 64, zero tail');
  t.deepEqual(setBits(r.mem.buffer, BITMAP_AT, PAGES).filter((b) => WRITTEN.includes(b)), WRITTEN);
});

test('§7 generic: bytes past the known struct outside user memory → EFAULT', (t) => {
  const r = armed();
  putSet(r.mem, ARG_AT, { hwptId: r.hwpt, size: 0xffffffff });
  fails(t, r, SET, ARG_AT, 'EFAULT', 'size 2^32 - 1');
  const at = r.mem.byteLength - 16; // the known struct fits, one more byte does not
  putSet(r.mem, at, { hwptId: r.hwpt, size: 17, flags: 0 });
  fails(t, r, SET, at, 'EFAULT', 'size 17 at the end');
  t.deepEqual(pagesNow(r), WRITTEN);
});

test('§7 generic: the known struct partly outside user memory → EFAULT', (t) => {
  const r = armed();
  const at = r.mem.byteLength - 8; // size readable, the rest of a 48-byte struct is not
  r.mem.view.setUint32(at, GET_DIRTY_BITMAP_BYTES, true);
  fails(t, r, GET, at, 'EFAULT', 'GET');
  r.mem.view.setUint32(at, SET_DIRTY_TRACKING_BYTES, true);
  fails(t, r, SET, at, 'EFAULT', 'SET');
  t.deepEqual(pagesNow(r), WRITTEN);
});

test('§7 SET: flags other than ENABLE → EOPNOTSUPP', (t) => {
  const r = armed();
  for (const flags of [2, 3, 0x80000000, 0xffffffff]) fails(t, r, SET, putSet(r.mem, ARG_AT, { hwptId: r.hwpt, flags }), 'EOPNOTSUPP', `flags 0x${flags.toString(16)}`);
  // before the id: flags are looked at first
  fails(t, r, SET, putSet(r.mem, ARG_AT, { hwptId: 999, flags: 2 }), 'EOPNOTSUPP', 'unknown id');
  t.deepEqual(pagesNow(r), WRITTEN);
});

test('§7 SET: __reserved is not checked', (t) => {
  const r = armed();
  t.is(r.ioctl(SET, putSet(r.mem, ARG_AT, { hwptId: r.hwpt, flags: 0, reserved: 0xffffffff })), 0);
  t.false(r.iommufd.pagingHwpt(r.hwpt)!.tracking);
  t.is(r.ioctl(SET, putSet(r.mem, ARG_AT, { hwptId: r.hwpt, flags: 1, reserved: 7 })), 0);
  t.true(r.iommufd.pagingHwpt(r.hwpt)!.tracking);
});

test('§7 SET: an unknown or non-paging id → ENOENT (0, never allocated, an IOAS, a device)', (t) => {
  const r = armed();
  for (const hwptId of [0, 999, 0xffffffff, r.ioas, r.dev, r.plainDev]) {
    for (const flags of [0, 1]) fails(t, r, SET, putSet(r.mem, ARG_AT, { hwptId, flags }), 'ENOENT', `id ${hwptId} flags ${flags}`);
  }
  t.deepEqual(pagesNow(r), WRITTEN);
});

test('§7 SET: a HWPT allocated without the dirty-tracking capability → EOPNOTSUPP', (t) => {
  const r = armed();
  for (const flags of [0, 1]) fails(t, r, SET, putSet(r.mem, ARG_AT, { hwptId: r.plainHwpt, flags }), 'EOPNOTSUPP', `flags ${flags}`);
  t.deepEqual(pagesNow(r), WRITTEN);
});

test('§7 GET: flags other than NO_CLEAR → EOPNOTSUPP', (t) => {
  const r = armed();
  for (const flags of [2, 3, 0x80000000]) fails(t, r, GET, getAt(r, { flags }), 'EOPNOTSUPP', `flags 0x${flags.toString(16)}`);
  t.deepEqual(pagesNow(r), WRITTEN);
});

test('§7 GET: __reserved != 0 → EOPNOTSUPP, before the id is looked up', (t) => {
  const r = armed();
  for (const reserved of [1, 0x80000000]) fails(t, r, GET, getAt(r, { reserved }), 'EOPNOTSUPP', `reserved ${reserved}`);
  fails(t, r, GET, getAt(r, { reserved: 1, hwptId: 999 }), 'EOPNOTSUPP', 'unknown id');
  t.deepEqual(pagesNow(r), WRITTEN);
});

test('§7 GET: an unknown or non-paging id → ENOENT, before the range is judged', (t) => {
  const r = armed();
  for (const hwptId of [0, 999, r.ioas, r.dev]) fails(t, r, GET, getAt(r, { hwptId }), 'ENOENT', `id ${hwptId}`);
  fails(t, r, GET, getAt(r, { hwptId: 999, iova: U64 - PAGE, length: 2n * PAGE, pageSize: 0n }), 'ENOENT', 'would overflow');
  t.deepEqual(pagesNow(r), WRITTEN);
});

test('§7 GET: the inclusive end iova + (length - 1) overflowing → EOVERFLOW; ending exactly at 2^64 passes', (t) => {
  const r = armed();
  fails(t, r, GET, getAt(r, { iova: U64 - PAGE, length: 2n * PAGE }), 'EOVERFLOW', 'past 2^64');
  fails(t, r, GET, getAt(r, { iova: 2n, length: U64 - 1n }), 'EOVERFLOW', 'one past');
  t.is(r.ioctl(GET, getAt(r, { iova: 1n, length: U64 - 1n, pageSize: 1n, data: BigInt(r.mem.byteLength) })), -ERRNO.EFAULT, 'ends at 2^64: passes to the bitmap check');
  // before page_size 0 and before alignment
  fails(t, r, GET, getAt(r, { iova: U64 - PAGE, length: 2n * PAGE, pageSize: 0n }), 'EOVERFLOW', 'with page_size 0');
  fails(t, r, GET, getAt(r, { iova: U64 - 3n, length: 7n }), 'EOVERFLOW', 'misaligned too');
  r.mem.bytes.fill(0, BITMAP_AT, BITMAP_AT + 8);
  t.is(r.ioctl(GET, getAt(r, { iova: U64 - PAGE, length: PAGE })), 0, 'last page of the IOVA space');
  t.deepEqual(setBits(r.mem.buffer, BITMAP_AT, 64), []);
  t.deepEqual(pagesNow(r), WRITTEN);
});

test('§7 GET: length 0 → EOVERFLOW unless iova is 0 (then 0, nothing read, nothing written)', (t) => {
  const r = armed();
  for (const iova of [PAGE, BASE, U64 - PAGE]) fails(t, r, GET, getAt(r, { iova, length: 0n }), 'EOVERFLOW', `iova ${iova}`);
  const at = getAt(r, { iova: 0n, length: 0n, data: BigInt(r.mem.byteLength) * 2n });
  const before = r.mem.bytes.slice();
  t.is(r.ioctl(GET, at), 0);
  t.is(firstDifference(r.mem.bytes, before), -1);
  t.deepEqual(pagesNow(r), WRITTEN);
});

test('§7 GET: page_size 0 → EINVAL', (t) => {
  const r = armed();
  fails(t, r, GET, getAt(r, { pageSize: 0n }), 'EINVAL');
  fails(t, r, GET, getAt(r, { pageSize: 0n, iova: 0n, length: PAGE }), 'EINVAL', 'aligned window');
  t.deepEqual(pagesNow(r), WRITTEN);
});

test('§7 GET: iova not aligned to page_size (mask page_size - 1) → EINVAL', (t) => {
  const r = armed();
  fails(t, r, GET, getAt(r, { iova: BASE + 512n, length: PAGE }), 'EINVAL', '4 KiB');
  fails(t, r, GET, getAt(r, { iova: BASE + PAGE, length: 2n * 1024n * 1024n, pageSize: 2n * 1024n * 1024n }), 'EINVAL', '2 MiB');
  // 12 KiB = 0x3000: mask 0x2fff, so an iova with bit 13 set fails while bit 12 alone passes
  fails(t, r, GET, getAt(r, { iova: BASE + 2n * PAGE, length: 3n * PAGE, pageSize: 3n * PAGE }), 'EINVAL', '12 KiB, bit 13');
  t.is(r.ioctl(GET, getAt(r, { iova: BASE + PAGE, length: 3n * PAGE, pageSize: 3n * PAGE, flags: 1 })), 0, '12 KiB, bit 12');
  t.deepEqual(pagesNow(r), WRITTEN);
});

test('§7 GET: iova + length not aligned to page_size → EINVAL', (t) => {
  const r = armed();
  fails(t, r, GET, getAt(r, { length: PAGE + 1n }), 'EINVAL', 'one byte over');
  fails(t, r, GET, getAt(r, { length: PAGE / 2n, pageSize: PAGE }), 'EINVAL', 'half a page');
  fails(t, r, GET, getAt(r, { length: 8n * PAGE, pageSize: 16n * PAGE }), 'EINVAL', 'half a 64 KiB page');
  t.deepEqual(pagesNow(r), WRITTEN);
});

test('§7 GET: misalignment is checked before the capability (EINVAL on a HWPT without it)', (t) => {
  const r = armed();
  fails(t, r, GET, getAt(r, { hwptId: r.plainHwpt, iova: BASE + 1n }), 'EINVAL');
  fails(t, r, GET, getAt(r, { hwptId: r.plainHwpt, pageSize: 0n }), 'EINVAL', 'page_size 0');
  t.deepEqual(pagesNow(r), WRITTEN);
});

test('§7 GET: no power-of-two or 4 KiB minimum on page_size (512, 1 and 4 KiB + 8 KiB accepted)', (t) => {
  const r = armed();
  const view = (bits: number) => setBits(r.mem.buffer, 4096, bits);
  // 512-byte bits: page 5 of the window (byte 17 + 5·4096 was written) is bits 40..47
  r.mem.bytes.fill(0, 4096, 4096 + 64);
  t.is(r.ioctl(GET, getAt(r, { iova: BASE + 5n * PAGE, length: PAGE, pageSize: 512n, data: 4096n, flags: 1 })), 0);
  t.deepEqual(view(8), [0, 1, 2, 3, 4, 5, 6, 7]);
  // page size 1: bit n is byte n; a 4 KiB page granule sets all 4096 of its bits
  r.mem.bytes.fill(0, 4096, 4096 + 512);
  t.is(r.ioctl(GET, getAt(r, { iova: BASE + 5n * PAGE, length: PAGE, pageSize: 1n, data: 4096n, flags: 1 })), 0);
  t.is(view(4096).length, 4096);
  t.deepEqual(pagesNow(r), WRITTEN);
});

test('§7 GET: a HWPT without the dirty-tracking capability → EOPNOTSUPP, last', (t) => {
  const r = armed();
  fails(t, r, GET, getAt(r, { hwptId: r.plainHwpt }), 'EOPNOTSUPP');
  fails(t, r, GET, getAt(r, { hwptId: r.plainHwpt, flags: 1 }), 'EOPNOTSUPP', 'NO_CLEAR');
  // before the bitmap is looked at
  fails(t, r, GET, getAt(r, { hwptId: r.plainHwpt, data: BigInt(r.mem.byteLength) }), 'EOPNOTSUPP', 'bitmap outside');
  t.deepEqual(pagesNow(r), WRITTEN);
});

test('§7 GET (we decide): a bitmap whose bits do not fit in user memory → EFAULT, before anything is cleared', (t) => {
  const r = armed();
  const len = r.mem.byteLength;
  fails(t, r, GET, getAt(r, { data: BigInt(len - 4) }), 'EFAULT', '8 bytes needed, 4 left');
  fails(t, r, GET, getAt(r, { data: U64 - 1n }), 'EFAULT', 'wild pointer');
  fails(t, r, GET, getAt(r, { iova: 0n, length: 1n << 40n, data: 0n }), 'EFAULT', '32 MiB of bits');
  r.mem.bytes.fill(0, len - 8, len);
  t.is(r.ioctl(GET, getAt(r, { data: BigInt(len - 8), flags: 1 })), 0, 'exactly fits');
  t.deepEqual(pagesNow(r), WRITTEN);
});

test('§7 typed layer goes through the same checks (errnos as VfioError, nothing changed)', async (t) => {
  const r = armed();
  const before = r.mem.bytes.slice(0, 4096);
  const get = (g: Partial<Parameters<Armed['calls']['getDirtyBitmap']>[0]>) => () =>
    r.calls.getDirtyBitmap({ hwptId: r.hwpt, iova: BASE, length: BigInt(PAGES) * PAGE, pageSize: PAGE, bitmap: BITMAP_AT, ...g });
  t.is(await errnoOf(() => r.calls.setDirtyTracking(999, true)), 'ENOENT');
  t.is(await errnoOf(() => r.calls.setDirtyTracking(r.plainHwpt, true)), 'EOPNOTSUPP');
  t.is(await errnoOf(get({ hwptId: r.ioas })), 'ENOENT');
  t.is(await errnoOf(get({ iova: U64 - PAGE, length: 2n * PAGE })), 'EOVERFLOW');
  t.is(await errnoOf(get({ pageSize: 0n })), 'EINVAL');
  t.is(await errnoOf(get({ iova: BASE + 1n })), 'EINVAL');
  t.is(await errnoOf(get({ hwptId: r.plainHwpt })), 'EOPNOTSUPP');
  t.is(await errnoOf(get({ bitmap: r.mem.byteLength })), 'EFAULT');
  t.deepEqual(r.mem.bytes.slice(0, 4096), before);
  r.mem.bytes.fill(0, BITMAP_AT, BITMAP_AT + 8);
  t.is(get({})(), 3);
  t.deepEqual(setBits(r.mem.buffer, BITMAP_AT, PAGES), WRITTEN);
});
