// contract §2-§6 end to end: the simulated host with its tracker threads, driven through the raw
// ABI (structs laid out in host.memory, host.ioctl) and through the typed layer. Every host is
// closed in t.teardown, so no worker outlives its test.
import { createHook } from 'node:async_hooks';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import test, { type ExecutionContext } from 'ava';
import {
  DmalogError, VFIO_DEVICE_FEATURE, VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT, VFIO_DEVICE_FEATURE_DMA_LOGGING_START,
  VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP, VFIO_DEVICE_FEATURE_GET, VFIO_DEVICE_FEATURE_PROBE, VFIO_DEVICE_FEATURE_SET,
  VfioError, createHost, decodeLoggingControl, type DeviceOptions, type Host, type HostOptions, type TransportKind,
} from '../../src/index.js';
import {
  KiB, PAGE, U64_LIMIT, errnoOf, firstDifference, presetBits, putHeader, putReport, putStart, putStop, setBits,
  type ReportArgs, type StartArgs,
} from '../helpers/abi.js';
import { CONTROL_SLOTS, STOP_WRITING, WRITES_DONE, pageOfWrite, type DmaWriterData } from '../fixtures/dma-writer-plan.js';

const MiB = 1024n * KiB;
const MEMORY_BYTES = 1 << 20;
/** Raw call structs live low in user memory (the typed layer allocates from the top). */
const CALL_AT = 0x100;
const BITMAP_AT = 0x8000;
const PROBE = VFIO_DEVICE_FEATURE_PROBE;
const F_START = VFIO_DEVICE_FEATURE_DMA_LOGGING_START;
const F_STOP = VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP;
const F_REPORT = VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT;

const MLX5: DeviceOptions = { name: 'mlx', profile: 'mlx5', minPageSize: 4096, maxPageSize: 2 << 20, maxRanges: 4, maxAddressSpaceBits: 42 };
const PDS: DeviceOptions = { name: 'pds', profile: 'pds', maxRanges: 8 };
const NONE: DeviceOptions = { name: 'none', profile: 'none' };

interface Context { transport?: TransportKind }

async function hostFor(t: ExecutionContext, devices: DeviceOptions[] = [MLX5, PDS, NONE], options: Partial<HostOptions> = {}): Promise<Host> {
  const { transport } = t.context as Context;
  const host = await createHost({ userMemoryBytes: MEMORY_BYTES, logLevel: 'silent', ...(transport ? { transport } : {}), ...options, devices });
  t.teardown(() => host.close());
  return host;
}

/**
 * A test run once per transport: the driver in its worker thread (the title as it is), and in
 * this thread (the title with [in-thread]); `hostFor` builds the host with that transport.
 */
function both(title: string, body: (t: ExecutionContext) => Promise<void>): void {
  for (const transport of ['worker', 'in-thread'] as const) {
    test(transport === 'worker' ? title : `${title} [in-thread]`, async (t) => {
      (t.context as Context).transport = transport;
      await body(t);
    });
  }
}

/** The raw ABI on one fd: each call lays its structs out at CALL_AT (or `at`) and ioctls. */
function rawOn(host: Host, fd: number) {
  const view = new DataView(host.memory);
  const call = (ptr: number) => host.ioctl(fd, VFIO_DEVICE_FEATURE, ptr);
  return {
    view,
    probe: (flags: number) => call(putHeader(view, CALL_AT, PROBE | flags)),
    start: (a: StartArgs, at = CALL_AT) => call(putStart(view, at, a)),
    stop: (at = CALL_AT) => call(putStop(view, at)),
    report: (a: ReportArgs, at = CALL_AT) => call(putReport(view, at, a)),
    /** REPORT into a zeroed bitmap at BITMAP_AT (or a.bitmap); resolves the set bits. */
    async reportBits(iova: bigint, length: bigint, pageSize = PAGE, bitmap = BITMAP_AT): Promise<number[]> {
      const bitCount = Number((length + pageSize - 1n) / pageSize);
      host.zero(bitmap, Math.ceil(bitCount / 64) * 8);
      await call(putReport(view, CALL_AT, { iova, length, pageSize, bitmap }));
      return setBits(host.memory, bitmap, bitCount);
    },
  };
}

const span = (iova: bigint, length: bigint) => ({ iova, length });
const pagesOf = (first: number, count: number) => Array.from({ length: count }, (_, i) => first + i);

// ---- PROBE ---------------------------------------------------------------------------------

both('PROBE: mlx5 and pds answer 0 for START/STOP (SET) and REPORT (GET); none ENOTTY; nothing written', async (t) => {
  const host = await hostFor(t);
  const bytes = new Uint8Array(host.memory);
  for (const name of ['mlx', 'pds', 'none']) {
    const fd = host.open(name);
    const expected = name === 'none' ? 'ENOTTY' : 0;
    for (const flags of [VFIO_DEVICE_FEATURE_SET | F_START, VFIO_DEVICE_FEATURE_SET | F_STOP, VFIO_DEVICE_FEATURE_GET | F_REPORT, F_REPORT]) {
      const ptr = putHeader(new DataView(host.memory), CALL_AT, PROBE | flags, 32);
      const before = bytes.slice();
      t.is(await errnoOf(host.ioctl(fd, VFIO_DEVICE_FEATURE, ptr)), expected, `${name} 0x${flags.toString(16)}`);
      t.is(firstDifference(bytes, before), -1, 'a PROBE touches nothing');
    }
    t.is(await errnoOf(rawOn(host, fd).probe(VFIO_DEVICE_FEATURE_GET | F_START)), name === 'none' ? 'ENOTTY' : 'EINVAL');
  }
  t.true(await host.device('mlx').probe());
  t.true(await host.device('pds').probe(F_REPORT));
  t.false(await host.device('none').probe());
  t.is((await host.device('mlx').status()).state, 'idle');
});

// ---- Core checks reach the host -------------------------------------------------------------

both('host.ioctl runs the contract §3 checks: one errno of each kind', async (t) => {
  const host = await hostFor(t, [MLX5]);
  const fd = host.open('mlx');
  const raw = rawOn(host, fd);
  t.is(await errnoOf(host.ioctl(fd, VFIO_DEVICE_FEATURE, MEMORY_BYTES - 4)), 'EFAULT');
  t.is(await errnoOf(host.ioctl(fd, VFIO_DEVICE_FEATURE, putHeader(raw.view, CALL_AT, 0x80000000 | VFIO_DEVICE_FEATURE_SET | F_START, 24))), 'EINVAL');
  t.is(await errnoOf(host.ioctl(fd, VFIO_DEVICE_FEATURE, putHeader(raw.view, CALL_AT, VFIO_DEVICE_FEATURE_SET | 9, 24))), 'ENOTTY');
  t.is(await errnoOf(raw.start({ pageSize: PAGE, ranges: Array.from({ length: 257 }, (_, i) => span(BigInt(2 * i) * PAGE, PAGE)) })), 'E2BIG');
  t.is(await errnoOf(raw.start({ pageSize: PAGE, ranges: [span(U64_LIMIT - PAGE, PAGE)] })), 'EOVERFLOW');
  t.is(await errnoOf(raw.report({ iova: U64_LIMIT - PAGE, length: PAGE, pageSize: PAGE, bitmap: BITMAP_AT })), 'EOVERFLOW');
  t.is(await errnoOf(raw.report({ iova: 0n, length: PAGE, pageSize: 2048n, bitmap: BITMAP_AT })), 'EINVAL');
  t.is((await host.device('mlx').status()).state, 'idle');
});

