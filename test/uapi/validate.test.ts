// contract §3, one test per check and in the spec's order, on the pure core (no threads). Where two
// checks could both fire, a test pins which one wins: the order is part of the contract.
import test from 'ava';
import {
  FEATURE_HEADER_BYTES, LOGGING_CONTROL_BYTES, LOGGING_RANGE_BYTES, VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT,
  VFIO_DEVICE_FEATURE_DMA_LOGGING_START, VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP, VFIO_DEVICE_FEATURE_GET,
  VFIO_DEVICE_FEATURE_PROBE, VFIO_DEVICE_FEATURE_SET,
} from '../../src/uapi/abi.js';
import type { LoggingRange } from '../../src/uapi/structs.js';
import { UserMemory } from '../../src/uapi/user-memory.js';
import { checkFeatureCall, checkReport, checkStart } from '../../src/uapi/validate.js';
import { PAGE, REPORT, START, STOP, U64_LIMIT, errnoOfChecked as errnoOf, putHeader, putReport, putStart } from '../helpers/abi.js';

const U64_MAX = U64_LIMIT - 1n;
const MEMORY_BYTES = 64 * 1024;
const GET = VFIO_DEVICE_FEATURE_GET;
const SET = VFIO_DEVICE_FEATURE_SET;
const PROBE = VFIO_DEVICE_FEATURE_PROBE;
const F_START = VFIO_DEVICE_FEATURE_DMA_LOGGING_START;
const F_STOP = VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP;
const F_REPORT = VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT;
const CALL_AT = 0x100;
const CONTROL_AT = CALL_AT + FEATURE_HEADER_BYTES;

function memory(bytes = MEMORY_BYTES): UserMemory {
  return new UserMemory(new SharedArrayBuffer(bytes));
}

/** Steps 1-5 on a header at CALL_AT (or `at`) of a logging-capable device unless told otherwise. */
function feature(flags: number, argsz = FEATURE_HEADER_BYTES + 32, opts: { at?: number; supports?: boolean; mem?: UserMemory } = {}) {
  const mem = opts.mem ?? memory();
  const at = opts.at ?? CALL_AT;
  putHeader(mem.view, at, flags, 0, argsz);
  return checkFeatureCall(mem, BigInt(at), opts.supports ?? true);
}

/** Step 6 on a START laid out at CALL_AT. */
function start(ranges: LoggingRange[], pageSize = PAGE, extra: { numRanges?: number; rangesAt?: number | bigint; hostPageSize?: number; mem?: UserMemory } = {}) {
  const mem = extra.mem ?? memory();
  putStart(mem.view, CALL_AT, { pageSize, ranges, numRanges: extra.numRanges, rangesAt: extra.rangesAt });
  return checkStart(mem, CONTROL_AT, extra.hostPageSize ?? 4096);
}

/** Step 7 on a REPORT laid out at CALL_AT. */
function report(iova: bigint, length: bigint, pageSize = PAGE, bitmap: number | bigint = 0x1000, mem = memory()) {
  putReport(mem.view, CALL_AT, { iova, length, pageSize, bitmap });
  return checkReport(mem, CONTROL_AT);
}

const page = (n: number | bigint) => BigInt(n) * PAGE;
const range = (iovaPages: number | bigint, lengthPages: number | bigint): LoggingRange => ({ iova: page(iovaPages), length: page(lengthPages) });

// §3 preamble: the header is the first struct read.

test('§3.0 header straddling the end of user memory → EFAULT', (t) => {
  const mem = memory();
  // Only argsz (4 bytes) lies inside; flags would be past the end.
  mem.view.setUint32(MEMORY_BYTES - 4, 40, true);
  t.is(errnoOf(checkFeatureCall(mem, BigInt(MEMORY_BYTES - 4), true)), 'EFAULT');
  t.is(errnoOf(checkFeatureCall(mem, BigInt(MEMORY_BYTES), true)), 'EFAULT');
  t.is(errnoOf(checkFeatureCall(mem, U64_MAX, true)), 'EFAULT');
  // The last 8 bytes are still readable: a STOP there passes.
  t.deepEqual(feature(STOP, 8, { mem, at: MEMORY_BYTES - 8 }), { kind: 'stop' });
});

