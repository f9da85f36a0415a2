// Encode/decode pairs for iommufd's dirty-tracking structs (contract §7), little-endian, u64 as
// bigint. Decoding never validates: that is validate.ts's job.
import {
  GET_DIRTY_DATA_OFFSET, GET_DIRTY_FLAGS_OFFSET, GET_DIRTY_HWPT_ID_OFFSET, GET_DIRTY_IOVA_OFFSET,
  GET_DIRTY_LENGTH_OFFSET, GET_DIRTY_PAGE_SIZE_OFFSET, GET_DIRTY_RESERVED_OFFSET, GET_DIRTY_SIZE_OFFSET,
  SET_DIRTY_FLAGS_OFFSET, SET_DIRTY_HWPT_ID_OFFSET, SET_DIRTY_RESERVED_OFFSET, SET_DIRTY_SIZE_OFFSET,
} from './abi.js';
import { structCodec } from '../uapi/struct-codec.js';

export interface SetDirtyTracking { size: number; flags: number; hwptId: number; reserved: number }
export interface GetDirtyBitmap {
  size: number; hwptId: number; flags: number; reserved: number;
  iova: bigint; length: bigint; pageSize: bigint; data: bigint;
}

const setDirtyTracking = structCodec<SetDirtyTracking>({
  size: [SET_DIRTY_SIZE_OFFSET, 'u32'],
  flags: [SET_DIRTY_FLAGS_OFFSET, 'u32'],
  hwptId: [SET_DIRTY_HWPT_ID_OFFSET, 'u32'],
  reserved: [SET_DIRTY_RESERVED_OFFSET, 'u32'],
});
const getDirtyBitmap = structCodec<GetDirtyBitmap>({
  size: [GET_DIRTY_SIZE_OFFSET, 'u32'],
  hwptId: [GET_DIRTY_HWPT_ID_OFFSET, 'u32'],
  flags: [GET_DIRTY_FLAGS_OFFSET, 'u32'],
  reserved: [GET_DIRTY_RESERVED_OFFSET, 'u32'],
  iova: [GET_DIRTY_IOVA_OFFSET, 'u64'],
  length: [GET_DIRTY_LENGTH_OFFSET, 'u64'],
  pageSize: [GET_DIRTY_PAGE_SIZE_OFFSET, 'u64'],
  data: [GET_DIRTY_DATA_OFFSET, 'u64'],
});

export const { decode: decodeSetDirtyTracking, encode: encodeSetDirtyTracking } = setDirtyTracking;
export const { decode: decodeGetDirtyBitmap, encode: encodeGetDirtyBitmap } = getDirtyBitmap;
