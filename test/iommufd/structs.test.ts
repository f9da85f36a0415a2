// contract §7 numbers and struct layouts, byte for byte.
import test from 'ava';
import * as abi from '../../src/iommufd/abi.js';
import { decodeGetDirtyBitmap, decodeSetDirtyTracking, encodeGetDirtyBitmap, encodeSetDirtyTracking } from '../../src/iommufd/structs.js';

test('§7 numbers: type, requests = _IO(\';\', 0x8b / 0x8c), flags, sizes, granules', (t) => {
  t.is(abi.IOMMUFD_TYPE, ';'.charCodeAt(0));
  t.is(abi.IOMMUFD_TYPE, 0x3b);
  t.is(abi.IOMMU_HWPT_SET_DIRTY_TRACKING, 0x3b8b);
  t.is(abi.IOMMU_HWPT_GET_DIRTY_BITMAP, 0x3b8c);
  t.is(abi.IOMMU_HWPT_DIRTY_TRACKING_ENABLE, 1);
  t.is(abi.IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR, 1);
  t.is(abi.SET_DIRTY_TRACKING_BYTES, 16);
  t.is(abi.GET_DIRTY_BITMAP_BYTES, 48);
  t.is(abi.IOMMU_PAGE_4K, 4096n);
  t.is(abi.IOMMU_PAGE_2M, 2n * 1024n * 1024n);
});

test('§7 iommu_hwpt_set_dirty_tracking: size @0, flags @4, hwpt_id @8, __reserved @12, little-endian u32', (t) => {
  const view = new DataView(new ArrayBuffer(20));
  encodeSetDirtyTracking(view, 2, { size: 0x11223344, flags: 0x55667788, hwptId: 0x99aabbcc, reserved: 0xddeeff01 });
  t.deepEqual([...new Uint8Array(view.buffer, 2, 16)], [
    0x44, 0x33, 0x22, 0x11, 0x88, 0x77, 0x66, 0x55, 0xcc, 0xbb, 0xaa, 0x99, 0x01, 0xff, 0xee, 0xdd,
  ]);
  t.deepEqual(decodeSetDirtyTracking(view, 2), { size: 0x11223344, flags: 0x55667788, hwptId: 0x99aabbcc, reserved: 0xddeeff01 });
});

test('§7 iommu_hwpt_get_dirty_bitmap: size @0, hwpt_id @4, flags @8, __reserved @12, iova @16, length @24, page_size @32, data @40', (t) => {
  const view = new DataView(new ArrayBuffer(56));
  const g = {
    size: 48, hwptId: 7, flags: 1, reserved: 9,
    iova: 0x0102030405060708n, length: (1n << 64n) - 1n, pageSize: 0x1000n, data: 0xa0b0c0d0e0f00010n,
  };
  encodeGetDirtyBitmap(view, 3, g);
  const at = (o: number) => 3 + o;
  t.is(view.getUint32(at(0), true), 48);
  t.is(view.getUint32(at(4), true), 7);
  t.is(view.getUint32(at(8), true), 1);
  t.is(view.getUint32(at(12), true), 9);
  t.is(view.getBigUint64(at(16), true), g.iova);
  t.is(view.getBigUint64(at(24), true), g.length);
  t.is(view.getBigUint64(at(32), true), g.pageSize);
  t.is(view.getBigUint64(at(40), true), g.data);
  t.is(view.getUint8(at(16)), 0x08); // little-endian: low byte first
  t.deepEqual(decodeGetDirtyBitmap(view, 3), g);
});

test('§7 encoders store u64 modulo 2^64 and u32 modulo 2^32', (t) => {
  const view = new DataView(new ArrayBuffer(48));
  encodeGetDirtyBitmap(view, 0, { size: -1, hwptId: 2 ** 32 + 5, flags: 0, reserved: 0, iova: -1n, length: 1n << 64n, pageSize: 0n, data: 0n });
  const g = decodeGetDirtyBitmap(view, 0);
  t.is(g.size, 0xffffffff);
  t.is(g.hwptId, 5);
  t.is(g.iova, (1n << 64n) - 1n);
  t.is(g.length, 0n);
});