both('a request other than VFIO_DEVICE_FEATURE → ENOTTY; an fd not open → ENODEV', async (t) => {
  const host = await hostFor(t, [MLX5]);
  const fd = host.open('mlx');
  t.is(await errnoOf(host.ioctl(fd, VFIO_DEVICE_FEATURE + 1, CALL_AT)), 'ENOTTY');
  t.is(await errnoOf(() => host.ioctl(fd + 100, VFIO_DEVICE_FEATURE, CALL_AT)), 'ENODEV');
});

both('open of an unknown device → ENODEV (code 19); fds are distinct per open', async (t) => {
  const host = await hostFor(t, [MLX5]);
  const error = t.throws(() => host.open('nope'), { instanceOf: VfioError });
  t.is(error?.errno, 'ENODEV');
  t.is(error?.code, 19);
  t.not(host.open('mlx'), host.open('mlx'));
  t.throws(() => host.device('nope'), { instanceOf: VfioError });
});

// ---- contract §4 rows ---------------------------------------------------------------------------

both('§4 mlx5 page size: raw START writes the chosen size back into control.page_size', async (t) => {
  const host = await hostFor(t, [{ ...MLX5, minPageSize: 8192, maxPageSize: 64 * 1024 }]);
  const fd = host.open('mlx');
  const raw = rawOn(host, fd);
  const controlAt = CALL_AT + 8;
  // 12 KiB hint: the core's strange mask lets iova 0x4000 through; mlx5 rounds down to 8 KiB.
  const ptr = putStart(raw.view, CALL_AT, { pageSize: 0x3000n, ranges: [span(0x4000n, 0xd000n)] });
  const before = new Uint8Array(host.memory).slice();
  t.is(await host.ioctl(fd, VFIO_DEVICE_FEATURE, ptr), 0);
  t.is(decodeLoggingControl(raw.view, controlAt).pageSize, 0x2000n);
  // Nothing but the 8 bytes of page_size changed.
  const after = new Uint8Array(host.memory);
  const changed = [];
  for (let i = 0; i < MEMORY_BYTES; i++) if (after[i] !== before[i]) changed.push(i);
  t.true(changed.every((i) => i >= controlAt && i < controlAt + 8) && changed.length > 0);
  t.is(await raw.stop(), 0);
  // Clamped up to the device minimum, and down to its maximum.
  t.is(await raw.start({ pageSize: PAGE, ranges: [span(0n, MiB)] }), 0);
  t.is(decodeLoggingControl(raw.view, controlAt).pageSize, 8192n);
  t.is(await raw.stop(), 0);
  t.is(await raw.start({ pageSize: MiB, ranges: [span(0n, MiB)] }), 0);
  t.is(decodeLoggingControl(raw.view, controlAt).pageSize, 64n * KiB);
  t.deepEqual((await host.device('mlx').status()).pageSize, 64n * KiB);
});

both('§4 mlx5 page size through the typed layer: startLogging resolves the chosen size', async (t) => {
  const host = await hostFor(t, [{ ...MLX5, minPageSize: 8192, maxPageSize: 64 * 1024 }]);
  const mlx = host.device('mlx');
  t.is(await mlx.startLogging({ pageSize: 0x5000n, ranges: [span(0n, MiB)] }), 0x4000n);
  await mlx.stopLogging();
  t.is(await mlx.startLogging({ pageSize: 4096, ranges: [{ iova: 0, length: 1 << 20 }] }), 8192n);
  await mlx.stopLogging();
  t.is(await mlx.startLogging({ pageSize: 1n << 30n, ranges: [span(0n, 1n << 30n)] }), 64n * KiB);
});

both('§4 pds page size: the hint unchanged; not a power of two ≥ 4096 → EINVAL (raw and typed)', async (t) => {
  const host = await hostFor(t, [PDS]);
  const fd = host.open('pds');
  const raw = rawOn(host, fd);
  t.is(await errnoOf(raw.start({ pageSize: 0x3000n, ranges: [span(0x4000n, 0xd000n)] })), 'EINVAL');
  t.is(await errnoOf(raw.start({ pageSize: 2048n, ranges: [span(0n, 2048n)] })), 'EINVAL');
  t.is((await host.device('pds').status()).state, 'idle');
  t.is(await raw.start({ pageSize: 64n * KiB, ranges: [span(0n, MiB)] }), 0);
  t.is(decodeLoggingControl(raw.view, CALL_AT + 8).pageSize, 64n * KiB);
  await raw.stop();
  const pds = host.device('pds');
  t.is(await errnoOf(pds.startLogging({ pageSize: 0x3000n, ranges: [span(0n, 0x3000n)] })), 'EINVAL');
  t.is(await pds.startLogging({ pageSize: 1n << 21n, ranges: [span(0n, 1n << 30n)] }), 1n << 21n);
});

both('§4 too many ranges: merged smallest gap first, and the gaps become tracked (mlx5, pds)', async (t) => {
  const host = await hostFor(t, [{ ...MLX5, maxRanges: 2 }, { ...PDS, maxRanges: 2 }]);
  // Gaps: 2 pages, 6 pages, 1 page → [0, 4) pages and [10, 13) pages.
  const ranges = [span(0n, PAGE), span(3n * PAGE, PAGE), span(10n * PAGE, PAGE), span(12n * PAGE, PAGE)];
  for (const name of ['mlx', 'pds']) {
    const raw = rawOn(host, host.open(name));
    t.is(await raw.start({ pageSize: PAGE, ranges }), 0);
    t.deepEqual((await host.device(name).status()).regions, [span(0n, 4n * PAGE), span(10n * PAGE, 3n * PAGE)], name);
    await host.device(name).dmaWrite(PAGE, PAGE); // in a merged gap: logged
    await host.device(name).dmaWrite(11n * PAGE, 1n);
    await host.device(name).dmaWrite(6n * PAGE, PAGE); // in the gap that stayed a gap: not logged
    t.deepEqual(await raw.reportBits(0n, 4n * PAGE), [1], name);
    t.deepEqual(await raw.reportBits(10n * PAGE, 3n * PAGE), [1], name);
  }
});

