// Encode/decode pairs for iommufd's dirty-tracking structs (contract §7), little-endian, u64 as
// bigint. Decoding never validates: that is validate.ts's job.
import {
  GET_DIRTY_DATA_OFFSET, GET_DIRTY_FLAGS_OFFSET, GET_DIRTY_HWPT_ID_OFFSET, GET_DIRTY_IOVA_OFFSET,
  GET_DIRTY_LENGTH_OFFSET, GET_DIRTY_PAGE_SIZE_OFFSET, GET_DIRTY_RESERVED_OFFSET, GET_DIRTY_SIZE_OFFSET,
  SET_DIRTY_FLAGS_OFFSET, SET_DIRTY_HWPT_ID_OFFSET, SET_DIRTY_RESERVED_OFFSET, SET_DIRTY_SIZE_OFFSET,
} from './abi.js';

export interface SetDirtyTracking { size: number; flags: number; hwptId: number; reserved: number }
export interface GetDirtyBitmap {
  size: number; hwptId: number; flags: number; reserved: number;
  iova: bigint; length: bigint; pageSize: bigint; data: bigint;
}

const LE = true;

export function decodeSetDirtyTracking(view: DataView, at: number): SetDirtyTracking {
  return {
    size: view.getUint32(at + SET_DIRTY_SIZE_OFFSET, LE),
    flags: view.getUint32(at + SET_DIRTY_FLAGS_OFFSET, LE),
    hwptId: view.getUint32(at + SET_DIRTY_HWPT_ID_OFFSET, LE),
    reserved: view.getUint32(at + SET_DIRTY_RESERVED_OFFSET, LE),
  };
}
export function encodeSetDirtyTracking(view: DataView, at: number, s: SetDirtyTracking): void {
  view.setUint32(at + SET_DIRTY_SIZE_OFFSET, s.size >>> 0, LE);
  view.setUint32(at + SET_DIRTY_FLAGS_OFFSET, s.flags >>> 0, LE);
  view.setUint32(at + SET_DIRTY_HWPT_ID_OFFSET, s.hwptId >>> 0, LE);
  view.setUint32(at + SET_DIRTY_RESERVED_OFFSET, s.reserved >>> 0, LE);
}

export function decodeGetDirtyBitmap(view: DataView, at: number): GetDirtyBitmap {
  return {
    size: view.getUint32(at + GET_DIRTY_SIZE_OFFSET, LE),
    hwptId: view.getUint32(at + GET_DIRTY_HWPT_ID_OFFSET, LE),
    flags: view.getUint32(at + GET_DIRTY_FLAGS_OFFSET, LE),
    reserved: view.getUint32(at + GET_DIRTY_RESERVED_OFFSET, LE),
    iova: view.getBigUint64(at + GET_DIRTY_IOVA_OFFSET, LE),
    length: view.getBigUint64(at + GET_DIRTY_LENGTH_OFFSET, LE),
    pageSize: view.getBigUint64(at + GET_DIRTY_PAGE_SIZE_OFFSET, LE),
    data: view.getBigUint64(at + GET_DIRTY_DATA_OFFSET, LE),
  };
}
export function encodeGetDirtyBitmap(view: DataView, at: number, g: GetDirtyBitmap): void {
  view.setUint32(at + GET_DIRTY_SIZE_OFFSET, g.size >>> 0, LE);
  view.setUint32(at + GET_DIRTY_HWPT_ID_OFFSET, g.hwptId >>> 0, LE);
  view.setUint32(at + GET_DIRTY_FLAGS_OFFSET, g.flags >>> 0, LE);
  view.setUint32(at + GET_DIRTY_RESERVED_OFFSET, g.reserved >>> 0, LE);
  view.setBigUint64(at + GET_DIRTY_IOVA_OFFSET, BigInt.asUintN(64, g.iova), LE);
  view.setBigUint64(at + GET_DIRTY_LENGTH_OFFSET, BigInt.asUintN(64, g.length), LE);
  view.setBigUint64(at + GET_DIRTY_PAGE_SIZE_OFFSET, BigInt.asUintN(64, g.pageSize), LE);
  view.setBigUint64(at + GET_DIRTY_DATA_OFFSET, BigInt.asUintN(64, g.data), LE);
}