test('§3.0 header EFAULT wins over everything in the header (even on a device without logging)', (t) => {
  const mem = memory();
  mem.bytes.fill(0xff); // whatever lies in the readable part must not matter
  t.is(errnoOf(checkFeatureCall(mem, BigInt(MEMORY_BYTES - 7), false)), 'EFAULT');
});

// Step 1.

test('§3.1 argsz < 8 → EINVAL; argsz 8 is enough for STOP', (t) => {
  for (const argsz of [0, 1, 7]) t.is(errnoOf(feature(STOP, argsz)), 'EINVAL', `argsz ${argsz}`);
  t.deepEqual(feature(STOP, 8), { kind: 'stop' });
});

test('§3.1 argsz < 8 is checked before the flags (reserved bit, unknown feature, none device)', (t) => {
  t.is(errnoOf(feature(START | (1 << 19), 7)), 'EINVAL');
  t.is(errnoOf(feature(SET | 0, 7)), 'EINVAL'); // feature 0 would be ENOTTY
  t.is(errnoOf(feature(START, 7, { supports: false })), 'EINVAL'); // a none device would be ENOTTY
});

test('§3.1 argsz has no upper bound (bytes past the payload are ignored)', (t) => {
  t.deepEqual(feature(START, 0xffffffff), { kind: 'start', controlAt: CONTROL_AT });
  t.deepEqual(feature(REPORT, 0xffffffff), { kind: 'report', reportAt: CONTROL_AT });
});

// Step 2.

for (let bit = 19; bit <= 31; bit++) {
  test(`§3.2 reserved flag bit ${bit} → EINVAL`, (t) => {
    t.is(errnoOf(feature(START | (1 << bit))), 'EINVAL');
    t.is(errnoOf(feature(PROBE | SET | F_START | (1 << bit))), 'EINVAL');
  });
}

test('§3.2 a reserved bit wins over an unknown feature and over a none device', (t) => {
  t.is(errnoOf(feature(SET | 0 | (1 << 31))), 'EINVAL');
  t.is(errnoOf(feature(START | (1 << 20), undefined, { supports: false })), 'EINVAL');
});

test('§3.2 GET|SET without PROBE → EINVAL, even for an unknown feature or a none device', (t) => {
  t.is(errnoOf(feature(GET | SET | F_START)), 'EINVAL');
  t.is(errnoOf(feature(GET | SET | F_REPORT)), 'EINVAL');
  t.is(errnoOf(feature(GET | SET | 0)), 'EINVAL');
  t.is(errnoOf(feature(GET | SET | F_STOP, undefined, { supports: false })), 'EINVAL');
});

// Step 3.

const UNKNOWN_FEATURES = [0, 1, 2, 3, 4, 5, 9, 10, 11, 12, 0xffff];

test('§3.3 every feature index other than 6, 7, 8 → ENOTTY (GET, SET, PROBE, none)', (t) => {
  for (const index of UNKNOWN_FEATURES) {
    for (const op of [GET, SET, PROBE, PROBE | GET, PROBE | SET, PROBE | GET | SET, 0]) {
      t.is(errnoOf(feature(op | index)), 'ENOTTY', `feature ${index} op 0x${op.toString(16)}`);
    }
  }
});

test('§3.3 unknown feature → ENOTTY before the argsz minimum is looked at', (t) => {
  t.is(errnoOf(feature(SET | 9, 8)), 'ENOTTY');
});

// Step 4.

test('§3.4 device without logging (none) → ENOTTY for START/STOP/REPORT, PROBE included', (t) => {
  for (const f of [F_START, F_STOP, F_REPORT]) {
    for (const op of [GET, SET, PROBE, PROBE | GET, PROBE | SET, 0]) {
      t.is(errnoOf(feature(op | f, undefined, { supports: false })), 'ENOTTY', `feature ${f} op 0x${op.toString(16)}`);
    }
  }
});

test('§3.4 none → ENOTTY before the per-feature op and argsz checks', (t) => {
  t.is(errnoOf(feature(GET | F_START, undefined, { supports: false })), 'ENOTTY'); // wrong op would be EINVAL
  t.is(errnoOf(feature(START, 8, { supports: false })), 'ENOTTY'); // short argsz would be EINVAL
});