both('§4 mlx5 address-space limit: exactly 2^bits passes, more → EOPNOTSUPP (raw and typed); pds has none', async (t) => {
  const host = await hostFor(t, [{ ...MLX5, maxAddressSpaceBits: 20 }, { ...PDS, maxRanges: 1 }]);
  const raw = rawOn(host, host.open('mlx'));
  t.is(await errnoOf(raw.start({ pageSize: PAGE, ranges: [span(0n, MiB + PAGE)] })), 'EOPNOTSUPP');
  t.is((await host.device('mlx').status()).state, 'idle');
  t.is(await raw.start({ pageSize: PAGE, ranges: [span(0n, MiB)] }), 0);
  await raw.stop();
  const mlx = host.device('mlx');
  t.is(await errnoOf(mlx.startLogging({ pageSize: PAGE, ranges: [span(0n, MiB / 2n), span(4n * MiB, MiB / 2n + PAGE)] })), 'EOPNOTSUPP');
  t.is(await mlx.startLogging({ pageSize: PAGE, ranges: [span(0n, MiB / 2n), span(4n * MiB, MiB / 2n)] }), PAGE);
  t.is(await host.device('pds').startLogging({ pageSize: PAGE, ranges: [span(0n, PAGE), span(1n << 40n, PAGE)] }), PAGE);
});

both('§4 START while active → EINVAL (raw and typed); the running log is kept', async (t) => {
  const host = await hostFor(t, [MLX5, PDS]);
  for (const name of ['mlx', 'pds']) {
    const dev = host.device(name);
    const raw = rawOn(host, host.open(name));
    t.is(await raw.start({ pageSize: PAGE, ranges: [span(0n, MiB)] }), 0);
    await dev.dmaWrite(5n * PAGE, 1n);
    t.is(await errnoOf(raw.start({ pageSize: PAGE, ranges: [span(2n * MiB, MiB)] })), 'EINVAL', name);
    t.is(await errnoOf(dev.startLogging({ pageSize: PAGE, ranges: [span(0n, MiB)] })), 'EINVAL', name);
    t.deepEqual((await dev.status()).regions, [span(0n, MiB)]);
    t.deepEqual(await raw.reportBits(0n, 16n * PAGE), [5], name);
  }
});

both('§4 STOP when not active → 0, again and again (raw and typed); none → ENOTTY', async (t) => {
  const host = await hostFor(t);
  for (const name of ['mlx', 'pds']) {
    const raw = rawOn(host, host.open(name));
    t.is(await raw.stop(), 0);
    t.is(await raw.stop(), 0);
    await host.device(name).stopLogging();
    t.is(await raw.start({ pageSize: PAGE, ranges: [span(0n, MiB)] }), 0);
    t.is(await raw.stop(), 0);
    t.is(await raw.stop(), 0);
    t.is((await host.device(name).status()).state, 'idle');
  }
  t.is(await errnoOf(rawOn(host, host.open('none')).stop()), 'ENOTTY');
  t.is(await errnoOf(host.device('none').stopLogging()), 'ENOTTY');
});

both('§4 REPORT when not active → EINVAL, before START and after STOP (raw and typed)', async (t) => {
  const host = await hostFor(t, [MLX5, PDS]);
  for (const name of ['mlx', 'pds']) {
    const dev = host.device(name);
    const raw = rawOn(host, host.open(name));
    const report = { iova: 0n, length: PAGE, pageSize: PAGE, bitmap: BITMAP_AT };
    t.is(await errnoOf(raw.report(report)), 'EINVAL', name);
    t.is(await errnoOf(dev.report(report)), 'EINVAL', name);
    await dev.startLogging({ pageSize: PAGE, ranges: [span(0n, MiB)] });
    await dev.dmaWrite(0n, 1n);
    await dev.stopLogging();
    host.zero(BITMAP_AT, 8);
    t.is(await errnoOf(raw.report(report)), 'EINVAL', name);
    t.is(await errnoOf(dev.report(report)), 'EINVAL', name);
    t.deepEqual(setBits(host.memory, BITMAP_AT, 64), [], 'a refused REPORT sets nothing');
  }
});

both('§4 none: START, STOP and REPORT → ENOTTY (raw and typed)', async (t) => {
  const host = await hostFor(t, [NONE]);
  const raw = rawOn(host, host.open('none'));
  const dev = host.device('none');
  t.is(await errnoOf(raw.start({ pageSize: PAGE, ranges: [span(0n, MiB)] })), 'ENOTTY');
  t.is(await errnoOf(raw.stop()), 'ENOTTY');
  t.is(await errnoOf(raw.report({ iova: 0n, length: PAGE, pageSize: PAGE, bitmap: BITMAP_AT })), 'ENOTTY');
  t.is(await errnoOf(dev.startLogging({ pageSize: PAGE, ranges: [span(0n, MiB)] })), 'ENOTTY');
  t.is(await errnoOf(dev.report({ iova: 0n, length: PAGE, pageSize: PAGE, bitmap: BITMAP_AT })), 'ENOTTY');
  await dev.dmaWrite(0n, PAGE); // a device without logging still does DMA
  t.is(dev.logDescriptor(), null);
});

both('§4 REPORT outside the tracked ranges: pds EINVAL unless inside one region; mlx5 reports clean', async (t) => {
  const host = await hostFor(t, [MLX5, PDS]);
  const ranges = [span(16n * PAGE, 16n * PAGE), span(64n * PAGE, 16n * PAGE)];
  for (const name of ['mlx', 'pds']) {
    await host.device(name).startLogging({ pageSize: PAGE, ranges });
    for (const p of [16n, 31n, 64n, 79n]) await host.device(name).dmaWrite(p * PAGE, 1n);
  }
  const pds = rawOn(host, host.open('pds'));
  const pdsTyped = host.device('pds');
  const outside = [
    [0n, 8n * PAGE], // below
    [8n * PAGE, 16n * PAGE], // straddles a region start
    [24n * PAGE, 16n * PAGE], // straddles a region end
    [32n * PAGE, 32n * PAGE], // the gap, exactly
    [16n * PAGE, 64n * PAGE], // spans both regions
  ] as const;
  for (const [iova, length] of outside) {
    t.is(await errnoOf(pds.reportBits(iova, length)), 'EINVAL', `pds [${iova}, +${length})`);
    t.is(await errnoOf(pdsTyped.report({ iova, length, pageSize: PAGE, bitmap: BITMAP_AT })), 'EINVAL');
  }
  t.deepEqual(await pds.reportBits(16n * PAGE, 16n * PAGE), [0, 15], 'a refused REPORT cleared nothing');
  t.deepEqual(await pds.reportBits(72n * PAGE, 8n * PAGE), [7]);

  const mlx = rawOn(host, host.open('mlx'));
  t.deepEqual(await mlx.reportBits(0n, 8n * PAGE), []);
  t.deepEqual(await mlx.reportBits(32n * PAGE, 32n * PAGE), []);
  t.deepEqual(await mlx.reportBits(8n * PAGE, 80n * PAGE), [8, 23, 56, 71]);
  t.is(await host.device('mlx').report({ iova: 0n, length: 1n << 30n, pageSize: 1n << 30n, bitmap: BITMAP_AT }), 0);
});

