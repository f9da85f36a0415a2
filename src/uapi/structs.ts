// Encode/decode pairs for the DMA-logging structs (contract §2), little-endian, u64 as bigint.
// Decoding never validates: that is validate.ts's job.
import {
  CONTROL_NUM_RANGES_OFFSET, CONTROL_PAGE_SIZE_OFFSET, CONTROL_RANGES_OFFSET, CONTROL_RESERVED_OFFSET,
  FEATURE_ARGSZ_OFFSET, FEATURE_FLAGS_OFFSET, RANGE_IOVA_OFFSET, RANGE_LENGTH_OFFSET,
  REPORT_BITMAP_OFFSET, REPORT_IOVA_OFFSET, REPORT_LENGTH_OFFSET, REPORT_PAGE_SIZE_OFFSET,
} from './abi.js';

export interface FeatureHeader { argsz: number; flags: number }
export interface LoggingControl { pageSize: bigint; numRanges: number; reserved: number; ranges: bigint }
export interface LoggingRange { iova: bigint; length: bigint }
export interface LoggingReport { iova: bigint; length: bigint; pageSize: bigint; bitmap: bigint }

const LE = true;

export function decodeFeatureHeader(view: DataView, at: number): FeatureHeader {
  return { argsz: view.getUint32(at + FEATURE_ARGSZ_OFFSET, LE), flags: view.getUint32(at + FEATURE_FLAGS_OFFSET, LE) };
}
export function encodeFeatureHeader(view: DataView, at: number, h: FeatureHeader): void {
  view.setUint32(at + FEATURE_ARGSZ_OFFSET, h.argsz >>> 0, LE);
  view.setUint32(at + FEATURE_FLAGS_OFFSET, h.flags >>> 0, LE);
}

export function decodeLoggingControl(view: DataView, at: number): LoggingControl {
  return {
    pageSize: view.getBigUint64(at + CONTROL_PAGE_SIZE_OFFSET, LE),
    numRanges: view.getUint32(at + CONTROL_NUM_RANGES_OFFSET, LE),
    reserved: view.getUint32(at + CONTROL_RESERVED_OFFSET, LE),
    ranges: view.getBigUint64(at + CONTROL_RANGES_OFFSET, LE),
  };
}
export function encodeLoggingControl(view: DataView, at: number, c: LoggingControl): void {
  view.setBigUint64(at + CONTROL_PAGE_SIZE_OFFSET, BigInt.asUintN(64, c.pageSize), LE);
  view.setUint32(at + CONTROL_NUM_RANGES_OFFSET, c.numRanges >>> 0, LE);
  view.setUint32(at + CONTROL_RESERVED_OFFSET, c.reserved >>> 0, LE);
  view.setBigUint64(at + CONTROL_RANGES_OFFSET, BigInt.asUintN(64, c.ranges), LE);
}

export function decodeLoggingRange(view: DataView, at: number): LoggingRange {
  return { iova: view.getBigUint64(at + RANGE_IOVA_OFFSET, LE), length: view.getBigUint64(at + RANGE_LENGTH_OFFSET, LE) };
}
export function encodeLoggingRange(view: DataView, at: number, r: LoggingRange): void {
  view.setBigUint64(at + RANGE_IOVA_OFFSET, BigInt.asUintN(64, r.iova), LE);
  view.setBigUint64(at + RANGE_LENGTH_OFFSET, BigInt.asUintN(64, r.length), LE);
}

export function decodeLoggingReport(view: DataView, at: number): LoggingReport {
  return {
    iova: view.getBigUint64(at + REPORT_IOVA_OFFSET, LE),
    length: view.getBigUint64(at + REPORT_LENGTH_OFFSET, LE),
    pageSize: view.getBigUint64(at + REPORT_PAGE_SIZE_OFFSET, LE),
    bitmap: view.getBigUint64(at + REPORT_BITMAP_OFFSET, LE),
  };
}
export function encodeLoggingReport(view: DataView, at: number, r: LoggingReport): void {
  view.setBigUint64(at + REPORT_IOVA_OFFSET, BigInt.asUintN(64, r.iova), LE);
  view.setBigUint64(at + REPORT_LENGTH_OFFSET, BigInt.asUintN(64, r.length), LE);
  view.setBigUint64(at + REPORT_PAGE_SIZE_OFFSET, BigInt.asUintN(64, r.pageSize), LE);
  view.setBigUint64(at + REPORT_BITMAP_OFFSET, BigInt.asUintN(64, r.bitmap), LE);
}
