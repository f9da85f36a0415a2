// contract §7: iommufd's checks for its two dirty-tracking ioctls, in the kernel's order. Pure: each
// check reads user memory (the simulated copy_from_user) and a read-only view of the objects,
// returns an errno name on failure, and changes nothing.
import { U64_MAX } from '../uapi/abi.js';
import { bitmapBytes, type UserMemory } from '../uapi/user-memory.js';
import type { Checked } from '../util/result.js';
import {
  GET_DIRTY_BITMAP_BYTES, IOMMU_HWPT_DIRTY_TRACKING_ENABLE, IOMMU_HWPT_GET_DIRTY_BITMAP,
  IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR, IOMMU_HWPT_SET_DIRTY_TRACKING, IOMMUFD_SIZE_BYTES, SET_DIRTY_TRACKING_BYTES,
} from './abi.js';
import { decodeGetDirtyBitmap, decodeSetDirtyTracking } from './structs.js';

/** What the checks may know of an object id: null unless it names a paging HWPT. */
export type HwptLookup = (id: number) => { dirtyTracking: boolean } | null;

export interface SetTrackingCall { kind: 'set'; hwptId: number; enable: boolean }
export interface GetBitmapCall {
  kind: 'get';
  hwptId: number;
  iova: bigint;
  length: bigint;
  /** The page size as the caller wrote it. */
  pageSize: bigint;
  /** What the bitmap is indexed by: the lowest set bit of pageSize (the kernel's __ffs). */
  bitPageSize: bigint;
  noClear: boolean;
  /** Byte offset of the bitmap in user memory (meaningless when bitCount is 0). */
  bitmapAt: number;
  bitCount: number;
}
export type IommufdCall = SetTrackingCall | GetBitmapCall;

/** Struct size (which is also its minimum) per known request. */
const STRUCT_BYTES: Record<number, number> = {
  [IOMMU_HWPT_SET_DIRTY_TRACKING]: SET_DIRTY_TRACKING_BYTES,
  [IOMMU_HWPT_GET_DIRTY_BITMAP]: GET_DIRTY_BITMAP_BYTES,
};

/** Every check of one call, request number first, then the generic size checks, then the command's. */
export function checkIommufdCall(mem: UserMemory, request: number, ptr: bigint, lookup: HwptLookup): Checked<IommufdCall> {
  const known = Object.hasOwn(STRUCT_BYTES, request) ? STRUCT_BYTES[request]! : null;
  if (known === null) return { errno: 'ENOTTY' };
  const at = checkStructSize(mem, ptr, known);
  if (typeof at !== 'number') return at;
  return request === IOMMU_HWPT_SET_DIRTY_TRACKING ? checkSetTracking(mem, at, lookup) : checkGetBitmap(mem, at, lookup);
}

/**
 * The generic part (copy_struct_from_user): `size` unreadable → EFAULT; below the minimum →
 * EINVAL; bytes past the known struct unreadable → EFAULT, any of them non-zero → E2BIG; the
 * known struct unreadable → EFAULT. Returns the struct's byte offset.
 */
export function checkStructSize(mem: UserMemory, ptr: bigint, known: number): Checked<number> {
  const sizeAt = mem.locate(ptr, IOMMUFD_SIZE_BYTES);
  if (sizeAt === null) return { errno: 'EFAULT' };
  const size = mem.view.getUint32(sizeAt, true);
  if (size < known) return { errno: 'EINVAL' };
  if (size > known) {
    const tailAt = mem.locate(ptr + BigInt(known), size - known);
    if (tailAt === null) return { errno: 'EFAULT' };
    for (let i = tailAt; i < tailAt + size - known; i++) if (mem.bytes[i] !== 0) return { errno: 'E2BIG' };
  }
  const at = mem.locate(ptr, known);
  if (at === null) return { errno: 'EFAULT' };
  return at;
}

/** SET: flags, then the id, then the capability; `__reserved` is not looked at (nor is it by the kernel). */
export function checkSetTracking(mem: UserMemory, at: number, lookup: HwptLookup): Checked<SetTrackingCall> {
  const s = decodeSetDirtyTracking(mem.view, at);
  if ((s.flags & ~IOMMU_HWPT_DIRTY_TRACKING_ENABLE) !== 0) return { errno: 'EOPNOTSUPP' };
  const hwpt = lookup(s.hwptId);
  if (hwpt === null) return { errno: 'ENOENT' };
  if (!hwpt.dirtyTracking) return { errno: 'EOPNOTSUPP' };
  return { kind: 'set', hwptId: s.hwptId, enable: (s.flags & IOMMU_HWPT_DIRTY_TRACKING_ENABLE) !== 0 };
}

/**
 * GET, in contract §7's order. Past the kernel we decide one more: a bitmap whose bits do not fit in
 * user memory → EFAULT, last, before anything is read or cleared (as REPORT, contract §3.7).
 */
export function checkGetBitmap(mem: UserMemory, at: number, lookup: HwptLookup): Checked<GetBitmapCall> {
  const g = decodeGetDirtyBitmap(mem.view, at);
  if ((g.flags & ~IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR) !== 0 || g.reserved !== 0) return { errno: 'EOPNOTSUPP' };
  const hwpt = lookup(g.hwptId);
  if (hwpt === null) return { errno: 'ENOENT' };
  // The inclusive end: length 0 wraps to 2^64 - 1, which only iova 0 survives.
  const lastIova = g.iova + BigInt.asUintN(64, g.length - 1n);
  if (lastIova > U64_MAX) return { errno: 'EOVERFLOW' };
  if (g.pageSize === 0n) return { errno: 'EINVAL' };
  // The mask as written, on u64 values: iova + length may be exactly 2^64, which wraps to 0.
  const mask = g.pageSize - 1n;
  if ((g.iova & mask) !== 0n || (BigInt.asUintN(64, lastIova + 1n) & mask) !== 0n) return { errno: 'EINVAL' };
  if (!hwpt.dirtyTracking) return { errno: 'EOPNOTSUPP' };
  const bitPageSize = g.pageSize & -g.pageSize;
  const bits = g.length / bitPageSize; // exact: length is a multiple of the lowest set bit
  let bitmapAt = 0;
  if (bits > 0n) {
    const located = mem.locate(g.data, bitmapBytes(bits));
    if (located === null) return { errno: 'EFAULT' };
    bitmapAt = located;
  }
  return {
    kind: 'get', hwptId: g.hwptId, iova: g.iova, length: g.length, pageSize: g.pageSize, bitPageSize,
    noClear: (g.flags & IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR) !== 0, bitmapAt, bitCount: Number(bits),
  };
}