both('§4 injected tracker error: mlx5 fails every REPORT with EIO until STOP then START', async (t) => {
  const host = await hostFor(t, [MLX5]);
  const dev = host.device('mlx');
  const raw = rawOn(host, dev.fd);
  const ranges = [span(0n, MiB)];
  await dev.startLogging({ pageSize: PAGE, ranges });
  await dev.dmaWrite(3n * PAGE, 1n);
  await dev.injectFault({ kind: 'tracker-error' });
  t.is(await errnoOf(raw.reportBits(0n, MiB)), 'EIO');
  t.is(await errnoOf(raw.reportBits(0n, MiB)), 'EIO');
  t.is(await errnoOf(dev.report({ iova: 0n, length: MiB, pageSize: PAGE, bitmap: BITMAP_AT })), 'EIO');
  t.is(await errnoOf(raw.start({ pageSize: PAGE, ranges })), 'EINVAL', 'still active');
  t.is(await raw.stop(), 0);
  t.is(await errnoOf(raw.reportBits(0n, MiB)), 'EINVAL', 'idle now');
  t.is(await raw.start({ pageSize: PAGE, ranges }), 0);
  await dev.dmaWrite(7n * PAGE, 1n);
  t.deepEqual(await raw.reportBits(0n, MiB), [7], 'a fresh log after the restart');
});

both('§4 injected tracker error: pds fails that one REPORT with EIO', async (t) => {
  const host = await hostFor(t, [PDS]);
  const dev = host.device('pds');
  const raw = rawOn(host, dev.fd);
  await dev.startLogging({ pageSize: PAGE, ranges: [span(0n, MiB)] });
  await dev.injectFault({ kind: 'tracker-error' });
  t.is(await errnoOf(raw.reportBits(0n, MiB)), 'EIO');
  await dev.dmaWrite(9n * PAGE, 1n);
  t.deepEqual(await raw.reportBits(0n, MiB), [9]);
  await dev.injectFault({ kind: 'tracker-error' });
  t.is(await errnoOf(dev.report({ iova: 0n, length: MiB, pageSize: PAGE, bitmap: BITMAP_AT })), 'EIO');
  t.is(await dev.report({ iova: 0n, length: MiB, pageSize: PAGE, bitmap: BITMAP_AT }), 0);
  t.is((await dev.status()).state, 'logging');
});

both('the typed layer goes through the same checks: more than LOG_MAX_RANGES ranges → E2BIG', async (t) => {
  const host = await hostFor(t, [MLX5]);
  const ranges = Array.from({ length: 257 }, (_, i) => span(BigInt(2 * i) * PAGE, PAGE));
  t.is(await errnoOf(host.device('mlx').startLogging({ pageSize: PAGE, ranges })), 'E2BIG');
  t.is(await host.device('mlx').startLogging({ pageSize: PAGE, ranges: ranges.slice(0, 256) }), PAGE);
  t.is((await host.device('mlx').status()).regions.length, 4, 'merged down to the device maximum');
});

both('a log larger than maxLogBytes → ENOMEM at START, and the device stays idle', async (t) => {
  const host = await hostFor(t, [PDS], { maxLogBytes: 1 << 16 });
  const pds = host.device('pds');
  t.is(await errnoOf(pds.startLogging({ pageSize: PAGE, ranges: [span(0n, 1n << 40n)] })), 'ENOMEM');
  t.is((await pds.status()).state, 'idle');
  t.is(await pds.startLogging({ pageSize: PAGE, ranges: [span(0n, 1n << 30n)] }), PAGE); // 32 KiB of log
});

test('createHost refuses a pds device claiming more than 255 ranges (a u8), before any thread starts', async (t) => {
  await t.throwsAsync(createHost({ logLevel: 'silent', devices: [{ ...PDS, maxRanges: 256 }] }), { instanceOf: DmalogError, code: 'DMALOG_BAD_OPTION' });
});

// ---- EFAULT and write-back -------------------------------------------------------------------

both('§3 START EFAULT paths change nothing: a later valid round behaves as fresh', async (t) => {
  const host = await hostFor(t, [MLX5]);
  const dev = host.device('mlx');
  const raw = rawOn(host, dev.fd);
  const ranges = [span(0n, MiB)];
  // The header, then the control struct, then the range array, each straddling the end.
  t.is(await errnoOf(host.ioctl(dev.fd, VFIO_DEVICE_FEATURE, MEMORY_BYTES - 6)), 'EFAULT');
  t.is(await errnoOf(host.ioctl(dev.fd, VFIO_DEVICE_FEATURE, putHeader(raw.view, MEMORY_BYTES - 16, VFIO_DEVICE_FEATURE_SET | F_START, 24))), 'EFAULT');
  t.is(await errnoOf(raw.start({ pageSize: PAGE, ranges: [span(0n, PAGE), span(2n * PAGE, PAGE)], rangesAt: MEMORY_BYTES - 24 })), 'EFAULT');
  t.is(await errnoOf(raw.start({ pageSize: PAGE, ranges, rangesAt: U64_LIMIT - 8n })), 'EFAULT');
  t.deepEqual(await dev.status(), { state: 'idle', pageSize: null, regions: [], reports: 0 });
  t.is(dev.logDescriptor(), null);
  await dev.dmaWrite(PAGE, 1n); // while idle: not logged
  t.is(await raw.start({ pageSize: PAGE, ranges }), 0);
  await dev.dmaWrite(2n * PAGE, 1n);
  t.deepEqual(await raw.reportBits(0n, MiB), [2]);
});

both('§3.7 REPORT with a bitmap that does not fit → EFAULT before anything is cleared', async (t) => {
  const host = await hostFor(t, [MLX5]);
  const dev = host.device('mlx');
  const raw = rawOn(host, dev.fd);
  await dev.startLogging({ pageSize: PAGE, ranges: [span(0n, MiB)] });
  await dev.dmaWrite(4n * PAGE, 1n);
  t.is(await errnoOf(raw.report({ iova: 0n, length: MiB, pageSize: PAGE, bitmap: MEMORY_BYTES - 8 })), 'EFAULT');
  t.deepEqual(await raw.reportBits(0n, MiB), [4]);
});

