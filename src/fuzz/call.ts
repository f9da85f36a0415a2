// What one fuzzed ioctl is, independent of how it was generated: the request, the pointer, and
// the bytes the caller lays out in user memory first. Both generators (the seeded one in
// generate.ts and the fast-check arbitraries) build calls from the helpers here, and the lane
// (lane.ts) reads back, from the same bytes the core reads, which user bytes a call that
// succeeded was allowed to change.
import {
  CONTROL_PAGE_SIZE_OFFSET, FEATURE_DATA_OFFSET, FEATURE_HEADER_BYTES, LOGGING_CONTROL_BYTES, LOGGING_RANGE_BYTES,
  LOGGING_REPORT_BYTES, VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT, VFIO_DEVICE_FEATURE_DMA_LOGGING_START,
  VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP, VFIO_DEVICE_FEATURE_MASK, VFIO_DEVICE_FEATURE_PROBE, U64_MAX,
} from '../uapi/abi.js';
import {
  decodeFeatureHeader, decodeLoggingControl, decodeLoggingRange, decodeLoggingReport, encodeFeatureHeader,
  encodeLoggingControl, encodeLoggingRange, encodeLoggingReport, type LoggingControl, type LoggingRange, type LoggingReport,
} from '../uapi/structs.js';
import { bitmapBytes } from '../uapi/user-memory.js';
import { ceilDiv } from '../util/bits.js';

/** Bytes placed at user address `at` before the call; the part outside user memory is dropped. */
export interface MemWrite { at: bigint; bytes: Uint8Array }

export interface FuzzCall {
  request: number;
  /** The ioctl argument: a u64 user pointer. */
  ptr: bigint;
  /** Pass `ptr` as a number (when it is a safe integer) rather than a bigint: both are accepted. */
  ptrAsNumber: boolean;
  writes: MemWrite[];
  /** Which generator shape produced it (for failure reports and counts). */
  shape: string;
}

export function headerBytes(argsz: number, flags: number): Uint8Array {
  const bytes = new Uint8Array(FEATURE_HEADER_BYTES);
  encodeFeatureHeader(new DataView(bytes.buffer), 0, { argsz, flags });
  return bytes;
}

export function controlBytes(c: LoggingControl): Uint8Array {
  const bytes = new Uint8Array(LOGGING_CONTROL_BYTES);
  encodeLoggingControl(new DataView(bytes.buffer), 0, c);
  return bytes;
}

export function rangesBytes(ranges: readonly LoggingRange[]): Uint8Array {
  const bytes = new Uint8Array(ranges.length * LOGGING_RANGE_BYTES);
  const view = new DataView(bytes.buffer);
  ranges.forEach((r, i) => encodeLoggingRange(view, i * LOGGING_RANGE_BYTES, r));
  return bytes;
}

export function reportBytes(r: LoggingReport): Uint8Array {
  const bytes = new Uint8Array(LOGGING_REPORT_BYTES);
  encodeLoggingReport(new DataView(bytes.buffer), 0, r);
  return bytes;
}

/** Where a generated pointer lands relative to user memory. */
export type Placement = 'inside-aligned' | 'inside' | 'straddle-end' | 'past-end' | 'far' | 'top';
export const PLACEMENTS: readonly Placement[] = ['inside-aligned', 'inside', 'straddle-end', 'past-end', 'far', 'top'];

/**
 * A pointer to `sizeBytes` bytes placed as asked in `memoryBytes` of user memory. `u` in [0, 1)
 * picks the spot within the placement; `far` is a caller-drawn u64. 'inside' of something larger
 * than memory degrades to 0 (it then runs past the end).
 */
export function placePointer(place: Placement, sizeBytes: bigint, memoryBytes: number, u: number, far: bigint): bigint {
  const mem = BigInt(memoryBytes);
  const pick = (n: bigint): bigint => (n <= 0n ? 0n : BigInt(Math.floor(u * Number(n))));
  switch (place) {
    case 'inside-aligned': return sizeBytes > mem ? 0n : (pick(mem - sizeBytes + 1n) / 8n) * 8n;
    case 'inside': return sizeBytes > mem ? 0n : pick(mem - sizeBytes + 1n);
    // Starts inside, ends past the end: the read faults part-way.
    case 'straddle-end': return sizeBytes <= 1n ? mem - 1n : mem - 1n - pick(minBig(sizeBytes - 1n, mem));
    case 'past-end': return mem + pick(4096n);
    case 'far': return far;
    // So close to 2^64 that ptr + size does not fit in a u64.
    case 'top': return U64_MAX - pick(64n);
  }
}

function minBig(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}

