// The iommufd call generator: hostile IOMMU_HWPT_SET_DIRTY_TRACKING / GET_DIRTY_BITMAP structs
// (sizes below, at and above the minimum with zero or non-zero tails, unknown flags, reserved,
// unknown and non-paging ids, overflowing ends, length 0, page sizes 0, non-power-of-two or huge,
// misaligned iova, bitmaps at the end of user memory or outside it), wrong request numbers, raw
// bytes and flipped bytes. Pure: a Draw and the lane's context in, one FuzzCall out.
import { GET_DIRTY_BITMAP_BYTES, IOMMU_HWPT_GET_DIRTY_BITMAP, IOMMU_HWPT_SET_DIRTY_TRACKING, SET_DIRTY_TRACKING_BYTES } from '../iommufd/abi.js';
import { encodeGetDirtyBitmap, encodeSetDirtyTracking } from '../iommufd/structs.js';
import { U64_MAX } from '../uapi/abi.js';
import { bitmapBytes } from '../uapi/user-memory.js';
import { PLACEMENTS, placePointer, type FuzzCall, type MemWrite } from './call.js';
import { bytes, chance, pick, weighted, type Draw } from './draw.js';
import type { ModelMapping } from './dirty-model.js';
import { EDGE_PAGE_SIZES, EDGE_U64 } from './generate.js';

export interface IommuGenContext {
  memoryBytes: number;
  /** Paging HWPT ids (a correct caller's). */
  hwpts: readonly number[];
  /** Ids that name an object other than a HWPT (IOAS, devices). */
  otherIds: readonly number[];
  /** The next id the iommufd would hand out (not allocated yet). */
  nextId: number;
  mappings: readonly ModelMapping[];
}

const SET = IOMMU_HWPT_SET_DIRTY_TRACKING;
const GET = IOMMU_HWPT_GET_DIRTY_BITMAP;
const U64_LIMIT = 1n << 64n;
/** Sizes around both minimums (16, 48), and far past them. */
const EDGE_SIZES: readonly number[] = [0, 1, 3, 4, 8, 15, 16, 17, 24, 32, 40, 47, 48, 49, 56, 64, 128, 4096, 1 << 16, 0x7fffffff, 0xffffffff];
/** Requests next to the two real ones, VFIO's, the _IOWR spellings of the real ones, and 0. */
const WRONG_REQUESTS: readonly number[] = [0x3b8a, 0x3b8d, 0x3b75, 0xc0103b8b, 0xc0303b8c, 0x8b, 0x3c8b, 0];
const GOOD_PAGE_SIZES: readonly bigint[] = [4096n, 8192n, 65536n, 2n << 20n];

type Shape = 'set' | 'get' | 'raw' | 'mutant' | 'request';
const SHAPES: ReadonlyArray<readonly [number, Shape]> = [[28, 'set'], [50, 'get'], [7, 'raw'], [10, 'mutant'], [5, 'request']];

export function generateIommufdCall(d: Draw, ctx: IommuGenContext): FuzzCall {
  switch (weighted(d, SHAPES)) {
    case 'set': return setCall(d, ctx);
    case 'get': return getCall(d, ctx);
    case 'raw': return rawCall(d, ctx);
    case 'mutant': return mutate(d, chance(d, 40) ? setCall(d, ctx) : getCall(d, ctx));
    case 'request': {
      const base = chance(d, 50) ? setCall(d, ctx) : getCall(d, ctx);
      return { ...base, request: chance(d, 70) ? pick(d, WRONG_REQUESTS) : d.int(0, 0xffffffff), shape: `request/${base.shape}` };
    }
  }
}

function call(d: Draw, request: number, shape: string, ptr: bigint, writes: MemWrite[]): FuzzCall {
  return { request, ptr, ptrAsNumber: ptr <= BigInt(Number.MAX_SAFE_INTEGER) && chance(d, 50), writes, shape };
}

/** Where the struct goes: mostly inside, else straddling the end, past it, far, or near 2^64. */
function structPointer(d: Draw, ctx: IommuGenContext, bytesNeeded: number): bigint {
  const place = chance(d, 88) ? pick(d, ['inside-aligned', 'inside'] as const) : pick(d, PLACEMENTS);
  return placePointer(place, BigInt(bytesNeeded), ctx.memoryBytes, d.unit(), d.u64());
}