both('§3.8 REPORT writes nothing but bits: the call structs and every other byte stay as they were', async (t) => {
  const host = await hostFor(t, [{ ...MLX5, minPageSize: 16384 }]);
  const dev = host.device('mlx');
  const raw = rawOn(host, dev.fd);
  await raw.start({ pageSize: PAGE, ranges: [span(0n, MiB)] });
  await dev.dmaWrite(20n * KiB, 1n); // granule [16K, 32K)
  const bytes = new Uint8Array(host.memory);
  const bitmapAt = BITMAP_AT + 3; // unaligned
  // Canary everywhere, the bitmap included (its bits are the user's pre-set ones).
  for (let i = 0; i < MEMORY_BYTES - 8192; i++) bytes[i] = (i * 37) & 0xff;
  const call = putReport(raw.view, CALL_AT, { iova: 2n * KiB, length: 9n * PAGE + 1n, pageSize: PAGE, bitmap: bitmapAt });
  const before = bytes.slice();
  t.is(await host.ioctl(dev.fd, VFIO_DEVICE_FEATURE, call), 0);
  // The granule [16K, 32K) against bits from 2K: bits 3..7 (10 bits in the window).
  const expected = before.slice();
  for (const n of [3, 4, 5, 6, 7]) expected[bitmapAt + (n >>> 3)]! |= 1 << (n & 7);
  t.is(firstDifference(bytes, expected), -1);
  t.not(firstDifference(expected, before), -1, 'the REPORT had bits to set');
});

// ---- Several devices, one bitmap --------------------------------------------------------------

both('§5 several devices REPORT concurrently into one bitmap with pre-set user bits: the exact union', async (t) => {
  const host = await hostFor(t, [
    { ...MLX5, name: 'a' },
    { ...MLX5, name: 'b', minPageSize: 16384 },
    { ...PDS, name: 'c' },
  ]);
  const devs = ['a', 'b', 'c'].map((n) => host.device(n));
  const pages = 4096; // 16 MiB at 4 KiB: 512 bytes of bitmap
  const window = { iova: 0n, length: BigInt(pages) * PAGE, pageSize: PAGE, bitmap: BITMAP_AT };
  for (const d of devs) await d.startLogging({ pageSize: PAGE, ranges: [span(0n, window.length)] });
  for (let round = 0; round < 4; round++) {
    const preset = pagesOf(0, pages).filter((p) => (p * 2654435761 + round) % 97 === 0);
    // Each device writes its own pseudo-random pages; many share u32 words with the others'.
    const written = devs.map((_, k) => pagesOf(0, pages).filter((p) => (p * (k + 3) + round * 7) % 11 === 0));
    await Promise.all(devs.map((d, k) => Promise.all(written[k]!.map((p) => d.dmaWrite(BigInt(p) * PAGE + 100n, 1n)))));
    host.zero(BITMAP_AT, pages / 8);
    presetBits(host.memory, BITMAP_AT, preset);
    const counts = await Promise.all(devs.map((d) => d.report(window)));
    const union = new Set(preset);
    written[0]!.forEach((p) => union.add(p));
    written[1]!.forEach((p) => { const g = p & ~3; for (let i = 0; i < 4; i++) union.add(g + i); }); // 16 KiB granules
    written[2]!.forEach((p) => union.add(p));
    t.deepEqual(setBits(host.memory, BITMAP_AT, pages), [...union].sort((x, y) => x - y), `round ${round}`);
    t.is(counts[0], written[0]!.length);
    t.is(counts[1], new Set(written[1]!.map((p) => p & ~3)).size * 4);
    t.is(counts[2], written[2]!.length);
  }
});

// ---- DMA ----------------------------------------------------------------------------------------

both('§4 DMA reads are never logged; writes outside the START ranges are not logged', async (t) => {
  const host = await hostFor(t, [MLX5, PDS]);
  for (const name of ['mlx', 'pds']) {
    const dev = host.device(name);
    const raw = rawOn(host, dev.fd);
    await dev.startLogging({ pageSize: PAGE, ranges: [span(MiB, MiB)] });
    await dev.dmaRead(MiB, MiB);
    await host.dmaRead(dev.fd, MiB + PAGE, 1n);
    await dev.dmaWrite(0n, MiB); // just below
    await dev.dmaWrite(2n * MiB, MiB); // just above
    t.deepEqual(await raw.reportBits(MiB, MiB), [], name);
    await dev.dmaWrite(MiB - 1n, 2n); // straddles the start: only the inside page
    t.deepEqual(await raw.reportBits(MiB, MiB), [0], name);
  }
});

both('dmaWrite resolves once the write is in the log: a REPORT issued after it reports it', async (t) => {
  const host = await hostFor(t, [MLX5]);
  const dev = host.device('mlx');
  const raw = rawOn(host, dev.fd);
  await dev.startLogging({ pageSize: PAGE, ranges: [span(0n, MiB)] });
  for (let p = 0; p < 32; p++) {
    await dev.dmaWrite(BigInt(p) * PAGE + 7n, 1n);
    t.deepEqual(await raw.reportBits(0n, MiB), [p]);
  }
});

both('DMA arguments: non-bigint, negative, zero length → EINVAL; an end past 2^64 → EOVERFLOW', async (t) => {
  const host = await hostFor(t, [MLX5]);
  const fd = host.open('mlx');
  t.is(await errnoOf(host.dmaWrite(fd, 0n, 0n)), 'EINVAL');
  t.is(await errnoOf(host.dmaWrite(fd, -1n, 1n)), 'EINVAL');
  t.is(await errnoOf(host.dmaWrite(fd, 0 as unknown as bigint, 1n)), 'EINVAL');
  t.is(await errnoOf(host.dmaRead(fd, U64_LIMIT - 1n, 2n)), 'EOVERFLOW');
  t.is(await errnoOf(host.dmaWrite(fd, U64_LIMIT - 1n, 1n)), 'EOVERFLOW'); // like a range, the exclusive end 2^64 fails
  t.is(await errnoOf(host.dmaWrite(fd, U64_LIMIT - 2n, 1n)), 0);
});

// ---- Race: DMA from another thread against a stream of REPORTs -----------------------------------

