// Encode/decode pairs for the DMA-logging structs (contract §2), little-endian, u64 as bigint.
// Decoding never validates: that is validate.ts's job.
import {
  CONTROL_NUM_RANGES_OFFSET, CONTROL_PAGE_SIZE_OFFSET, CONTROL_RANGES_OFFSET, CONTROL_RESERVED_OFFSET,
  FEATURE_ARGSZ_OFFSET, FEATURE_FLAGS_OFFSET, RANGE_IOVA_OFFSET, RANGE_LENGTH_OFFSET,
  REPORT_BITMAP_OFFSET, REPORT_IOVA_OFFSET, REPORT_LENGTH_OFFSET, REPORT_PAGE_SIZE_OFFSET,
} from './abi.js';
import { structCodec } from './struct-codec.js';

export interface FeatureHeader { argsz: number; flags: number }
export interface LoggingControl { pageSize: bigint; numRanges: number; reserved: number; ranges: bigint }
export interface LoggingRange { iova: bigint; length: bigint }
export interface LoggingReport { iova: bigint; length: bigint; pageSize: bigint; bitmap: bigint }

const featureHeader = structCodec<FeatureHeader>({ argsz: [FEATURE_ARGSZ_OFFSET, 'u32'], flags: [FEATURE_FLAGS_OFFSET, 'u32'] });
const loggingControl = structCodec<LoggingControl>({
  pageSize: [CONTROL_PAGE_SIZE_OFFSET, 'u64'],
  numRanges: [CONTROL_NUM_RANGES_OFFSET, 'u32'],
  reserved: [CONTROL_RESERVED_OFFSET, 'u32'],
  ranges: [CONTROL_RANGES_OFFSET, 'u64'],
});
const loggingRange = structCodec<LoggingRange>({ iova: [RANGE_IOVA_OFFSET, 'u64'], length: [RANGE_LENGTH_OFFSET, 'u64'] });
const loggingReport = structCodec<LoggingReport>({
  iova: [REPORT_IOVA_OFFSET, 'u64'],
  length: [REPORT_LENGTH_OFFSET, 'u64'],
  pageSize: [REPORT_PAGE_SIZE_OFFSET, 'u64'],
  bitmap: [REPORT_BITMAP_OFFSET, 'u64'],
});

export const { decode: decodeFeatureHeader, encode: encodeFeatureHeader } = featureHeader;
export const { decode: decodeLoggingControl, encode: encodeLoggingControl } = loggingControl;
export const { decode: decodeLoggingRange, encode: encodeLoggingRange } = loggingRange;
export const { decode: decodeLoggingReport, encode: encodeLoggingReport } = loggingReport;