/** The struct's size word and the tail bytes laid after the known struct (zero, or with one non-zero byte). */
function sizeAndTail(d: Draw, known: number): { size: number; tail: Uint8Array } {
  const size = weighted(d, [[70, known], [15, known + pick(d, [1, 4, 8, 16, 24, 64, 200])], [15, pick(d, EDGE_SIZES)]]);
  const tailBytes = size > known && size - known <= 256 ? size - known : 0;
  const tail = new Uint8Array(tailBytes);
  if (tailBytes > 0 && chance(d, 40)) tail[d.int(0, tailBytes - 1)] = d.int(1, 255);
  return { size, tail };
}

function hwptId(d: Draw, ctx: IommuGenContext): number {
  return weighted(d, [
    [80, pick(d, ctx.hwpts)],
    [8, pick(d, ctx.otherIds)],
    [12, pick(d, [0, ctx.nextId, ctx.nextId + 1, 0x7fffffff, 0xffffffff])],
  ]);
}

function setCall(d: Draw, ctx: IommuGenContext): FuzzCall {
  const { size, tail } = sizeAndTail(d, SET_DIRTY_TRACKING_BYTES);
  const ptr = structPointer(d, ctx, SET_DIRTY_TRACKING_BYTES + tail.length);
  const flags = weighted(d, [[85, pick(d, [1, 0])], [10, pick(d, [2, 3, 1 << 31, 0xffffffff])], [5, d.int(0, 0xffffffff)]]);
  const reserved = chance(d, 70) ? 0 : d.int(0, 0xffffffff); // not checked: must not matter
  const struct = new Uint8Array(SET_DIRTY_TRACKING_BYTES);
  encodeSetDirtyTracking(new DataView(struct.buffer), 0, { size, flags, hwptId: hwptId(d, ctx), reserved });
  return call(d, SET, `set/${flags <= 1 ? (flags ? 'enable' : 'disable') : 'flags'}`, ptr, [
    { at: ptr, bytes: struct }, { at: ptr + BigInt(SET_DIRTY_TRACKING_BYTES), bytes: tail },
  ]);
}

/** A GET window: mostly a stretch of a mapping at a usable page size, else edge values. */
function getWindow(d: Draw, ctx: IommuGenContext): { kind: string; iova: bigint; length: bigint; pageSize: bigint } {
  const maxBits = BigInt(ctx.memoryBytes * 8);
  const kind = weighted(d, [[55, 'mapping'], [8, 'misaligned'], [8, 'overflow'], [6, 'zero'], [10, 'page'], [13, 'edge']] as const);
  const m = pick(d, ctx.mappings);
  const P = pick(d, GOOD_PAGE_SIZES);
  switch (kind) {
    case 'mapping': {
      // Start in (or a little before) the mapping, run to or past its end; sometimes the whole mapping.
      if (chance(d, 25)) return { kind, iova: m.iova, length: m.length, pageSize: P };
      const pages = m.length / P > 0n ? m.length / P : 1n;
      const first = BigInt(d.int(0, Number(pages - 1n))) - (chance(d, 10) ? 1n : 0n);
      const iova = m.iova + first * P >= 0n ? m.iova + first * P : 0n;
      let n = BigInt(d.int(1, Number(pages + 2n)));
      if (n > maxBits) n = maxBits;
      if (iova + n * P > U64_MAX + 1n) n = (U64_LIMIT - iova) / P;
      return { kind, iova, length: n * P, pageSize: P };
    }
    case 'misaligned': {
      const off = BigInt(d.int(1, 4095));
      return chance(d, 50)
        ? { kind, iova: m.iova + off, length: P, pageSize: P }
        : { kind, iova: m.iova, length: P + off, pageSize: P };
    }
    case 'overflow': {
      // The inclusive end at exactly 2^64 - 1 (fine), or one past it (EOVERFLOW).
      const length = BigInt(d.int(1, 16)) * P;
      const iova = U64_LIMIT - length + (chance(d, 50) ? 0n : P);
      return { kind, iova: iova & U64_MAX, length: chance(d, 20) ? U64_MAX : length, pageSize: P };
    }
    case 'zero': return { kind, iova: chance(d, 50) ? 0n : m.iova + P, length: 0n, pageSize: pick(d, [P, 1n, 0n]) };
    case 'page': {
      // Page sizes 0, 1, non-powers of two, huge: the bitmap is indexed by the lowest set bit.
      const pageSize = pick(d, [0n, 1n, 3n, 4095n, 6144n, 12288n, 3n << 20n, 1n << 40n, 1n << 63n, U64_MAX, ...EDGE_PAGE_SIZES]);
      const low = pageSize & -pageSize;
      const unit = low > 0n ? low : 4096n;
      const iova = (m.iova / unit) * unit;
      const want = BigInt(d.int(1, 64)) * unit;
      return { kind, iova, length: iova + want > U64_LIMIT ? U64_LIMIT - iova : want, pageSize };
    }
    case 'edge': return { kind, iova: chance(d, 60) ? pick(d, EDGE_U64) : d.u64(), length: chance(d, 60) ? pick(d, EDGE_U64) : d.u64(), pageSize: chance(d, 70) ? pick(d, EDGE_PAGE_SIZES) : d.u64() };
  }
}