test('race: DMA writes from a separate thread against a stream of REPORTs; every write is found', async (t) => {
  const host = await hostFor(t, [MLX5]);
  const dev = host.device('mlx');
  const iova = 1n << 30n;
  const pages = 32768; // 128 MiB at 4 KiB, each page written once
  const length = BigInt(pages) * PAGE;
  await dev.startLogging({ pageSize: PAGE, ranges: [span(iova, length)] });
  const control = new SharedArrayBuffer(CONTROL_SLOTS * 4);
  const slots = new Int32Array(control);
  const data: DmaWriterData = { log: dev.logDescriptor()!, control, iova, pageSize: PAGE, pages };
  const writer = new Worker(new URL('../fixtures/dma-writer.js', import.meta.url), { workerData: data });
  t.teardown(async () => {
    Atomics.store(slots, STOP_WRITING, 1);
    await writer.terminate();
  });
  let total = -1;
  const finished = new Promise<void>((resolve, reject) => {
    writer.once('message', (n: number) => { total = n; resolve(); });
    writer.once('error', reject);
  });
  while (Atomics.load(slots, WRITES_DONE) === 0) await sleep(1);

  const raw = rawOn(host, dev.fd);
  const reports: Array<{ doneBefore: number; doneAfter: number; bits: Set<number> }> = [];
  const reportOnce = async () => {
    const doneBefore = Atomics.load(slots, WRITES_DONE);
    const bits = new Set(await raw.reportBits(iova, length));
    reports.push({ doneBefore, doneAfter: Atomics.load(slots, WRITES_DONE), bits });
  };
  while (total < 0) await reportOnce();
  await finished;
  await reportOnce(); // after the last write: catches whatever is left

  t.is(total, pages);
  t.true(reports.some((r) => r.doneBefore > 0 && r.doneBefore < total), 'REPORTs ran while writes were in flight');
  // Write i is complete before report k starts when doneBefore(k) > i; it cannot be in a report
  // that ended before it started (doneAfter < i). Some report in between must hold its page.
  let lost = 0;
  let k0 = 0;
  for (let i = 0; i < total; i++) {
    while (reports[k0]!.doneAfter < i) k0++;
    const page = pageOfWrite(i);
    let found = false;
    for (let k = k0; k < reports.length && !found; k++) {
      found = reports[k]!.bits.has(page);
      if (reports[k]!.doneBefore > i) break;
    }
    if (!found) lost++;
  }
  t.log(`${total} writes, ${reports.length} REPORTs`);
  t.is(lost, 0, `${lost} of ${total} writes never reported`);
  // Each page was written once, so it is reported exactly once across the whole stream.
  t.is(reports.reduce((sum, r) => sum + r.bits.size, 0), pages);
});

// ---- close -------------------------------------------------------------------------------------

/** OS threads of this process (Linux); worker threads are among them. */
function osThreads(): number {
  return Number(/Threads:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1]);
}

test.serial('close() ends every tracker thread; calls after close are rejected; close is idempotent', async (t) => {
  const live = new Set<number>();
  let created = 0;
  const hook = createHook({
    init(id, type) { if (type === 'WORKER') { live.add(id); created++; } },
    destroy(id) { live.delete(id); },
  }).enable();
  t.teardown(() => { hook.disable(); });
  const threadsBefore = osThreads();
  const host = await hostFor(t);
  t.is(created, 3, 'one thread per device');
  t.is(osThreads(), threadsBefore + 3);
  const dev = host.device('mlx');
  await dev.startLogging({ pageSize: PAGE, ranges: [span(0n, MiB)] });
  await dev.dmaWrite(0n, PAGE);
  await host.close();
  t.is(osThreads(), threadsBefore, 'every tracker thread has exited once close() resolves');
  // The Worker handles' destroy hooks run a turn or so later.
  for (let turn = 0; live.size > 0 && turn < 100; turn++) await new Promise((resolve) => setImmediate(resolve));
  t.is(live.size, 0, 'no worker handle left');

  const closed = { instanceOf: DmalogError, code: 'DMALOG_CLOSED' };
  await t.throwsAsync(host.ioctl(dev.fd, VFIO_DEVICE_FEATURE, CALL_AT), closed);
  await t.throwsAsync(host.dmaWrite(dev.fd, 0n, PAGE), closed);
  await t.throwsAsync(dev.report({ iova: 0n, length: PAGE, pageSize: PAGE, bitmap: BITMAP_AT }), closed);
  await t.throwsAsync(dev.stopLogging(), closed);
  await t.throwsAsync(() => dev.status(), closed);
  await t.throwsAsync(() => dev.probe(), closed);
  t.throws(() => host.open('mlx'), closed);
  t.throws(() => host.device('pds'), closed);
  t.throws(() => host.alloc(8), closed);
  await host.close();
  t.is(live.size, 0);
});

test.serial('createHost past a bound (4 GiB + 4 KiB of user memory, a 2^31 ms deadline, a 4 GiB + 1 log cap) → DMALOG_BAD_OPTION, and no thread is left', async (t) => {
  const threadsBefore = osThreads();
  for (const bad of [{ userMemoryBytes: 2 ** 32 + 4096 }, { callTimeoutMs: 2 ** 31 }, { maxLogBytes: 2 ** 32 + 1 }]) {
    const made = createHost({ logLevel: 'silent', devices: [MLX5, PDS], ...bad });
    // Had it been accepted, the host must not outlive the test.
    made.then((host) => host.close(), () => {});
    const error = await t.throwsAsync(made, { instanceOf: DmalogError }, JSON.stringify(bad));
    t.is(error?.code, 'DMALOG_BAD_OPTION', JSON.stringify(bad));
    t.is(osThreads(), threadsBefore, `no thread left after ${JSON.stringify(bad)}`);
  }
});

test.serial('createHost failing once its threads exist (every tracker past its deadline) ends them all before it rejects', async (t) => {
  const threadsBefore = osThreads();
  // 1 ms is far less than a thread takes to load: each spawn fails after its thread was created.
  const made = createHost({ logLevel: 'silent', callTimeoutMs: 1, devices: [MLX5, PDS, NONE] });
  made.then((host) => host.close(), () => {});
  t.is(await errnoOf(made), 'ETIMEDOUT');
  t.is(osThreads(), threadsBefore, 'every tracker thread has exited once createHost rejects');
});

test('exactly 4 GiB of user memory works: structs and a bitmap above 2^31, the last 8 bytes readable, past the end EFAULT', async (t) => {
  const host = await hostFor(t, [MLX5], { userMemoryBytes: 2 ** 32 });
  t.is(host.memory.byteLength, 2 ** 32);
  const dev = host.device('mlx');
  await dev.startLogging({ pageSize: PAGE, ranges: [span(0n, MiB)] });
  await dev.dmaWrite(3n * PAGE, 1n);
  await dev.dmaWrite(200n * PAGE, 1n);
  const bitmap = host.alloc(32);
  t.true(bitmap > 2 ** 32 - (64 << 10), 'allocated from the very top');
  host.zero(bitmap, 32);
  t.is(await dev.report({ iova: 0n, length: MiB, pageSize: PAGE, bitmap }), 2);
  t.deepEqual(setBits(host.memory, bitmap, 256), [3, 200]);
  const top = 2 ** 32 - 8;
  t.is(await errnoOf(host.ioctl(dev.fd, VFIO_DEVICE_FEATURE, putHeader(new DataView(host.memory), top, PROBE | VFIO_DEVICE_FEATURE_SET | F_START))), 0);
  t.is(await errnoOf(host.ioctl(dev.fd, VFIO_DEVICE_FEATURE, 2 ** 32 - 4)), 'EFAULT');
  t.is(await errnoOf(host.ioctl(dev.fd, VFIO_DEVICE_FEATURE, 2n ** 32n)), 'EFAULT');
});

