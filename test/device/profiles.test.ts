// contract §4, the pure part of each profile: page-size choice, range merging, address-space limit.
import test from 'ava';
import {
  PDS_MAX_RANGES, PROFILE_TRAITS, STATE_ERRNO, ceilPowerOfTwo, floorPowerOfTwo, mergeRanges, profileStart,
  type DeviceConfig,
} from '../../src/device/profiles.js';
import type { LoggingRange } from '../../src/uapi/structs.js';
import { KiB, PAGE, errnoOfChecked as errnoOf } from '../helpers/abi.js';

const MiB = 1024n * KiB;
const r = (iova: bigint, length: bigint): LoggingRange => ({ iova, length });
/** Ranges in units of 4 KiB pages: [iova, iova + length). */
const pages = (...spans: Array<[number, number]>) => spans.map(([iova, length]) => r(BigInt(iova) * PAGE, BigInt(length) * PAGE));

function device(profile: DeviceConfig['profile'], over: Partial<DeviceConfig> = {}): DeviceConfig {
  return { name: profile, profile, minPageSize: 4096n, maxPageSize: 2n * MiB, maxRanges: 4, maxAddressSpaceBits: 42, ...over };
}

test('mergeRanges keeps ranges when they already fit (and copies them)', (t) => {
  const input = pages([0, 1], [5, 1], [9, 1]);
  const out = mergeRanges(input, 3);
  t.deepEqual(out, input);
  t.not(out[0], input[0]);
  t.deepEqual(mergeRanges(input, 10), input);
});

test('mergeRanges joins the adjacent pair with the smallest gap first', (t) => {
  // Gaps: 2, 6, 1 → the last pair goes first, then the first pair.
  const input = pages([0, 1], [3, 1], [10, 1], [12, 1]);
  t.deepEqual(mergeRanges(input, 3), pages([0, 1], [3, 1], [10, 3]));
  t.deepEqual(mergeRanges(input, 2), pages([0, 4], [10, 3]));
  t.deepEqual(mergeRanges(input, 1), pages([0, 13]));
  t.deepEqual(input, pages([0, 1], [3, 1], [10, 1], [12, 1]), 'the input is not modified');
});

test('mergeRanges: gaps are recomputed after each join (a merged range can join again)', (t) => {
  // Gaps 1, 3, 2: join #0+#1 (gap 1) → [0,3) then gaps 3, 2 → join the last pair.
  t.deepEqual(mergeRanges(pages([0, 1], [2, 1], [6, 1], [9, 1]), 2), pages([0, 3], [6, 4]));
});

test('mergeRanges: ties go to the first pair', (t) => {
  const input = pages([0, 1], [2, 1], [4, 1], [6, 1]); // every gap is 1
  t.deepEqual(mergeRanges(input, 3), pages([0, 3], [4, 1], [6, 1]));
  t.deepEqual(mergeRanges(input, 2), pages([0, 5], [6, 1]));
});

test('mergeRanges: touching ranges (gap 0) join before any real gap', (t) => {
  t.deepEqual(mergeRanges(pages([0, 1], [3, 1], [4, 2], [9, 1]), 3), pages([0, 1], [3, 3], [9, 1]));
});

test('mergeRanges: a maximum of 0 still leaves one covering range', (t) => {
  t.deepEqual(mergeRanges(pages([1, 1], [8, 2]), 0), pages([1, 9]));
});

test('mergeRanges works on u64 edges (gap arithmetic in bigint)', (t) => {
  const top = (1n << 64n) - PAGE;
  t.deepEqual(mergeRanges([r(0n, PAGE), r(top - 2n * PAGE, PAGE), r(top, PAGE)], 2), [r(0n, PAGE), r(top - 2n * PAGE, 3n * PAGE)]);
});

test('power-of-two helpers', (t) => {
  t.deepEqual([0n, 1n, 2n, 3n, 4096n, 4097n, 0x3000n].map(floorPowerOfTwo), [0n, 1n, 2n, 2n, 4096n, 4096n, 0x2000n]);
  t.deepEqual([0n, 1n, 2n, 3n, 4096n, 4097n, 0x3000n].map(ceilPowerOfTwo), [1n, 1n, 2n, 4n, 4096n, 8192n, 0x4000n]);
  t.is(floorPowerOfTwo((1n << 64n) - 1n), 1n << 63n);
});

test('mlx5 page size: the hint rounded down to a power of two', (t) => {
  const dev = device('mlx5', { maxPageSize: 1n << 30n });
  const chosen = (hint: bigint) => (profileStart(dev, hint, pages([0, 1])) as { pageSize: bigint }).pageSize;
  t.is(chosen(4096n), 4096n);
  t.is(chosen(0x3000n), 0x2000n);
  t.is(chosen(64n * KiB + 1n), 64n * KiB);
  t.is(chosen(2n * MiB - 1n), MiB);
});

test('mlx5 page size: clamped to the device [min, max]', (t) => {
  const dev = device('mlx5', { minPageSize: 8192n, maxPageSize: 2n * MiB });
  const chosen = (hint: bigint) => (profileStart(dev, hint, pages([0, 1])) as { pageSize: bigint }).pageSize;
  t.is(chosen(4096n), 8192n);
  t.is(chosen(0n), 8192n);
  t.is(chosen(1n), 8192n);
  t.is(chosen(0x3000n), 8192n);
  t.is(chosen(0x5000n), 0x4000n);
  t.is(chosen(2n * MiB), 2n * MiB);
  t.is(chosen(1n << 30n), 2n * MiB);
  t.is(chosen((1n << 64n) - 1n), 2n * MiB);
});

