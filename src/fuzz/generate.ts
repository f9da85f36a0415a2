// The ABI call generator: structured START/STOP/REPORT/PROBE calls built from tables of
// boundary values, raw random bytes, and structured calls with random bytes flipped. Pure: a
// Draw and the lane's context in, one FuzzCall out.
import {
  FEATURE_HEADER_BYTES, LOGGING_CONTROL_BYTES, LOGGING_RANGE_BYTES, LOGGING_REPORT_BYTES, U64_MAX, VFIO_DEVICE_FEATURE,
  VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT, VFIO_DEVICE_FEATURE_DMA_LOGGING_START, VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP,
  VFIO_DEVICE_FEATURE_GET, VFIO_DEVICE_FEATURE_PROBE, VFIO_DEVICE_FEATURE_SET,
} from '../uapi/abi.js';
import type { LoggingRange } from '../uapi/structs.js';
import { bitmapBytes } from '../uapi/user-memory.js';
import { ceilDiv, isPowerOfTwo } from '../util/bits.js';
import {
  PLACEMENTS, controlBytes, headerBytes, placePointer, rangesBytes, reportBytes, type FuzzCall, type MemWrite, type Placement,
} from './call.js';
import { bytes, chance, pick, weighted, type Draw } from './draw.js';

/** What the generator knows about the lane it feeds. */
export interface GenContext {
  memoryBytes: number;
  /** Regions the device tracks now (from its status); REPORTs aim at them. */
  regions: readonly LoggingRange[];
  /** The device's tracking page size now, or null when not logging. */
  granule: bigint | null;
}

const START = VFIO_DEVICE_FEATURE_DMA_LOGGING_START;
const STOP = VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP;
const REPORT = VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT;
const GET = VFIO_DEVICE_FEATURE_GET;
const SET = VFIO_DEVICE_FEATURE_SET;
const PROBE = VFIO_DEVICE_FEATURE_PROBE;
const U64_LIMIT = 1n << 64n;

/** Page sizes at and around every edge the core and the profiles check (contract §3 step 6-7, §4). */
export const EDGE_PAGE_SIZES: readonly bigint[] = [
  4096n, 0n, 1n, 2n, 3n, 4095n, 4097n, 6144n, 8192n, 12288n, 65536n, 1n << 21n, 1n << 30n, 1n << 31n, 1n << 32n,
  1n << 52n, 1n << 62n, 1n << 63n, (1n << 63n) + 4096n, U64_MAX - 4095n, U64_MAX,
];
/** Page sizes a well-behaved caller uses. */
export const GOOD_PAGE_SIZES: readonly bigint[] = [4096n, 8192n, 65536n, 1n << 21n];
export const EDGE_U64: readonly bigint[] = [
  0n, 1n, 4095n, 4096n, 1n << 32n, 1n << 52n, 1n << 53n, 1n << 62n, 1n << 63n, U64_MAX - 8191n, U64_MAX - 4095n, U64_MAX - 1n, U64_MAX,
];
export const EDGE_ARGSZ: readonly number[] = [0, 1, 7, 8, 9, 16, 31, 32, 33, 39, 40, 41, 4096, 0x7fffffff, 0x80000000, 0xffffffff];
export const EDGE_NUM_RANGES: readonly number[] = [0, 1, 2, 3, 4, 5, 8, 9, 16, 255, 256, 257, 4096, 0x7fffffff, 0xffffffff];
/** Feature indexes: the three logging ones, every other merged one, and past the end. */
export const FEATURE_INDEXES: readonly number[] = [START, STOP, REPORT, 0, 1, 2, 3, 4, 5, 9, 10, 11, 12, 0x7fff, 0xffff];
/** Operation bits: each legal combination, GET|SET without PROBE, and reserved bits 19..31. */
export const OP_BITS: readonly number[] = [SET, GET, 0, PROBE, PROBE | SET, PROBE | GET, PROBE | GET | SET, GET | SET, 1 << 19, 1 << 31, 0xfff80000];

