// contract §3: the VFIO core's checks, in the kernel's order, one function per step. Each returns
// an errno name on failure; nothing here touches device state. Struct reads are the simulated
// copy_from_user and fail with EFAULT at the point the struct is read.
import {
  FEATURE_DATA_OFFSET, FEATURE_HEADER_BYTES, LOGGING_CONTROL_BYTES, LOGGING_RANGE_BYTES, LOGGING_REPORT_BYTES,
  MIN_PAYLOAD_BYTES, MIN_REPORT_PAGE_SIZE, U64_MAX, VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT,
  VFIO_DEVICE_FEATURE_DMA_LOGGING_START, VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP, VFIO_DEVICE_FEATURE_GET,
  VFIO_DEVICE_FEATURE_MASK, VFIO_DEVICE_FEATURE_PROBE, VFIO_DEVICE_FEATURE_RESERVED_MASK,
  VFIO_DEVICE_FEATURE_SET, logMaxRanges, type LoggingFeature,
} from './abi.js';
import { decodeFeatureHeader, decodeLoggingControl, decodeLoggingRange, decodeLoggingReport, type LoggingRange, type LoggingReport } from './structs.js';
import { bitmapBytes, type UserMemory } from './user-memory.js';
import { ceilDiv, isPowerOfTwo } from '../util/bits.js';
import type { Checked } from '../util/result.js';

/** A feature call that passed the generic checks (steps 1-5). */
export type FeatureCall =
  | { kind: 'probe'; feature: LoggingFeature }
  | { kind: 'start'; controlAt: number }
  | { kind: 'stop' }
  | { kind: 'report'; reportAt: number };

export interface StartRequest { pageSizeHint: bigint; ranges: LoggingRange[]; controlAt: number }
export interface ReportRequest { iova: bigint; length: bigint; pageSize: bigint; bitmapAt: number; bitCount: number }

const ACCEPTED_OP: Record<LoggingFeature, number> = {
  [VFIO_DEVICE_FEATURE_DMA_LOGGING_START]: VFIO_DEVICE_FEATURE_SET,
  [VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP]: VFIO_DEVICE_FEATURE_SET,
  [VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT]: VFIO_DEVICE_FEATURE_GET,
};

function isLoggingFeature(index: number): index is LoggingFeature {
  return index === VFIO_DEVICE_FEATURE_DMA_LOGGING_START || index === VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP ||
    index === VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT;
}

/** What a call asks for, read without judging it (for logs): null when the header is unreadable. */
export function peekFeature(mem: UserMemory, ptr: bigint): { index: number; probe: boolean } | null {
  const at = mem.locate(ptr, FEATURE_HEADER_BYTES);
  if (at === null) return null;
  const { flags } = decodeFeatureHeader(mem.view, at);
  return { index: flags & VFIO_DEVICE_FEATURE_MASK, probe: (flags & VFIO_DEVICE_FEATURE_PROBE) !== 0 };
}

/** Steps 1-5: header, flags, feature index, device support, per-feature op and argsz. */
export function checkFeatureCall(mem: UserMemory, ptr: bigint, supportsLogging: boolean): Checked<FeatureCall> {
  const at = mem.locate(ptr, FEATURE_HEADER_BYTES);
  if (at === null) return { errno: 'EFAULT' };
  const { argsz, flags } = decodeFeatureHeader(mem.view, at);
  if (argsz < FEATURE_HEADER_BYTES) return { errno: 'EINVAL' };
  if ((flags & VFIO_DEVICE_FEATURE_RESERVED_MASK) !== 0) return { errno: 'EINVAL' };
  const get = (flags & VFIO_DEVICE_FEATURE_GET) !== 0;
  const set = (flags & VFIO_DEVICE_FEATURE_SET) !== 0;
  const probe = (flags & VFIO_DEVICE_FEATURE_PROBE) !== 0;
  if (get && set && !probe) return { errno: 'EINVAL' };
  const feature = flags & VFIO_DEVICE_FEATURE_MASK;
  if (!isLoggingFeature(feature)) return { errno: 'ENOTTY' };
  if (!supportsLogging) return { errno: 'ENOTTY' };
  const accepted = ACCEPTED_OP[feature];
  const asked = flags & (VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET);
  if ((asked & ~accepted) !== 0) return { errno: 'EINVAL' };
  if (probe) return { kind: 'probe', feature };
  if (asked === 0) return { errno: 'EINVAL' };
  if (argsz - FEATURE_HEADER_BYTES < MIN_PAYLOAD_BYTES[feature]) return { errno: 'EINVAL' };
  const dataAt = ptr + BigInt(FEATURE_DATA_OFFSET);
  switch (feature) {
    case VFIO_DEVICE_FEATURE_DMA_LOGGING_START: return { kind: 'start', controlAt: Number(dataAt) };
    case VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP: return { kind: 'stop' };
    case VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT: return { kind: 'report', reportAt: Number(dataAt) };
  }
}