// Step 5.

test('§3.5 a GET/SET bit the feature does not accept → EINVAL (PROBE included)', (t) => {
  t.is(errnoOf(feature(GET | F_START)), 'EINVAL');
  t.is(errnoOf(feature(GET | F_STOP)), 'EINVAL');
  t.is(errnoOf(feature(SET | F_REPORT)), 'EINVAL');
  t.is(errnoOf(feature(PROBE | GET | F_START)), 'EINVAL');
  t.is(errnoOf(feature(PROBE | SET | F_REPORT)), 'EINVAL');
  t.is(errnoOf(feature(PROBE | GET | SET | F_STOP)), 'EINVAL');
});

test('§3.5 PROBE with the accepted bit or none → probe, whatever argsz says', (t) => {
  t.deepEqual(feature(PROBE | F_START, 8), { kind: 'probe', feature: F_START });
  t.deepEqual(feature(PROBE | SET | F_START, 8), { kind: 'probe', feature: F_START });
  t.deepEqual(feature(PROBE | SET | F_STOP, 8), { kind: 'probe', feature: F_STOP });
  t.deepEqual(feature(PROBE | F_REPORT, 8), { kind: 'probe', feature: F_REPORT });
  t.deepEqual(feature(PROBE | GET | F_REPORT, 8), { kind: 'probe', feature: F_REPORT });
});

test('§3.5 neither GET nor SET without PROBE → EINVAL', (t) => {
  for (const f of [F_START, F_STOP, F_REPORT]) t.is(errnoOf(feature(f)), 'EINVAL', `feature ${f}`);
});

test('§3.5 argsz minimum per feature: START 24, STOP 0, REPORT 32', (t) => {
  t.is(errnoOf(feature(START, 8 + 23)), 'EINVAL');
  t.deepEqual(feature(START, 8 + 24), { kind: 'start', controlAt: CONTROL_AT });
  t.deepEqual(feature(STOP, 8), { kind: 'stop' });
  t.is(errnoOf(feature(REPORT, 8 + 31)), 'EINVAL');
  t.deepEqual(feature(REPORT, 8 + 32), { kind: 'report', reportAt: CONTROL_AT });
});

test('§3.5 the wrong op bit wins over a short argsz', (t) => {
  t.is(errnoOf(feature(GET | F_START, 8)), 'EINVAL');
  t.is(errnoOf(feature(SET | F_REPORT, 8)), 'EINVAL');
});

// Step 6: START.

test('§3.6 START control struct straddling the end → EFAULT', (t) => {
  const mem = memory();
  t.is(errnoOf(checkStart(mem, MEMORY_BYTES - LOGGING_CONTROL_BYTES + 1, 4096)), 'EFAULT');
});

test('§3.6 START num_ranges 0 → EINVAL', (t) => {
  t.is(errnoOf(start([])), 'EINVAL');
});

test('§3.6 START num_ranges > LOG_MAX_RANGES → E2BIG: 4 KiB host 257 fails, 256 passes', (t) => {
  const ranges = Array.from({ length: 257 }, (_, i) => range(2 * i, 1));
  t.is(errnoOf(start(ranges)), 'E2BIG');
  const ok = start(ranges.slice(0, 256));
  t.is(errnoOf(ok), 'ok');
  t.deepEqual((ok as { ranges: LoggingRange[] }).ranges, ranges.slice(0, 256));
});

test('§3.6 START LOG_MAX_RANGES follows the host page size: 8 KiB host → 512 pass, 513 E2BIG', (t) => {
  const mem = memory(128 * 1024);
  const ranges = Array.from({ length: 513 }, (_, i) => range(2 * i, 1));
  t.is(errnoOf(start(ranges, PAGE, { hostPageSize: 8192, mem })), 'E2BIG');
  t.is(errnoOf(start(ranges.slice(0, 512), PAGE, { hostPageSize: 8192, mem })), 'ok');
  t.is(errnoOf(start(ranges.slice(0, 257), PAGE, { hostPageSize: 4096, mem })), 'E2BIG');
});