both('ioctl pointers that name no user address (0.5, NaN, null, undefined, ±Infinity, \'12\', negative, past 2^64) → EFAULT, as does featureCall', async (t) => {
  const host = await hostFor(t, [MLX5]);
  const fd = host.open('mlx');
  // A valid START header at 12, so '12' would succeed if it were taken as a number.
  putStart(new DataView(host.memory), 12, { pageSize: PAGE, ranges: [span(0n, MiB)] });
  const bad: unknown[] = [0.5, NaN, null, undefined, Infinity, -Infinity, '12', {}, -1, -4096n, 1n << 64n, (1n << 64n) + 12n, 2 ** 64];
  for (const ptr of bad) {
    t.is(await errnoOf(host.ioctl(fd, VFIO_DEVICE_FEATURE, ptr as number)), 'EFAULT', String(ptr));
    t.is(await errnoOf(host.featureCall(fd, VFIO_DEVICE_FEATURE, ptr as number)), 'EFAULT', String(ptr));
  }
  t.is((await host.device('mlx').status()).state, 'idle', 'nothing reached the device');
  t.is(await errnoOf(host.ioctl(fd, null as unknown as number, CALL_AT)), 'ENOTTY', 'a request that is not a number is just another request');
  t.is(await errnoOf(host.ioctl(fd, VFIO_DEVICE_FEATURE, 12n)), 0, 'the same call at an integer pointer works');
});

both('host.alloc with a bad size or align and host.zero outside user memory → DMALOG_BAD_OPTION; nothing moves', async (t) => {
  const host = await hostFor(t, [MLX5]);
  const badOption = { instanceOf: DmalogError, code: 'DMALOG_BAD_OPTION' };
  for (const bytes of [0, -8, 1.5, NaN, Infinity, '8']) t.throws(() => host.alloc(bytes as number), badOption, `bytes ${String(bytes)}`);
  for (const align of [0, -8, 3, 12, 0.5, NaN, Infinity, 2 ** 53, '8']) t.throws(() => host.alloc(8, align as number), badOption, `align ${String(align)}`);
  const first = host.alloc(8, 4096);
  t.is(first, MEMORY_BYTES - 4096, 'the failed allocations took nothing');
  t.is(host.alloc(16, 2 ** 32), 0, 'an align above the memory size rounds down to 0');
  t.is(errnoOfSync(() => host.alloc(8)), 'ENOMEM');
  const zero: Array<[unknown, unknown]> = [[-1, 8], [0, -1], [MEMORY_BYTES - 4, 8], [MEMORY_BYTES + 1, 0], [0.5, 8], [0, NaN], [NaN, 0], [null, 8], [0, 2 ** 60]];
  for (const [at, bytes] of zero) t.throws(() => host.zero(at as number, bytes as number), badOption, `zero(${String(at)}, ${String(bytes)})`);
  const bytes = new Uint8Array(host.memory);
  bytes[MEMORY_BYTES - 1] = 7;
  host.zero(MEMORY_BYTES - 8, 8);
  t.is(bytes[MEMORY_BYTES - 1], 0, 'the last byte can be zeroed');
  host.zero(MEMORY_BYTES, 0);
});

function errnoOfSync(call: () => unknown): string {
  try {
    call();
    return 'ok';
  } catch (error) {
    return error instanceof VfioError ? error.errno : String(error);
  }
}

// ---- transports -----------------------------------------------------------------------------

test.serial('options.transport: the default is a worker thread per device; in-thread runs the drivers here, no thread started', async (t) => {
  const threadsBefore = osThreads();
  const here = await hostFor(t, [MLX5, PDS], { transport: 'in-thread' });
  t.is(osThreads(), threadsBefore, 'no thread for an in-thread host');
  t.deepEqual(here.deviceNames.map((n) => here.inspect(here.open(n)).transport), ['in-thread', 'in-thread']);
  const threads = await hostFor(t, [MLX5, PDS]);
  t.is(osThreads(), threadsBefore + 2);
  t.deepEqual(threads.deviceNames.map((n) => threads.inspect(threads.open(n)).transport), ['worker', 'worker']);
});

test('in-thread faults map a thread\'s death onto the driver: die → ENODEV, a throw mid-REPORT → EIO (and the call behind it), then ENODEV', async (t) => {
  const host = await hostFor(t, [MLX5, PDS], { transport: 'in-thread' });
  const [mlx, pds] = [host.device('mlx'), host.device('pds')];
  for (const d of [mlx, pds]) await d.startLogging({ pageSize: PAGE, ranges: [span(0n, MiB)] });
  await mlx.injectFault({ kind: 'die' });
  t.like(host.inspect(mlx.fd), { state: 'gone', dead: 'ENODEV' });
  t.is(await errnoOf(mlx.status()), 'ENODEV');
  await pds.injectFault({ kind: 'throw-in-report' });
  const window = { iova: 0n, length: MiB, pageSize: PAGE, bitmap: BITMAP_AT };
  const [report, queued] = [pds.report(window), pds.status()];
  t.deepEqual([await errnoOf(report), await errnoOf(queued)], ['EIO', 'EIO']);
  t.is(host.inspect(pds.fd).dead, 'EIO');
  t.is(await errnoOf(pds.report(window)), 'ENODEV');
  await host.terminateTracker(pds.fd);
  t.is(host.inspect(pds.fd).dead, 'EIO', 'the first cause stays');
});

test('in-thread: an uncaught exception (a throw fault) ends the driver after its answer; terminateTracker fails pending calls', async (t) => {
  const host = await hostFor(t, [MLX5, PDS], { transport: 'in-thread' });
  const [mlx, pds] = [host.device('mlx'), host.device('pds')];
  await mlx.injectFault({ kind: 'throw' });
  t.is(host.inspect(mlx.fd).dead, null, 'answered first');
  await sleep(5);
  t.is(host.inspect(mlx.fd).dead, 'ENODEV');
  const pending = pds.status();
  await host.terminateTracker(pds.fd);
  t.is(await errnoOf(pending), 'ENODEV');
  t.is(await errnoOf(pds.probe()), 'ENODEV');
});