type Shape = 'start' | 'report' | 'stop' | 'probe' | 'header' | 'raw' | 'mutant' | 'request';
const SHAPES: ReadonlyArray<readonly [number, Shape]> = [
  [24, 'start'], [34, 'report'], [8, 'stop'], [5, 'probe'], [8, 'header'], [10, 'raw'], [10, 'mutant'], [1, 'request'],
];

export function generateCall(d: Draw, ctx: GenContext): FuzzCall {
  const shape = weighted(d, SHAPES);
  switch (shape) {
    case 'start': return startCall(d, ctx);
    case 'report': return reportCall(d, ctx);
    case 'stop': return headerOnlyCall(d, ctx, 'stop', STOP | SET);
    case 'probe': return headerOnlyCall(d, ctx, 'probe', PROBE | pick(d, [SET, GET, 0, GET | SET]) | pick(d, FEATURE_INDEXES));
    case 'header': return headerCall(d, ctx);
    case 'raw': return rawCall(d, ctx);
    case 'mutant': return mutate(d, chance(d, 50) ? startCall(d, ctx) : reportCall(d, ctx));
    case 'request': {
      const request = chance(d, 50) ? pick(d, [VFIO_DEVICE_FEATURE - 1, VFIO_DEVICE_FEATURE + 1, 0]) : d.int(0, 0xffffffff);
      return { ...startCall(d, ctx), request, shape: 'request' };
    }
  }
}

/** A placement for a struct: mostly where a correct caller puts it. */
function placement(d: Draw, insidePercent: number): Placement {
  return chance(d, insidePercent) ? pick(d, ['inside-aligned', 'inside'] as const) : pick(d, PLACEMENTS);
}

function pointer(d: Draw, ctx: GenContext, sizeBytes: bigint, insidePercent: number): bigint {
  return placePointer(placement(d, insidePercent), sizeBytes, ctx.memoryBytes, d.unit(), d.u64());
}

function call(d: Draw, shape: string, ptr: bigint, writes: MemWrite[]): FuzzCall {
  return { request: VFIO_DEVICE_FEATURE, ptr, ptrAsNumber: ptr <= BigInt(Number.MAX_SAFE_INTEGER) && chance(d, 50), writes, shape };
}

function argsz(d: Draw, payloadBytes: number): number {
  if (chance(d, 80)) return FEATURE_HEADER_BYTES + payloadBytes + (chance(d, 80) ? 0 : d.int(1, 64));
  return chance(d, 70) ? pick(d, EDGE_ARGSZ) : d.int(0, 0xffffffff);
}

function flags(d: Draw, usual: number): number {
  if (chance(d, 85)) return usual;
  return weighted(d, [
    [4, pick(d, OP_BITS) | pick(d, FEATURE_INDEXES)],
    [1, d.int(0, 0xffffffff)],
  ]);
}

function pageSize(d: Draw): bigint {
  return weighted(d, [[6, pick(d, GOOD_PAGE_SIZES)], [3, pick(d, EDGE_PAGE_SIZES)], [1, d.u64()]]);
}

function u64(d: Draw): bigint {
  return chance(d, 60) ? pick(d, EDGE_U64) : d.u64();
}

/** `count` disjoint ranges aligned to `align`, ascending with random gaps (0 = touching). */
function disjointRanges(d: Draw, count: number, align: bigint): LoggingRange[] {
  const ranges: LoggingRange[] = [];
  let at = BigInt(d.int(0, 1 << 20)) * align;
  for (let i = 0; i < count; i++) {
    const pages = chance(d, 95) ? BigInt(d.int(1, 256)) : BigInt(d.int(1, 1 << 16)) << BigInt(d.int(0, 12));
    const length = pages * align;
    if (at + length > U64_MAX) break;
    ranges.push({ iova: at, length });
    at += length + BigInt(chance(d, 30) ? 0 : d.int(1, 1 << 12)) * align;
  }
  return ranges.length > 0 ? ranges : [{ iova: 0n, length: align }];
}