test('§3.6 START E2BIG is decided before any range is read', (t) => {
  t.is(errnoOf(start([], PAGE, { numRanges: 257, rangesAt: U64_MAX - 15n })), 'E2BIG');
  t.is(errnoOf(start([], PAGE, { numRanges: 0xffffffff, rangesAt: 0 })), 'E2BIG');
});

test('§3.6 START range array partly outside user memory → EFAULT at the first unreadable range', (t) => {
  // Range 0 lies inside, range 1 straddles the end.
  const at = MEMORY_BYTES - LOGGING_RANGE_BYTES - 8;
  t.is(errnoOf(start([range(0, 1), range(4, 1)], PAGE, { rangesAt: at })), 'EFAULT');
  t.is(errnoOf(start([range(0, 1)], PAGE, { rangesAt: MEMORY_BYTES - 8 })), 'EFAULT');
  t.is(errnoOf(start([range(0, 1)], PAGE, { rangesAt: U64_MAX })), 'EFAULT');
  t.is(errnoOf(start([range(0, 1)], PAGE, { rangesAt: MEMORY_BYTES - LOGGING_RANGE_BYTES })), 'ok');
});

test('§3.6 START ranges are checked in array order: a bad range 0 wins over an unreadable range 1', (t) => {
  const at = MEMORY_BYTES - LOGGING_RANGE_BYTES - 8;
  t.is(errnoOf(start([{ iova: 1n, length: PAGE }, range(4, 1)], PAGE, { rangesAt: at })), 'EINVAL');
  t.is(errnoOf(start([{ iova: U64_MAX - PAGE + 1n, length: PAGE }, range(4, 1)], PAGE, { rangesAt: at })), 'EOVERFLOW');
  // ...and a bad range 1 does not hide an earlier bad one.
  t.is(errnoOf(start([{ iova: U64_MAX - PAGE + 1n, length: PAGE }, { iova: 1n, length: PAGE }])), 'EOVERFLOW');
});

test('§3.6 START iova not aligned to page_size → EINVAL', (t) => {
  t.is(errnoOf(start([{ iova: PAGE + 512n, length: PAGE }])), 'EINVAL');
  t.is(errnoOf(start([range(0, 1), { iova: page(3) + 1n, length: PAGE }])), 'EINVAL');
});

test('§3.6 START length not aligned to page_size → EINVAL', (t) => {
  t.is(errnoOf(start([{ iova: PAGE, length: PAGE + 1n }])), 'EINVAL');
  t.is(errnoOf(start([{ iova: 0n, length: 2048n }])), 'EINVAL');
});

test('§3.6 START alignment uses the mask page_size - 1 as written: page_size 0 lets no range through', (t) => {
  // Mask 2^64 - 1: any non-zero iova or length is "misaligned", so this is EINVAL, not EOVERFLOW.
  t.is(errnoOf(start([{ iova: U64_MAX - PAGE + 1n, length: PAGE }], 0n)), 'EINVAL');
  t.is(errnoOf(start([{ iova: U64_MAX - PAGE + 1n, length: PAGE }], PAGE)), 'EOVERFLOW');
  t.is(errnoOf(start([{ iova: 0n, length: PAGE }], 0n)), 'EINVAL');
  t.is(errnoOf(start([{ iova: PAGE, length: 0n }], 0n)), 'EINVAL');
  t.is(errnoOf(start([{ iova: 0n, length: 0n }], 0n)), 'EINVAL'); // aligned, but a zero length
});

test('§3.6 START a non-power-of-two hint gives the strange mask, reproduced (12 KiB → mask 0x2fff)', (t) => {
  const hint = 0x3000n;
  // 0x3000 is a multiple of the hint, yet 0x3000 & 0x2fff = 0x2000: refused.
  t.is(errnoOf(start([{ iova: 0x3000n, length: 0x4000n }], hint)), 'EINVAL');
  t.is(errnoOf(start([{ iova: 0x4000n, length: 0x3000n }], hint)), 'EINVAL');
  // 0x4000, 0xd000 and 0x10000 are no multiples of 12 KiB, yet & 0x2fff = 0: accepted.
  const ok = start([{ iova: 0x4000n, length: 0xd000n }, { iova: 0x20000n, length: 0x10000n }], hint);
  t.deepEqual(ok, {
    pageSizeHint: hint, controlAt: CONTROL_AT,
    ranges: [{ iova: 0x4000n, length: 0xd000n }, { iova: 0x20000n, length: 0x10000n }],
  });
});

