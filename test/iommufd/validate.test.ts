// iommufd/validate.ts alone: pure (nothing but user memory and a lookup), and what a passing call
// decodes to. The errno rules themselves are in iommufd/ioctl.test.ts, through the raw ioctl.
import test from 'ava';
import { IOMMU_HWPT_GET_DIRTY_BITMAP, IOMMU_HWPT_SET_DIRTY_TRACKING } from '../../src/iommufd/abi.js';
import { checkIommufdCall, type HwptLookup } from '../../src/iommufd/validate.js';
import { UserMemory } from '../../src/uapi/user-memory.js';
import { PAGE } from '../helpers/abi.js';
import { putGet, putSet } from '../helpers/iommufd.js';

const capable: HwptLookup = (id) => (id === 5 ? { dirtyTracking: true } : null);

test('a passing SET decodes to its id and whether it enables', (t) => {
  const mem = new UserMemory(new SharedArrayBuffer(256));
  t.deepEqual(checkIommufdCall(mem, IOMMU_HWPT_SET_DIRTY_TRACKING, BigInt(putSet(mem, 8, { hwptId: 5 })), capable), { kind: 'set', hwptId: 5, enable: true });
  t.deepEqual(checkIommufdCall(mem, IOMMU_HWPT_SET_DIRTY_TRACKING, BigInt(putSet(mem, 8, { hwptId: 5, flags: 0 })), capable), { kind: 'set', hwptId: 5, enable: false });
});

test('a passing GET decodes to its window, the page size its bits are indexed by (lowest set bit), and where its bits go', (t) => {
  const mem = new UserMemory(new SharedArrayBuffer(256));
  putGet(mem, 0, { hwptId: 5, iova: 0x10000n, length: 24n * PAGE, pageSize: 3n * PAGE, data: 100n, flags: 1 });
  t.deepEqual(checkIommufdCall(mem, IOMMU_HWPT_GET_DIRTY_BITMAP, 0n, capable), {
    kind: 'get', hwptId: 5, iova: 0x10000n, length: 24n * PAGE, pageSize: 3n * PAGE, bitPageSize: PAGE,
    noClear: true, bitmapAt: 100, bitCount: 24,
  });
});

test('the checks change nothing: user memory is the same after every call, passing or failing', (t) => {
  const mem = new UserMemory(new SharedArrayBuffer(256));
  mem.bytes.fill(0x5a, 128);
  putGet(mem, 0, { hwptId: 5, iova: 0n, length: 64n * PAGE, data: 128n });
  const before = mem.bytes.slice();
  let looked = 0;
  const lookup: HwptLookup = (id) => { looked++; return capable(id); };
  checkIommufdCall(mem, IOMMU_HWPT_GET_DIRTY_BITMAP, 0n, lookup);
  mem.view.setUint32(4, 6, true); // unknown id
  const after = mem.bytes.slice();
  checkIommufdCall(mem, IOMMU_HWPT_GET_DIRTY_BITMAP, 0n, lookup);
  t.deepEqual(mem.bytes, after);
  t.is(before[128], after[128]);
  t.is(looked, 2);
  mem.view.setUint32(8, 2, true); // bad flags: decided before any lookup
  checkIommufdCall(mem, IOMMU_HWPT_GET_DIRTY_BITMAP, 0n, lookup);
  t.is(looked, 2);
});
