// Test helpers shared by the uapi and host tests: lay raw feature calls out in user memory
// exactly as a C caller would, read REPORT bits back, and turn rejections into errno names.
import {
  FEATURE_HEADER_BYTES, LOGGING_CONTROL_BYTES, LOGGING_RANGE_BYTES, LOGGING_REPORT_BYTES,
  VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT, VFIO_DEVICE_FEATURE_DMA_LOGGING_START, VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP,
  VFIO_DEVICE_FEATURE_GET, VFIO_DEVICE_FEATURE_SET,
} from '../../src/uapi/abi.js';
import { VfioError } from '../../src/errors.js';
import { ERRNO, type Errno } from '../../src/uapi/errno.js';
import {
  encodeFeatureHeader, encodeLoggingControl, encodeLoggingRange, encodeLoggingReport, type LoggingRange,
} from '../../src/uapi/structs.js';

export const KiB = 1024n;
export const PAGE = 4n * KiB;
export const U64_LIMIT = 1n << 64n;

export const START = VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_LOGGING_START;
export const STOP = VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP;
export const REPORT = VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT;

export function viewOf(memory: SharedArrayBuffer): DataView {
  return new DataView(memory);
}

/** A feature header at `at`; argsz defaults to header + `payloadBytes`. Returns `at` (the ioctl pointer). */
export function putHeader(view: DataView, at: number, flags: number, payloadBytes = 0, argsz = FEATURE_HEADER_BYTES + payloadBytes): number {
  encodeFeatureHeader(view, at, { argsz, flags });
  return at;
}

export interface StartArgs {
  pageSize: bigint;
  ranges: LoggingRange[];
  /** Where the range array goes (default: right after the control struct). */
  rangesAt?: number | bigint;
  /** Default: ranges.length. */
  numRanges?: number;
  flags?: number;
  argsz?: number;
}

/** A complete START call at `at`: header, control, and (when they fit) the ranges. */
export function putStart(view: DataView, at: number, a: StartArgs): number {
  const rangesAt = a.rangesAt ?? at + FEATURE_HEADER_BYTES + LOGGING_CONTROL_BYTES;
  putHeader(view, at, a.flags ?? START, LOGGING_CONTROL_BYTES, a.argsz);
  encodeLoggingControl(view, at + FEATURE_HEADER_BYTES, {
    pageSize: a.pageSize, numRanges: a.numRanges ?? a.ranges.length, reserved: 0, ranges: BigInt(rangesAt),
  });
  putRanges(view, Number(rangesAt), a.ranges);
  return at;
}

/** Write the ranges that fit in the view; the rest is left for the callee to fault on. */
export function putRanges(view: DataView, at: number, ranges: readonly LoggingRange[]): void {
  ranges.forEach((r, i) => {
    const rangeAt = at + i * LOGGING_RANGE_BYTES;
    if (rangeAt >= 0 && rangeAt + LOGGING_RANGE_BYTES <= view.byteLength) encodeLoggingRange(view, rangeAt, r);
  });
}

export function putStop(view: DataView, at: number): number {
  return putHeader(view, at, STOP);
}

export interface ReportArgs { iova: bigint; length: bigint; pageSize: bigint; bitmap: number | bigint; flags?: number; argsz?: number }

export function putReport(view: DataView, at: number, a: ReportArgs): number {
  putHeader(view, at, a.flags ?? REPORT, LOGGING_REPORT_BYTES, a.argsz);
  encodeLoggingReport(view, at + FEATURE_HEADER_BYTES, { iova: a.iova, length: a.length, pageSize: a.pageSize, bitmap: BigInt(a.bitmap) });
  return at;
}

/** Indexes of the set bits among the first `bitCount` bits at byte `at` (bit n = byte n/8, bit n%8). */
export function setBits(memory: SharedArrayBuffer | Uint8Array, at: number, bitCount: number): number[] {
  const bytes = memory instanceof Uint8Array ? memory : new Uint8Array(memory);
  const out: number[] = [];
  for (let n = 0; n < bitCount; n++) if ((bytes[at + (n >>> 3)]! >>> (n & 7)) & 1) out.push(n);
  return out;
}

/** Set bit n of a bitmap at byte `at` (the user pre-setting bits). */
export function presetBits(memory: SharedArrayBuffer, at: number, bits: readonly number[]): void {
  const bytes = new Uint8Array(memory);
  for (const n of bits) bytes[at + (n >>> 3)]! |= 1 << (n & 7);
}

/**
 * The errno a call rejected with, or 0 when it resolved. Any other rejection is rethrown, and a
 * VfioError whose code does not match its errno's Linux number fails loudly.
 */
export async function errnoOf(call: Promise<unknown> | (() => unknown)): Promise<Errno | 0> {
  try {
    await (typeof call === 'function' ? call() : call);
    return 0;
  } catch (error) {
    if (!(error instanceof VfioError)) throw error;
    if (error.code !== ERRNO[error.errno]) throw new Error(`VfioError ${error.errno} carries code ${error.code}`);
    return error.errno;
  }
}

/** The errno of a `Checked` result from validate.ts, or 'ok'. */
export function errnoOfChecked(r: unknown): Errno | 'ok' {
  return typeof r === 'object' && r !== null && 'errno' in r ? (r as { errno: Errno }).errno : 'ok';
}

/** Index of the first byte where a and b differ, or -1 (deepEqual on a MiB of bytes is slow). */
export function firstDifference(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}