/** A bitmap pointer: inside, ending exactly at the end of user memory, a word short of it, or outside. */
function bitmapPointer(d: Draw, ctx: IommuGenContext, bitmapSize: bigint): bigint {
  const mem = BigInt(ctx.memoryBytes);
  return weighted(d, [
    [70, placePointer(pick(d, ['inside-aligned', 'inside'] as const), bitmapSize, ctx.memoryBytes, d.unit(), 0n)],
    [10, mem - bitmapSize],
    [5, mem - bitmapSize + pick(d, [1n, 4n, 8n])],
    [15, placePointer(pick(d, PLACEMENTS), bitmapSize, ctx.memoryBytes, d.unit(), d.u64())],
  ]) & U64_MAX;
}

function getCall(d: Draw, ctx: IommuGenContext): FuzzCall {
  const w = getWindow(d, ctx);
  const low = w.pageSize & -w.pageSize;
  const bitCount = low > 0n ? w.length / low : 1n;
  const data = bitmapPointer(d, ctx, bitmapBytes(bitCount > 0n ? bitCount : 1n));
  const { size, tail } = sizeAndTail(d, GET_DIRTY_BITMAP_BYTES);
  const ptr = structPointer(d, ctx, GET_DIRTY_BITMAP_BYTES + tail.length);
  const flags = weighted(d, [[88, pick(d, [0, 1])], [12, pick(d, [2, 3, 1 << 31, 0xffffffff, d.int(0, 0xffffffff)])]]);
  const reserved = chance(d, 92) ? 0 : pick(d, [1, 1 << 31, d.int(0, 0xffffffff)]);
  const struct = new Uint8Array(GET_DIRTY_BITMAP_BYTES);
  encodeGetDirtyBitmap(new DataView(struct.buffer), 0, {
    size, hwptId: hwptId(d, ctx), flags, reserved, iova: w.iova, length: w.length, pageSize: w.pageSize, data,
  });
  const writes: MemWrite[] = [{ at: ptr, bytes: struct }, { at: ptr + BigInt(GET_DIRTY_BITMAP_BYTES), bytes: tail }];
  // A pre-set pattern in the bitmap now and then (besides the canary): those bits must stay set.
  if (chance(d, 20) && bitCount > 0n && bitCount <= 4096n) writes.unshift({ at: data, bytes: bytes(d, Number(bitmapBytes(bitCount))) });
  else if (chance(d, 40) && bitCount > 0n && bitCount <= BigInt(ctx.memoryBytes * 8)) writes.unshift({ at: data, bytes: new Uint8Array(Number(bitmapBytes(bitCount))) });
  return call(d, GET, `get/${w.kind}${flags === 1 ? '/no-clear' : ''}`, ptr, writes);
}

/** Random bytes at the pointer, the size word now and then a real minimum. */
function rawCall(d: Draw, ctx: IommuGenContext): FuzzCall {
  const request = pick(d, [SET, GET]);
  const ptr = structPointer(d, ctx, 64);
  const raw = bytes(d, d.int(0, 96));
  if (raw.length >= 4 && chance(d, 50)) new DataView(raw.buffer).setUint32(0, request === SET ? SET_DIRTY_TRACKING_BYTES : GET_DIRTY_BITMAP_BYTES, true);
  return call(d, request, 'raw', ptr, [{ at: ptr, bytes: raw }]);
}

/** A structured call with 1-4 random bytes changed. */
function mutate(d: Draw, base: FuzzCall): FuzzCall {
  const writes = base.writes.map((w) => ({ at: w.at, bytes: w.bytes.slice() }));
  for (let i = d.int(1, 4); i > 0; i--) {
    const w = pick(d, writes);
    if (w.bytes.length > 0) w.bytes[d.int(0, w.bytes.length - 1)] ^= d.int(1, 255);
  }
  return { ...base, writes, shape: `mutant/${base.shape}` };
}
