import test from 'ava';
import fc from 'fast-check';
import * as abi from '../../src/uapi/abi.js';
import {
  decodeFeatureHeader, decodeLoggingControl, decodeLoggingRange, decodeLoggingReport,
  encodeFeatureHeader, encodeLoggingControl, encodeLoggingRange, encodeLoggingReport,
} from '../../src/uapi/structs.js';
import { U64_LIMIT } from '../helpers/abi.js';

const U64_MAX = U64_LIMIT - 1n;
const u64 = fc.bigInt({ min: 0n, max: U64_MAX });
const u32 = fc.nat({ max: 0xffffffff });

/** Bytes of a little-endian u64 / u32, as the kernel would lay them out. */
function le(value: bigint, bytes: number): number[] {
  return Array.from({ length: bytes }, (_, i) => Number((value >> BigInt(8 * i)) & 0xffn));
}

function scratch(bytes = 64): { view: DataView; u8: Uint8Array } {
  const buffer = new ArrayBuffer(bytes);
  return { view: new DataView(buffer), u8: new Uint8Array(buffer) };
}

test('contract §2 numbers: request, flag bits, feature indexes, sizes', (t) => {
  t.is(abi.VFIO_DEVICE_FEATURE, 0x3b75);
  t.is(abi.VFIO_DEVICE_FEATURE, (';'.charCodeAt(0) << 8) | (100 + 17)); // _IO(';', 100 + 17)
  t.is(abi.VFIO_DEVICE_FEATURE_MASK, 0xffff);
  t.is(abi.VFIO_DEVICE_FEATURE_GET, 0x10000);
  t.is(abi.VFIO_DEVICE_FEATURE_SET, 0x20000);
  t.is(abi.VFIO_DEVICE_FEATURE_PROBE, 0x40000);
  t.is(abi.VFIO_DEVICE_FEATURE_RESERVED_MASK >>> 0, 0xfff80000);
  t.deepEqual(
    [abi.VFIO_DEVICE_FEATURE_PCI_VF_TOKEN, abi.VFIO_DEVICE_FEATURE_MIGRATION, abi.VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
      abi.VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY, abi.VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY_WITH_WAKEUP, abi.VFIO_DEVICE_FEATURE_LOW_POWER_EXIT,
      abi.VFIO_DEVICE_FEATURE_DMA_LOGGING_START, abi.VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP, abi.VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT,
      abi.VFIO_DEVICE_FEATURE_MIG_DATA_SIZE, abi.VFIO_DEVICE_FEATURE_BUS_MASTER, abi.VFIO_DEVICE_FEATURE_DMA_BUF],
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
  );
  t.deepEqual([abi.FEATURE_HEADER_BYTES, abi.LOGGING_CONTROL_BYTES, abi.LOGGING_RANGE_BYTES, abi.LOGGING_REPORT_BYTES], [8, 24, 16, 32]);
  t.deepEqual(abi.MIN_PAYLOAD_BYTES, { 6: 24, 7: 0, 8: 32 });
  t.is(abi.logMaxRanges(4096), 256);
  t.is(abi.logMaxRanges(8192), 512);
  t.is(abi.logMaxRanges(65536), 4096);
});

test('feature header: argsz @0, flags @4, little-endian', (t) => {
  const { view, u8 } = scratch();
  encodeFeatureHeader(view, 4, { argsz: 0x11223344, flags: 0x80000000 | 0x1_0006 });
  t.deepEqual([...u8.subarray(4, 12)], [0x44, 0x33, 0x22, 0x11, 0x06, 0x00, 0x01, 0x80]);
  t.deepEqual(decodeFeatureHeader(view, 4), { argsz: 0x11223344, flags: 0x80010006 });
  t.deepEqual([...u8.subarray(0, 4)], [0, 0, 0, 0]);
  t.deepEqual([...u8.subarray(12, 16)], [0, 0, 0, 0]);
});

test('control: page_size @0 (u64), num_ranges @8, __reserved @12, ranges @16', (t) => {
  const { view, u8 } = scratch();
  const control = { pageSize: U64_MAX, numRanges: 0xdeadbeef, reserved: 0x01020304, ranges: 0x0807060504030201n };
  encodeLoggingControl(view, 8, control);
  t.deepEqual([...u8.subarray(8, 32)], [
    ...le(U64_MAX, 8), ...le(0xdeadbeefn, 4), ...le(0x01020304n, 4), ...le(0x0807060504030201n, 8),
  ]);
  t.deepEqual(decodeLoggingControl(view, 8), control);
  t.is(u8[7], 0);
  t.is(u8[32], 0);
});

test('range: iova @0, length @8', (t) => {
  const { view, u8 } = scratch();
  encodeLoggingRange(view, 0, { iova: U64_MAX - 0xfffn, length: 0x1000n });
  t.deepEqual([...u8.subarray(0, 16)], [...le(U64_MAX - 0xfffn, 8), ...le(0x1000n, 8)]);
  t.deepEqual(decodeLoggingRange(view, 0), { iova: U64_MAX - 0xfffn, length: 0x1000n });
  t.is(u8[16], 0);
});

test('report: iova @0, length @8, page_size @16, bitmap @24', (t) => {
  const { view, u8 } = scratch();
  const report = { iova: 1n, length: U64_MAX, pageSize: 1n << 63n, bitmap: 0xabcdn };
  encodeLoggingReport(view, 16, report);
  t.deepEqual([...u8.subarray(16, 48)], [...le(1n, 8), ...le(U64_MAX, 8), ...le(1n << 63n, 8), ...le(0xabcdn, 8)]);
  t.deepEqual(decodeLoggingReport(view, 16), report);
  t.is(u8[48], 0);
});

test('encoders store u64 modulo 2^64 (the C assignment), decoders never validate', (t) => {
  const { view } = scratch();
  encodeLoggingRange(view, 0, { iova: U64_LIMIT, length: -1n });
  t.deepEqual(decodeLoggingRange(view, 0), { iova: 0n, length: U64_MAX });
  encodeLoggingControl(view, 0, { pageSize: 0n, numRanges: 0, reserved: 0xffffffff, ranges: 0n });
  t.deepEqual(decodeLoggingControl(view, 0), { pageSize: 0n, numRanges: 0, reserved: 0xffffffff, ranges: 0n });
});

test('round trips at any offset and any u64 (incl. 0 and 2^64 - 1)', (t) => {
  const edge = fc.oneof(u64, fc.constantFrom(0n, 1n, U64_MAX, U64_MAX - 1n, 1n << 63n, (1n << 32n) - 1n, 1n << 32n));
  fc.assert(fc.property(fc.nat({ max: 32 }), edge, edge, edge, edge, u32, u32, (at, a, b, c, d, x, y) => {
    const { view } = scratch();
    encodeFeatureHeader(view, at, { argsz: x, flags: y });
    const header = decodeFeatureHeader(view, at);
    encodeLoggingRange(view, at, { iova: a, length: b });
    const range = decodeLoggingRange(view, at);
    encodeLoggingControl(view, at, { pageSize: a, numRanges: x, reserved: y, ranges: b });
    const control = decodeLoggingControl(view, at);
    encodeLoggingReport(view, at, { iova: a, length: b, pageSize: c, bitmap: d });
    const report = decodeLoggingReport(view, at);
    return header.argsz === x && header.flags === y &&
      range.iova === a && range.length === b &&
      control.pageSize === a && control.numRanges === x && control.reserved === y && control.ranges === b &&
      report.iova === a && report.length === b && report.pageSize === c && report.bitmap === d;
  }), { numRuns: 300 });
  t.pass();
});