test('§3.6 START exclusive end of exactly 2^64 → EOVERFLOW; an end of 2^64 - 1 passes', (t) => {
  t.is(errnoOf(start([{ iova: U64_LIMIT - PAGE, length: PAGE }])), 'EOVERFLOW');
  t.is(errnoOf(start([{ iova: U64_LIMIT - 2n * PAGE, length: PAGE }])), 'ok');
  // Byte granularity (page_size 1, mask 0) reaches the exact edge.
  t.is(errnoOf(start([{ iova: 0n, length: U64_MAX }], 1n)), 'ok');
  t.is(errnoOf(start([{ iova: 1n, length: U64_MAX - 1n }], 1n)), 'ok');
  t.is(errnoOf(start([{ iova: 1n, length: U64_MAX }], 1n)), 'EOVERFLOW');
  t.is(errnoOf(start([{ iova: U64_MAX, length: U64_MAX }], 1n)), 'EOVERFLOW');
});

test('§3.6 START alignment is checked before overflow: misaligned and overflowing → EINVAL', (t) => {
  t.is(errnoOf(start([{ iova: U64_MAX - 100n, length: PAGE }])), 'EINVAL');
  t.is(errnoOf(start([{ iova: U64_LIMIT - PAGE, length: PAGE + 1n }])), 'EINVAL');
});

test('§3.6 START a range of length 0 → EINVAL (we decide)', (t) => {
  t.is(errnoOf(start([{ iova: PAGE, length: 0n }])), 'EINVAL');
  t.is(errnoOf(start([range(0, 1), { iova: page(4), length: 0n }])), 'EINVAL');
});

test('§3.6 START a range overlapping an earlier one → EINVAL', (t) => {
  t.is(errnoOf(start([range(0, 2), range(1, 2)])), 'EINVAL');
  t.is(errnoOf(start([range(4, 2), range(3, 2)])), 'EINVAL'); // overlap from below
  t.is(errnoOf(start([range(0, 8), range(2, 1)])), 'EINVAL'); // contained
  t.is(errnoOf(start([range(2, 1), range(0, 8)])), 'EINVAL'); // containing
  t.is(errnoOf(start([range(0, 1), range(10, 1), range(20, 1), range(10, 1)])), 'EINVAL'); // a duplicate, far back
});

test('§3.6 START overlap is found in array order: it wins over a later unreadable range', (t) => {
  const at = MEMORY_BYTES - 2 * LOGGING_RANGE_BYTES - 8; // ranges 0, 1 readable, 2 straddles
  t.is(errnoOf(start([range(0, 2), range(1, 1), range(9, 1)], PAGE, { rangesAt: at })), 'EINVAL');
  t.is(errnoOf(start([range(0, 2), range(4, 1), range(9, 1)], PAGE, { rangesAt: at })), 'EFAULT');
});

test('§3.6 START touching ranges pass, unsorted ranges pass and stay in array order', (t) => {
  t.deepEqual(start([range(0, 1), range(1, 1), range(2, 3)]), {
    pageSizeHint: PAGE, controlAt: CONTROL_AT, ranges: [range(0, 1), range(1, 1), range(2, 3)],
  });
  t.deepEqual(start([range(9, 1), range(0, 2), range(4, 1)]), {
    pageSizeHint: PAGE, controlAt: CONTROL_AT, ranges: [range(9, 1), range(0, 2), range(4, 1)],
  });
  t.is(errnoOf(start([range(2, 1), range(1, 1), range(0, 1)])), 'ok'); // touching and reversed
});

test('§3.6 START the core does not judge page_size itself (any hint that aligns passes)', (t) => {
  for (const hint of [1n, 2n, 512n, PAGE, 1n << 63n]) t.is(errnoOf(start([{ iova: 0n, length: hint }], hint)), 'ok', `hint ${hint}`);
});