both('host.inspect(fd): a frozen snapshot of the host\'s view: name, profile, state, page size and ranges; later changes do not show in it', async (t) => {
  const host = await hostFor(t, [{ ...MLX5, minPageSize: 8192 }]);
  const dev = host.device('mlx');
  const idle = host.inspect(dev.fd);
  t.deepEqual(idle, { fd: dev.fd, name: 'mlx', profile: 'mlx5', transport: (t.context as Context).transport, state: 'idle', dead: null, logging: false, pageSize: null, ranges: [] });
  await dev.startLogging({ pageSize: PAGE, ranges: [span(MiB, MiB), span(0n, 64n * KiB)] });
  const logging = host.inspect(dev.fd);
  t.like(logging, { state: 'logging', logging: true, pageSize: 8192n });
  t.deepEqual(logging.ranges, [span(0n, 64n * KiB), span(MiB, MiB)], 'the ranges the device tracks, sorted');
  t.true(Object.isFrozen(logging) && Object.isFrozen(logging.ranges) && Object.isFrozen(logging.ranges[0]));
  t.throws(() => { (logging as { logging: boolean }).logging = false; }, { instanceOf: TypeError });
  await dev.stopLogging();
  t.is(logging.state, 'logging', 'a snapshot does not follow the device');
  t.like(host.inspect(dev.fd), { state: 'idle', logging: false });
  t.is(await errnoOf(() => host.inspect(dev.fd + 100)), 'ENODEV');
});

// ---- close(fd), free ------------------------------------------------------------------------

both('close(fd): that fd is EBADF from then on (ioctl, DMA, inspect, a second close); other fds on the device work', async (t) => {
  const host = await hostFor(t, [MLX5]);
  const [fd, other] = [host.open('mlx'), host.open('mlx')];
  await host.close(fd);
  const raw = rawOn(host, fd);
  t.deepEqual(await Promise.all([
    errnoOf(raw.probe(VFIO_DEVICE_FEATURE_SET | F_START)),
    errnoOf(raw.start({ pageSize: PAGE, ranges: [span(0n, MiB)] })),
    errnoOf(host.dmaWrite(fd, 0n, PAGE)),
    errnoOf(host.dmaRead(fd, 0n, PAGE)),
    errnoOf(() => host.inspect(fd)),
    errnoOf(host.close(fd)),
  ]), ['EBADF', 'EBADF', 'EBADF', 'EBADF', 'EBADF', 'EBADF']);
  t.is(await errnoOf(host.close(other + 100)), 'EBADF', 'closing an fd never opened');
  t.is(await errnoOf(host.ioctl(other + 100, VFIO_DEVICE_FEATURE, CALL_AT)), 'ENODEV', 'calls on an fd never opened stay ENODEV');
  t.is(await errnoOf(rawOn(host, other).start({ pageSize: PAGE, ranges: [span(0n, MiB)] })), 0);
  t.like(host.inspect(other), { name: 'mlx', state: 'logging', logging: true, pageSize: PAGE });
  t.not(host.open('mlx'), fd, 'a closed fd number is not handed out again');
});

both('closing the last fd of a logging device stops its logging; while another fd is open it keeps logging', async (t) => {
  const host = await hostFor(t, [MLX5]);
  const [a, b] = [host.open('mlx'), host.open('mlx')];
  await rawOn(host, a).start({ pageSize: PAGE, ranges: [span(0n, MiB)] });
  await host.dmaWrite(b, 5n * PAGE, 1n);
  await host.close(a);
  t.true(host.inspect(b).logging, 'fd b still open: the device logs on');
  t.deepEqual(await rawOn(host, b).reportBits(0n, 16n * PAGE), [5]);
  await host.close(b);
  const c = host.open('mlx');
  t.like(host.inspect(c), { state: 'idle', logging: false, pageSize: null, ranges: [] });
  const dev = host.device('mlx');
  t.is((await dev.status()).state, 'idle', 'the driver was STOPped');
  t.is(await errnoOf(rawOn(host, c).report({ iova: 0n, length: 16n * PAGE, pageSize: PAGE, bitmap: BITMAP_AT })), 'EINVAL', 'REPORT when idle');
  t.is(await errnoOf(rawOn(host, c).start({ pageSize: PAGE, ranges: [span(0n, MiB)] })), 0, 'and it STARTs again');
});

both('closing the last fd while its START is in flight: the START returns 0, then logging stops (no device left logging with no fd)', async (t) => {
  const host = await hostFor(t, [MLX5]);
  const fd = host.open('mlx');
  const start = rawOn(host, fd).start({ pageSize: PAGE, ranges: [span(0n, MiB)] });
  const close = host.close(fd);
  t.is(await start, 0, 'the call held the file: it completes as the kernel\'s would');
  await close;
  const again = host.open('mlx');
  t.like(host.inspect(again), { state: 'idle', logging: false }, 'close stopped the logging START began');
  t.is((await host.device('mlx').status()).state, 'idle', 'the driver was STOPped');
  t.is(await errnoOf(rawOn(host, again).start({ pageSize: PAGE, ranges: [span(0n, MiB)] })), 0, 'and it STARTs again');
});

both('closing the last fd while another fd is reopened meanwhile keeps the device logging', async (t) => {
  const host = await hostFor(t, [MLX5]);
  const fd = host.open('mlx');
  await rawOn(host, fd).start({ pageSize: PAGE, ranges: [span(0n, MiB)] });
  const report = rawOn(host, fd).report({ iova: 0n, length: 64n * PAGE, pageSize: PAGE, bitmap: BITMAP_AT });
  const close = host.close(fd);
  const other = host.open('mlx');
  await Promise.all([report, close]);
  t.true(host.inspect(other).logging, 'the device never reached an open count of 0');
});

both('host.device(name) after its fd was closed opens a new one', async (t) => {
  const host = await hostFor(t, [MLX5]);
  const first = host.device('mlx');
  t.is(host.device('mlx'), first, 'one handle while its fd is open');
  await host.close(first.fd);
  const second = host.device('mlx');
  t.not(second.fd, first.fd);
  t.is(await errnoOf(first.probe()), 'EBADF');
  t.true(await second.probe());
});

both('host.free gives memory back to host.alloc; a double free or a foreign pointer → DMALOG_BAD_OPTION', async (t) => {
  const host = await hostFor(t, [MLX5]);
  const badOption = { instanceOf: DmalogError, code: 'DMALOG_BAD_OPTION' };
  const whole = host.alloc(MEMORY_BYTES);
  t.is(whole, 0);
  t.is(errnoOfSync(() => host.alloc(8)), 'ENOMEM');
  host.free(whole);
  t.throws(() => host.free(whole), badOption, 'double free');
  const small = host.alloc(64);
  t.is(small, MEMORY_BYTES - 64, 'from the top again');
  t.throws(() => host.free(small + 8), badOption, 'inside an allocation is not one');
  t.throws(() => host.free(CALL_AT), badOption, 'never allocated');
  host.free(small);
  t.is(host.alloc(MEMORY_BYTES), 0, 'everything coalesced back');
  await host.close();
  t.throws(() => host.free(0), { instanceOf: DmalogError, code: 'DMALOG_CLOSED' });
  t.throws(() => host.alloc(8), { instanceOf: DmalogError, code: 'DMALOG_CLOSED' });
  t.throws(() => host.zero(0, 8), { instanceOf: DmalogError, code: 'DMALOG_CLOSED' });
});