function shuffle<T>(d: Draw, items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = d.int(0, i);
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

type RangesKind = 'valid' | 'unsorted' | 'overlapping' | 'wrapping' | 'zero-length' | 'unaligned' | 'many' | 'random';

function ranges(d: Draw, hint: bigint): { kind: RangesKind; ranges: LoggingRange[] } {
  // Ranges line up with the hint when it is a usable page size, so they pass the core's mask check.
  const align = hint >= 4096n && isPowerOfTwo(hint) && hint <= 1n << 40n ? hint : 4096n;
  const kind = weighted<RangesKind>(d, [
    [40, 'valid'], [12, 'unsorted'], [10, 'overlapping'], [8, 'wrapping'], [6, 'zero-length'], [8, 'unaligned'], [6, 'many'], [10, 'random'],
  ]);
  const count = () => weighted(d, [[6, d.int(1, 4)], [3, d.int(5, 16)], [1, pick(d, [255, 256])]]);
  switch (kind) {
    case 'valid': return { kind, ranges: disjointRanges(d, count(), align) };
    case 'unsorted': return { kind, ranges: shuffle(d, disjointRanges(d, count(), align)) };
    case 'overlapping': {
      const rs = disjointRanges(d, count(), align);
      const victim = rs[d.int(0, rs.length - 1)]!;
      const overlap = { iova: victim.iova + (victim.length > align ? align : 0n), length: victim.length };
      rs.splice(d.int(0, rs.length), 0, chance(d, 30) ? { ...victim } : overlap);
      return { kind, ranges: rs };
    }
    case 'wrapping': {
      // An exclusive end of exactly 2^64 (still an overflow), or past it.
      const exact = chance(d, 50);
      const length = BigInt(d.int(exact ? 1 : 2, 16)) * align;
      const rs = disjointRanges(d, d.int(0, 3), align);
      rs.splice(d.int(0, rs.length), 0, { iova: exact ? U64_LIMIT - length : U64_LIMIT - align, length });
      return { kind, ranges: rs };
    }
    case 'zero-length': {
      const rs = disjointRanges(d, d.int(1, 4), align);
      rs.splice(d.int(0, rs.length), 0, { iova: BigInt(d.int(0, 1 << 20)) * align, length: 0n });
      return { kind, ranges: rs };
    }
    case 'unaligned': {
      const rs = disjointRanges(d, d.int(1, 4), align);
      const victim = rs[d.int(0, rs.length - 1)]!;
      if (chance(d, 50)) victim.iova += BigInt(d.int(1, Number(align > 4096n ? 4095n : align - 1n)));
      else victim.length += BigInt(d.int(1, 4095));
      return { kind, ranges: rs };
    }
    case 'many': return { kind, ranges: disjointRanges(d, pick(d, [257, 256, 258, 300]), align) };
    case 'random': return { kind, ranges: Array.from({ length: d.int(1, 8) }, () => ({ iova: u64(d), length: u64(d) })) };
  }
}

function startCall(d: Draw, ctx: GenContext): FuzzCall {
  const hint = pageSize(d);
  const { kind, ranges: rs } = ranges(d, hint);
  const numRanges = chance(d, 90) ? rs.length : pick(d, EDGE_NUM_RANGES);
  const rangesAt = pointer(d, ctx, BigInt(rs.length * LOGGING_RANGE_BYTES), 85);
  const ptr = pointer(d, ctx, BigInt(FEATURE_HEADER_BYTES + LOGGING_CONTROL_BYTES), 90);
  const reserved = chance(d, 90) ? 0 : d.int(0, 0xffffffff);
  return call(d, `start/${kind}`, ptr, [
    { at: rangesAt, bytes: rangesBytes(rs) },
    { at: ptr, bytes: headerBytes(argsz(d, LOGGING_CONTROL_BYTES), flags(d, START | SET)) },
    { at: ptr + BigInt(FEATURE_HEADER_BYTES), bytes: controlBytes({ pageSize: hint, numRanges, reserved, ranges: rangesAt }) },
  ]);
}

/** A REPORT window: mostly inside one tracked region at a usable page size, else edge values. */
function reportWindow(d: Draw, ctx: GenContext): { kind: string; iova: bigint; length: bigint; pageSize: bigint } {
  const maxBits = BigInt(ctx.memoryBytes * 8);
  if (ctx.regions.length > 0 && chance(d, 70)) {
    const r = pick(d, ctx.regions);
    const P = chance(d, 60) && ctx.granule !== null && ctx.granule >= 4096n ? ctx.granule : pick(d, GOOD_PAGE_SIZES);
    const regionPages = ceilDiv(r.length, P);
    const offset = chance(d, 70) ? BigInt(d.int(0, Number(regionPages > 64n ? 64n : regionPages - 1n))) * P : BigInt(d.int(0, 1 << 16));
    const room = regionPages - offset / P;
    const cap = room < maxBits ? room : maxBits;
    const pages = BigInt(d.int(1, Number(cap > 4096n ? 4096n : cap < 1n ? 1n : cap)));
    // Now and then run past the region's end (pds refuses, mlx5 reports those pages clean).
    const extra = chance(d, 10) ? BigInt(d.int(1, 64)) * P : 0n;
    return { kind: 'region', iova: r.iova + offset, length: pages * P + extra, pageSize: P };
  }
  const P = pageSize(d);
  const iova = u64(d);
  const length = weighted(d, [
    [4, BigInt(d.int(1, 4096)) * (P > 0n && P < 1n << 32n ? P : 4096n)],
    [3, pick(d, EDGE_U64)],
    [2, (U64_LIMIT - iova) & U64_MAX],
    [1, d.u64()],
  ]);
  return { kind: 'edge', iova, length, pageSize: P };
}

function reportCall(d: Draw, ctx: GenContext): FuzzCall {
  const w = reportWindow(d, ctx);
  const bitCount = w.pageSize > 0n ? ceilDiv(w.length, w.pageSize) : 1n;
  const bitmapAt = pointer(d, ctx, bitmapBytes(bitCount), 80);
  const ptr = pointer(d, ctx, BigInt(FEATURE_HEADER_BYTES + LOGGING_REPORT_BYTES), 90);
  return call(d, `report/${w.kind}`, ptr, [
    { at: ptr, bytes: headerBytes(argsz(d, LOGGING_REPORT_BYTES), flags(d, REPORT | GET)) },
    { at: ptr + BigInt(FEATURE_HEADER_BYTES), bytes: reportBytes({ iova: w.iova, length: w.length, pageSize: w.pageSize, bitmap: bitmapAt }) },
  ]);
}

function headerOnlyCall(d: Draw, ctx: GenContext, shape: string, usualFlags: number): FuzzCall {
  const ptr = pointer(d, ctx, BigInt(FEATURE_HEADER_BYTES), 90);
  return call(d, shape, ptr, [{ at: ptr, bytes: headerBytes(argsz(d, 0), flags(d, usualFlags)) }]);
}

/** Edge-value header, random payload. */
function headerCall(d: Draw, ctx: GenContext): FuzzCall {
  const ptr = pointer(d, ctx, BigInt(FEATURE_HEADER_BYTES), 85);
  const op = pick(d, OP_BITS);
  const feature = pick(d, FEATURE_INDEXES);
  return call(d, 'header', ptr, [
    { at: ptr, bytes: headerBytes(pick(d, EDGE_ARGSZ), op | feature) },
    { at: ptr + BigInt(FEATURE_HEADER_BYTES), bytes: bytes(d, d.int(0, 64)) },
  ]);
}

/** Random bytes at the pointer, and maybe a random block elsewhere for stray pointers to land on. */
function rawCall(d: Draw, ctx: GenContext): FuzzCall {
  const ptr = pointer(d, ctx, 48n, 85);
  const writes: MemWrite[] = [{ at: ptr, bytes: bytes(d, d.int(0, 96)) }];
  if (chance(d, 50)) writes.push({ at: pointer(d, ctx, 512n, 100), bytes: bytes(d, d.int(16, 512)) });
  return call(d, 'raw', ptr, writes);
}

/** A structured call with 1-4 random bytes changed. */
function mutate(d: Draw, base: FuzzCall): FuzzCall {
  const writes = base.writes.map((w) => ({ at: w.at, bytes: w.bytes.slice() }));
  const flips = d.int(1, 4);
  for (let i = 0; i < flips; i++) {
    const w = pick(d, writes);
    if (w.bytes.length === 0) continue;
    w.bytes[d.int(0, w.bytes.length - 1)] ^= d.int(1, 255);
  }
  return { ...base, writes, shape: `mutant/${base.shape}` };
}