// Step 7: REPORT.

test('§3.7 REPORT struct straddling the end → EFAULT', (t) => {
  t.is(errnoOf(checkReport(memory(), MEMORY_BYTES - 31)), 'EFAULT');
});

test('§3.7 REPORT page_size < 4096 → EINVAL', (t) => {
  for (const p of [0n, 1n, 512n, 2048n, 4095n]) t.is(errnoOf(report(0n, PAGE, p)), 'EINVAL', `page_size ${p}`);
});

test('§3.7 REPORT page_size not a power of two → EINVAL', (t) => {
  for (const p of [4097n, 0x3000n, 0x5000n, U64_MAX]) t.is(errnoOf(report(0n, 0x3000n, p)), 'EINVAL', `page_size ${p}`);
  for (const p of [4096n, 8192n, 1n << 21n, 1n << 63n]) t.is(errnoOf(report(0n, PAGE, p)), 'ok', `page_size ${p}`);
});

test('§3.7 REPORT iova + length overflowing 64 bits → EOVERFLOW; an end of 2^64 - 1 passes', (t) => {
  t.is(errnoOf(report(U64_LIMIT - PAGE, PAGE)), 'EOVERFLOW');
  t.is(errnoOf(report(U64_MAX, U64_MAX)), 'EOVERFLOW');
  t.deepEqual(report(U64_LIMIT - PAGE, PAGE - 1n), {
    iova: U64_LIMIT - PAGE, length: PAGE - 1n, pageSize: PAGE, bitmapAt: 0x1000, bitCount: 1,
  });
});

test('§3.7 REPORT page_size is checked before overflow', (t) => {
  t.is(errnoOf(report(U64_LIMIT - PAGE, PAGE, 2048n)), 'EINVAL');
});

test('§3.7 REPORT length 0 → EINVAL (we decide), before the bitmap is looked at', (t) => {
  t.is(errnoOf(report(PAGE, 0n)), 'EINVAL');
  t.is(errnoOf(report(PAGE, 0n, PAGE, U64_MAX)), 'EINVAL');
});

test('§3.7 REPORT bitmap not fitting in user memory → EFAULT (whole u64 words)', (t) => {
  const last = MEMORY_BYTES - 8;
  t.is(errnoOf(report(0n, page(64), PAGE, last)), 'ok'); // 64 bits: one word, the last one
  t.is(errnoOf(report(0n, page(64) + 1n, PAGE, last)), 'EFAULT'); // 65 bits need a second word
  t.is(errnoOf(report(0n, PAGE, PAGE, MEMORY_BYTES - 7)), 'EFAULT'); // one bit still needs a word
  t.is(errnoOf(report(0n, PAGE, PAGE, U64_MAX)), 'EFAULT');
  t.is(errnoOf(report(0n, U64_MAX, PAGE, 0)), 'EFAULT'); // 2^52 bits: far beyond user memory
});

test('§3.7 REPORT overflow wins over an unreachable bitmap', (t) => {
  t.is(errnoOf(report(U64_MAX, 1n, PAGE, U64_MAX)), 'EOVERFLOW');
});

test('§3.7 REPORT result: bitCount = ceil(length / page_size), unaligned iova and bitmap allowed', (t) => {
  t.deepEqual(report(0x1234n, page(3) + 1n, PAGE, 0x1003), {
    iova: 0x1234n, length: page(3) + 1n, pageSize: PAGE, bitmapAt: 0x1003, bitCount: 4,
  });
});

test('§3.8 checks read user memory and write nothing', (t) => {
  const mem = memory();
  putStart(mem.view, CALL_AT, { pageSize: 0x3000n, ranges: [{ iova: 0x4000n, length: 0x3000n * 4n }] });
  putReport(mem.view, 0x800, { iova: 0n, length: PAGE, pageSize: PAGE, bitmap: 0x1000 });
  const before = mem.bytes.slice();
  checkFeatureCall(mem, BigInt(CALL_AT), true);
  checkStart(mem, CONTROL_AT, 4096);
  checkFeatureCall(mem, 0x800n, true);
  checkReport(mem, 0x808);
  t.deepEqual(mem.bytes, before);
});
