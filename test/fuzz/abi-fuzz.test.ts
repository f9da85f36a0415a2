// The bounded ABI fuzz inside `npm test` (≥ 10^5 calls), fast-check properties over the same
// generator, and the fuzz's own checks shown to catch what they claim to: a host made to
// misbehave in each way must make the run fail with that kind of failure, at a replayable call.
import test from 'ava';
import fc from 'fast-check';
import { VFIO_DEVICE_FEATURE, VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT, VFIO_DEVICE_FEATURE_MASK, VfioError, createHost, type Host } from '../../src/index.js';
import { choiceArbitrary, choiceDraw, fuzzCallArbitrary } from '../../src/fuzz/arbitraries.js';
import { successEffect } from '../../src/fuzz/call.js';
import { chance, pick } from '../../src/fuzz/draw.js';
import { generateCall } from '../../src/fuzz/generate.js';
import { FUZZ_DEFAULTS, runFuzz, type Counts, type FuzzOptions } from '../../src/fuzz/runner.js';
import { FuzzLane, createMirrorHost } from '../../src/fuzz/lane.js';
import type { ProfileName } from '../../src/device/profiles.js';
import { putStop } from '../helpers/abi.js';

const SEED = Number(process.env['DMALOG_FUZZ_SEED'] ?? 20_260_125);
/** Every errno the core and the profiles give for bad arguments or state (contract §3-4). */
const ARGUMENT_ERRNOS = ['E2BIG', 'EFAULT', 'EINVAL', 'EIO', 'ENOMEM', 'ENOTTY', 'EOPNOTSUPP', 'EOVERFLOW'];