/** Exclusive end of `[iova, iova + length)` past 2^64 - 1: the u64 addition overflowed. */
export function endOverflows(iova: bigint, length: bigint): boolean {
  return iova + length > U64_MAX;
}

/** Step 6: the control struct and every range, in array order. */
export function checkStart(mem: UserMemory, controlPtr: number, hostPageSize: number): Checked<StartRequest> {
  const at = mem.locate(controlPtr, LOGGING_CONTROL_BYTES);
  if (at === null) return { errno: 'EFAULT' };
  const control = decodeLoggingControl(mem.view, at);
  if (control.numRanges === 0) return { errno: 'EINVAL' };
  if (control.numRanges > logMaxRanges(hostPageSize)) return { errno: 'E2BIG' };
  // The core tests alignment with the mask exactly as written: page_size 0 wraps to all ones.
  const mask = BigInt.asUintN(64, control.pageSize - 1n);
  const ranges: LoggingRange[] = [];
  for (let i = 0; i < control.numRanges; i++) {
    const rangeAt = mem.locate(control.ranges + BigInt(i * LOGGING_RANGE_BYTES), LOGGING_RANGE_BYTES);
    if (rangeAt === null) return { errno: 'EFAULT' };
    const range = decodeLoggingRange(mem.view, rangeAt);
    if ((range.iova & mask) !== 0n || (range.length & mask) !== 0n) return { errno: 'EINVAL' };
    if (endOverflows(range.iova, range.length)) return { errno: 'EOVERFLOW' };
    if (range.length === 0n) return { errno: 'EINVAL' };
    if (ranges.some((r) => overlaps(r, range))) return { errno: 'EINVAL' };
    ranges.push(range);
  }
  return { pageSizeHint: control.pageSize, ranges, controlAt: at };
}

function overlaps(a: LoggingRange, b: LoggingRange): boolean {
  return a.iova < b.iova + b.length && b.iova < a.iova + a.length;
}

/** Step 7: the report struct and the bitmap it points to. */
export function checkReport(mem: UserMemory, reportPtr: number): Checked<ReportRequest> {
  const at = mem.locate(reportPtr, LOGGING_REPORT_BYTES);
  if (at === null) return { errno: 'EFAULT' };
  return checkReportWindow(mem, decodeLoggingReport(mem.view, at));
}

/**
 * Steps 7.2-7.5 on a report read already: the page size, the window's end and length, and the
 * bitmap inside user memory, all before any log is read (a log read and cleared into a bitmap that
 * then faults would lose those bits). Every tracker's REPORT goes through it, the vCPUs' too.
 */
export function checkReportWindow(mem: UserMemory, report: LoggingReport): Checked<ReportRequest> {
  if (report.pageSize < MIN_REPORT_PAGE_SIZE || !isPowerOfTwo(report.pageSize)) return { errno: 'EINVAL' };
  if (endOverflows(report.iova, report.length)) return { errno: 'EOVERFLOW' };
  if (report.length === 0n) return { errno: 'EINVAL' };
  const bitCount = ceilDiv(report.length, report.pageSize);
  const bitmapAt = mem.locate(report.bitmap, bitmapBytes(bitCount));
  if (bitmapAt === null) return { errno: 'EFAULT' };
  return { iova: report.iova, length: report.length, pageSize: report.pageSize, bitmapAt, bitCount: Number(bitCount) };
}