/** Lay `call`'s writes over `target` (a copy of user memory), clipped to it. */
export function applyWrites(target: Uint8Array, writes: readonly MemWrite[]): void {
  const size = BigInt(target.length);
  for (const w of writes) {
    const start = w.at;
    const end = w.at + BigInt(w.bytes.length);
    if (end <= 0n || start >= size) continue;
    const from = start < 0n ? Number(-start) : 0;
    const to = end > size ? w.bytes.length - Number(end - size) : w.bytes.length;
    target.set(w.bytes.subarray(from, to), Number(start < 0n ? 0n : start));
  }
}

/** What a call that resolved 0 may have changed in user memory, read from the bytes the core read. */
export type Effect =
  | { kind: 'none' }
  | { kind: 'start'; pageSizeAt: number; pageSizeHint: bigint; ranges: LoggingRange[] }
  | { kind: 'stop' }
  | { kind: 'report'; report: LoggingReport; bitmapAt: number; bitCount: number };

/**
 * Decode, without validating, what a successful call did according to the bytes at its pointer:
 * START may write `control.page_size`, REPORT may set its bitmap's first ceil(length/P) bits.
 * Returns null when the header itself is not readable (such a call cannot have succeeded).
 */
export function successEffect(memory: Uint8Array, ptr: bigint): Effect | null {
  const view = new DataView(memory.buffer, memory.byteOffset, memory.byteLength);
  const fits = (at: bigint, bytes: bigint) => at >= 0n && at + bytes <= BigInt(memory.length);
  if (!fits(ptr, BigInt(FEATURE_HEADER_BYTES))) return null;
  const { flags } = decodeFeatureHeader(view, Number(ptr));
  if ((flags & VFIO_DEVICE_FEATURE_PROBE) !== 0) return { kind: 'none' };
  const dataAt = ptr + BigInt(FEATURE_DATA_OFFSET);
  switch (flags & VFIO_DEVICE_FEATURE_MASK) {
    case VFIO_DEVICE_FEATURE_DMA_LOGGING_START: {
      if (!fits(dataAt, BigInt(LOGGING_CONTROL_BYTES))) return null;
      const control = decodeLoggingControl(view, Number(dataAt));
      const ranges: LoggingRange[] = [];
      for (let i = 0; i < control.numRanges; i++) {
        const at = control.ranges + BigInt(i * LOGGING_RANGE_BYTES);
        if (!fits(at, BigInt(LOGGING_RANGE_BYTES))) return null;
        ranges.push(decodeLoggingRange(view, Number(at)));
      }
      return { kind: 'start', pageSizeAt: Number(dataAt) + CONTROL_PAGE_SIZE_OFFSET, pageSizeHint: control.pageSize, ranges };
    }
    case VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP:
      return { kind: 'stop' };
    case VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT: {
      if (!fits(dataAt, BigInt(LOGGING_REPORT_BYTES))) return null;
      const report = decodeLoggingReport(view, Number(dataAt));
      if (report.pageSize === 0n) return null;
      const bitCount = ceilDiv(report.length, report.pageSize);
      if (!fits(report.bitmap, bitmapBytes(bitCount))) return null;
      return { kind: 'report', report, bitmapAt: Number(report.bitmap), bitCount: Number(bitCount) };
    }
    default:
      return null;
  }
}

/** First user byte a call changed outside what `effect` allows, or -1. Bits may only be set, never cleared. */
export function strayWrite(before: Uint8Array, after: Uint8Array, effect: Effect | null): number {
  if (Buffer.compare(before, after) === 0) return -1;
  for (let i = 0; i < before.length; i++) {
    const was = before[i]!;
    const now = after[i]!;
    if (was === now) continue;
    if (effect?.kind === 'start' && i >= effect.pageSizeAt && i < effect.pageSizeAt + 8) continue;
    if (effect?.kind === 'report') {
      const byteIndex = i - effect.bitmapAt;
      const lastByte = (effect.bitCount - 1) >>> 3;
      const allowed = byteIndex < 0 || byteIndex > lastByte ? 0
        : byteIndex < lastByte ? 0xff : (0xff >>> (7 - ((effect.bitCount - 1) & 7)));
      if ((was & ~now) === 0 && (now & ~was & ~allowed) === 0) continue;
    }
    return i;
  }
  return -1;
}

/** A readable dump of a call for failure reports. */
export function describeCall(call: FuzzCall): string {
  const writes = call.writes.map((w) => `@${w.at}: ${Buffer.from(w.bytes.subarray(0, 64)).toString('hex')}${w.bytes.length > 64 ? `… (${w.bytes.length} B)` : ''}`);
  return `${call.shape}: ioctl(request 0x${call.request.toString(16)}, ptr ${call.ptr}${call.ptrAsNumber ? ' as number' : ''})\n    ${writes.join('\n    ')}`;
}