function total(counts: Counts): number {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

test('bounded fuzz: 10^5 calls, each 0 or a known errno, no stray byte, no state change on failure, fresh rounds exact', async (t) => {
  const calls = 100_000;
  const report = await runFuzz({ seed: SEED, calls });
  t.is(report.failure, null, `seed ${SEED}`);
  t.is(report.calls, calls);
  t.is(total(report.counts), calls);
  // The generator reaches every outcome, and nothing else comes back.
  const deviceOutcomes = new Set(Object.values(report.byProfile).flatMap((counts) => Object.keys(counts)));
  t.deepEqual([...deviceOutcomes].sort(), ['ok', ...ARGUMENT_ERRNOS].sort());
  // The iommufd lanes (two by default) add ENOENT, an unknown HWPT id, which no device call gives.
  t.deepEqual(Object.keys(report.counts).sort(), ['ok', 'ENOENT', ...ARGUMENT_ERRNOS].sort());
  // A device without logging never succeeds, and refuses logging features before reading more than the header.
  t.deepEqual(Object.keys(report.byProfile.none!).sort(), ['EFAULT', 'EINVAL', 'ENOTTY']);
  for (const profile of ['mlx5', 'pds'] as const) t.true((report.byProfile[profile]!.ok ?? 0) > 100, profile);
  t.true((report.byProfile.mlx5!.EIO ?? 0) > 0, 'the sticky error state was fuzzed');
  t.true(report.stateChanges > 0 && report.verifies > 0 && report.rounds >= report.lanes);
  t.true(report.rssPeakDeltaBytes < FUZZ_DEFAULTS.rssBudgetBytes);
});

test('runFuzz refuses a seed outside 0..2^64-1 with DMALOG_BAD_OPTION before starting a thread', async (t) => {
  for (const seed of [-1, 0.5, Number.NaN, 2 ** 53, -1n, 1n << 64n]) {
    const error = await t.throwsAsync(runFuzz({ seed, calls: 10 }), undefined, String(seed));
    t.is((error as { code?: string }).code, 'DMALOG_BAD_OPTION', String(seed));
  }
  const report = await runFuzz({ seed: (1n << 64n) - 1n, calls: 30, lanes: 3 });
  t.is(report.seed, '18446744073709551615');
  t.is(report.failure, null);
});

test('one seed, one run: the same calls give the same outcomes', async (t) => {
  const run = () => runFuzz({ seed: 77, calls: 3000, lanes: 3 });
  const [a, b] = [await run(), await run()];
  t.is(a.failure, null);
  t.deepEqual([a.counts, a.byProfile, a.dma, a.stateChanges, a.verifies], [b.counts, b.byProfile, b.dma, b.stateChanges, b.verifies]);
});

test('fast-check: the generator driven by fast-check, per profile and state, holds the same properties', async (t) => {
  const profiles: ProfileName[] = ['mlx5', 'pds', 'none'];
  const o = { ...FUZZ_DEFAULTS };
  const mirror = await createMirrorHost(profiles, o);
  const lanes: FuzzLane[] = [];
  t.teardown(async () => { await Promise.all([...lanes.map((l) => l.close()), mirror.close()]); });
  for (const [i, profile] of profiles.entries()) lanes.push(await FuzzLane.open(i, { ...o, profile }, mirror));
  let calls = 0;
  await Promise.all(lanes.map(async (lane) => {
    await fc.assert(fc.asyncProperty(choiceArbitrary(), async (words) => {
      const d = choiceDraw(words);
      if (chance(d, 5)) await lane.setState(d, pick(d, ['idle', 'logging', 'error'] as const));
      if (chance(d, 20)) await lane.dma(d);
      if (chance(d, 2)) lane.refreshCanary(d);
      await lane.call(generateCall(d, lane.context()));
      calls++;
    }), { seed: SEED, numRuns: 1500 });
    await lane.verify();
    await lane.round();
  }));
  t.is(calls, 4500);
});

test('fast-check shrinks a call toward ordinary values', (t) => {
  // A property that fails on any REPORT shape: the shrunk counterexample is the plainest REPORT.
  const ctx = { memoryBytes: 32 << 10, regions: [{ iova: 0n, length: 1n << 20n }], granule: 4096n };
  const details = fc.check(fc.property(fuzzCallArbitrary(ctx), (call) => !call.shape.startsWith('report')), { seed: SEED });
  t.true(details.failed);
  const call = details.counterexample![0];
  t.is(call.shape, 'report/region');
  t.is(call.ptr, 0n, 'the header shrank to the first aligned spot');
  t.deepEqual([...call.writes[0]!.bytes], [40, 0, 0, 0, 8, 0, 1, 0], 'argsz 8 + 32, GET | REPORT');
});

// The checks catch what they claim to. Each sabotage wraps a real host's raw ioctl and
// misbehaves on some calls. These run one after another: each starts six threads.

type Sabotage = (host: Host, real: Host['ioctl']) => Host['ioctl'];

function sabotaged(sabotage: Sabotage): NonNullable<FuzzOptions['createHost']> {
  return async (options) => {
    const host = await createHost(options);
    host.ioctl = sabotage(host, host.ioctl.bind(host));
    return host;
  };
}

/** Calls that look like a REPORT (by their flags), the ones that reach a device most often. */
function isReport(host: Host, ptr: number | bigint): boolean {
  const at = Number(ptr);
  return at >= 0 && at + 8 <= host.memory.byteLength && (new DataView(host.memory).getUint32(at + 4, true) & VFIO_DEVICE_FEATURE_MASK) === VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT;
}

async function sabotagedRun(sabotage: Sabotage, extra: Partial<FuzzOptions> = {}) {
  return runFuzz({ seed: 5, calls: 4000, lanes: 3, createHost: sabotaged(sabotage), ...extra });
}

test.serial('a stray byte written by a failed call is a canary failure', async (t) => {
  const report = await sabotagedRun((host, real) => async (fd, request, ptr) => {
    try {
      return await real(fd, request, ptr);
    } catch (error) {
      if (isReport(host, ptr)) new Uint8Array(host.memory)[host.memory.byteLength - 1]! ^= 1;
      throw error;
    }
  });
  t.like(report.failure, { kind: 'canary' });
});

test.serial('a rejection that is not a VfioError is an exception failure', async (t) => {
  const report = await sabotagedRun((host, real) => async (fd, request, ptr) => {
    if (isReport(host, ptr)) throw new TypeError('not an errno');
    return real(fd, request, ptr);
  });
  t.like(report.failure, { kind: 'exception' });
});

test.serial('a VfioError whose code is not its errno\'s is an exception failure', async (t) => {
  const report = await sabotagedRun((host, real) => async (fd, request, ptr) => {
    try {
      return await real(fd, request, ptr);
    } catch (error) {
      if (error instanceof VfioError && isReport(host, ptr)) Object.defineProperty(error, 'code', { value: 0 });
      throw error;
    }
  });
  t.like(report.failure, { kind: 'exception' });
});

test.serial('a call that never settles is a hang', async (t) => {
  const report = await sabotagedRun((host, real) => (fd, request, ptr) => (isReport(host, ptr) ? new Promise<0>(() => {}) : real(fd, request, ptr)), { callTimeoutMs: 300 });
  t.like(report.failure, { kind: 'hang' });
});

test.serial('a failed call that stops logging is a state failure', async (t) => {
  const report = await sabotagedRun((host, real) => async (fd, request, ptr) => {
    try {
      return await real(fd, request, ptr);
    } catch (error) {
      // A raw STOP in the first bytes of user memory, which are then put back: the typed layer
      // would leave its scratch written (a canary failure), and this failure is about state.
      if (host.inspect(fd).logging && isReport(host, ptr)) {
        const saved = new Uint8Array(host.memory, 0, 8).slice();
        await real(fd, VFIO_DEVICE_FEATURE, putStop(new DataView(host.memory), 0));
        new Uint8Array(host.memory, 0, 8).set(saved);
      }
      throw error;
    }
  });
  t.like(report.failure, { kind: 'state' });
});

test.serial('a REPORT that sets a bit its device never logged is a bits failure (the canary allows it, the mirror does not)', async (t) => {
  const report = await sabotagedRun((host, real) => async (fd, request, ptr) => {
    const result = await real(fd, request, ptr);
    const effect = request === VFIO_DEVICE_FEATURE ? successEffect(new Uint8Array(host.memory), BigInt(ptr)) : null;
    if (effect?.kind === 'report') {
      const bytes = new Uint8Array(host.memory);
      for (let n = 0; n < effect.bitCount; n++) {
        const at = effect.bitmapAt + (n >>> 3);
        if (!((bytes[at]! >>> (n & 7)) & 1)) { bytes[at]! |= 1 << (n & 7); break; }
      }
    }
    return result;
  });
  t.like(report.failure, { kind: 'bits' });
});

test.serial('growth past the memory budget is a memory failure', async (t) => {
  // A budget below any growth (the resident set may also shrink): the first sample fails.
  const report = await runFuzz({ seed: 5, calls: 4000, lanes: 3, rssBudgetBytes: -(1 << 30) });
  t.like(report.failure, { kind: 'memory' });
});

test.serial('a failure names the call that replays it: --calls k+1 with the same seed fails at call k again', async (t) => {
  // Misbehave on one deterministic kind of call: a REPORT laid out at an odd address.
  const sabotage: Sabotage = (host, real) => async (fd, request, ptr) => {
    if (isReport(host, ptr) && Number(ptr) % 2 === 1) new Uint8Array(host.memory)[host.memory.byteLength - 1]! ^= 1;
    return real(fd, request, ptr);
  };
  const first = await sabotagedRun(sabotage, { calls: 6000 });
  t.not(first.failure, null);
  const k = first.failure!.callIndex;
  const replay = await sabotagedRun(sabotage, { calls: k + 1 });
  t.like(replay.failure, { kind: first.failure!.kind, callIndex: k, lane: first.failure!.lane, call: first.failure!.call });
});