test('mlx5 merges down to the device maximum, smallest gap first', (t) => {
  const dev = device('mlx5', { maxRanges: 2 });
  t.deepEqual(profileStart(dev, PAGE, pages([12, 1], [0, 1], [10, 1], [3, 1])), { pageSize: PAGE, regions: pages([0, 4], [10, 3]) });
});

test('mlx5 address-space limit: merged lengths rounded up to a power of two; exactly 2^bits passes', (t) => {
  const dev = device('mlx5', { maxAddressSpaceBits: 20 }); // 1 MiB
  t.is(errnoOf(profileStart(dev, PAGE, [r(0n, MiB)])), 'ok');
  t.is(errnoOf(profileStart(dev, PAGE, [r(0n, MiB / 2n), r(4n * MiB, MiB / 2n)])), 'ok'); // 512K + 512K = 2^20
  t.is(errnoOf(profileStart(dev, PAGE, [r(0n, 768n * KiB)])), 'ok'); // rounds up to 1 MiB
  t.is(errnoOf(profileStart(dev, PAGE, [r(0n, MiB + PAGE)])), 'EOPNOTSUPP'); // rounds up to 2 MiB
  t.is(errnoOf(profileStart(dev, PAGE, [r(0n, MiB), r(2n * MiB, PAGE)])), 'EOPNOTSUPP');
});

test('mlx5 address-space limit counts merged gaps (they become tracked)', (t) => {
  const ranges = [r(0n, PAGE), r(MiB, PAGE)];
  // Apart: 8 KiB tracked. Merged into one range: 1 MiB + 4 KiB tracked → 2 MiB > 1 MiB.
  t.is(errnoOf(profileStart(device('mlx5', { maxAddressSpaceBits: 20, maxRanges: 2 }), PAGE, ranges)), 'ok');
  t.is(errnoOf(profileStart(device('mlx5', { maxAddressSpaceBits: 20, maxRanges: 1 }), PAGE, ranges)), 'EOPNOTSUPP');
  t.is(errnoOf(profileStart(device('mlx5', { maxAddressSpaceBits: 21, maxRanges: 1 }), PAGE, ranges)), 'ok');
});

test('mlx5 address-space limit at 64 bits: the whole u64 space fits', (t) => {
  const dev = device('mlx5', { maxAddressSpaceBits: 64, maxRanges: 1 });
  t.is(errnoOf(profileStart(dev, PAGE, [r(0n, PAGE), r((1n << 64n) - PAGE, PAGE)])), 'ok');
});

test('pds page size: the hint unchanged, no clamping', (t) => {
  const dev = device('pds', { maxPageSize: 8192n });
  for (const hint of [4096n, 8192n, 1n << 21n, 1n << 40n, 1n << 63n]) {
    t.deepEqual(profileStart(dev, hint, pages([0, 1])), { pageSize: hint, regions: pages([0, 1]) }, `hint ${hint}`);
  }
});

test('pds refuses a hint that is not a power of two ≥ 4096 → EINVAL', (t) => {
  const dev = device('pds');
  for (const hint of [0n, 1n, 2048n, 4095n, 0x3000n, 4097n, (1n << 64n) - 1n]) {
    t.is(errnoOf(profileStart(dev, hint, pages([0, 3]))), 'EINVAL', `hint ${hint}`);
  }
});

test('pds merges to the device maximum with the same rule', (t) => {
  t.deepEqual(profileStart(device('pds', { maxRanges: 3 }), PAGE, pages([0, 1], [3, 1], [10, 1], [12, 1])), {
    pageSize: PAGE, regions: pages([0, 1], [3, 1], [10, 3]),
  });
});

test('pds maximum is a u8: never more than 255 regions, whatever the device claims', (t) => {
  t.is(PDS_MAX_RANGES, 255);
  const many = Array.from({ length: 256 }, (_, i) => r(BigInt(2 * i) * PAGE, PAGE));
  const over = profileStart(device('pds', { maxRanges: 1000 }), PAGE, many) as { regions: LoggingRange[] };
  t.is(over.regions.length, 255);
  // All gaps are equal: the first pair joins.
  t.deepEqual(over.regions[0], r(0n, 3n * PAGE));
  t.deepEqual(over.regions[254], r(510n * PAGE, PAGE));
  t.is((profileStart(device('pds', { maxRanges: 255 }), PAGE, many.slice(0, 255)) as { regions: LoggingRange[] }).regions.length, 255);
});

test('pds has no address-space limit', (t) => {
  const dev = device('pds', { maxAddressSpaceBits: 12, maxRanges: 1 });
  t.is(errnoOf(profileStart(dev, PAGE, [r(0n, PAGE), r(1n << 62n, PAGE)])), 'ok');
});

test('none: START is ENOTTY', (t) => {
  t.is(errnoOf(profileStart(device('none'), PAGE, pages([0, 1]))), 'ENOTTY');
});

test('profile traits and state errnos per the contract §4 table', (t) => {
  t.deepEqual(PROFILE_TRAITS, {
    mlx5: { supportsLogging: true, reportMustLieInOneRegion: false, stickyError: true },
    pds: { supportsLogging: true, reportMustLieInOneRegion: true, stickyError: false },
    none: { supportsLogging: false, reportMustLieInOneRegion: false, stickyError: false },
  });
  t.deepEqual(STATE_ERRNO, { startWhileActive: 'EINVAL', reportWhenIdle: 'EINVAL' });
});
