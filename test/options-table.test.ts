// The options table: for every bounded option of createHost, new Coordinator, runFuzz, migrate and
// startVfioUserServer, new CpuDirtyTracker,
// the lowest and the highest accepted value are accepted, and one past either is
// DMALOG_BAD_OPTION whose message starts with the option's name. Choices accept each choice and
// refuse anything else. All at the edge (the fill functions): no thread is started.
// Stress options have the same table in test/stress/options.test.ts.
import test from 'ava';
import { fillCoordinatorOptions, type CoordinatorOptions } from '../src/coordinator/options.js';
import { DmalogError } from '../src/errors.js';
import { FUZZ_MAX_LANES, FUZZ_MIN_MEMORY_BYTES, fillFuzzOptions, maxFuzzMemoryBytes, type FuzzOptions } from '../src/fuzz/options.js';
import {
  MAX_CALL_TIMEOUT_MS, MAX_HOST_PAGE_SIZE, MAX_LOG_BYTES, MAX_USER_MEMORY_BYTES, fillHostOptions, type HostOptions,
} from '../src/host/options.js';
import { LOW_RAM_LIMIT } from '../src/migration/memory-map.js';
import { MAX_BYTE_RAM_BYTES, MAX_RAM_BYTES, MAX_TIME_MS, MAX_WRITE_RATE, MIN_RATE_BYTES, fillMigrationOptions, type MigrationOptions } from '../src/migration/options.js';
import { MAX_DMA_THREADS } from '../src/dma/pool.js';
import { FakeTracker } from './helpers/fake-tracker.js';
import { CpuDirtyTracker, type CpuTrackerOptions } from '../src/trackers/cpu-tracker.js';
import { fillServerOptions, type VfioUserServerOptions } from '../src/vfio-user/server.js';

const MiB = 2 ** 20;
const SAFE = Number.MAX_SAFE_INTEGER;
const U64_MAX = (1n << 64n) - 1n;

interface Edge {
  /** The option's name as refusals spell it. */
  name: string;
  fill: (o: never) => unknown;
  /** Options with the value set (the rest chosen so that only this value decides). */
  make: (v: unknown) => unknown;
  accepted: unknown[];
  refused: unknown[];
}

function refusal(fill: (o: never) => unknown, o: unknown): string {
  try {
    fill(o as never);
    return 'ok';
  } catch (error) {
    return error instanceof DmalogError ? `${error.code} ${error.message}` : `not a DmalogError: ${String(error)}`;
  }
}

function edges(what: string, rows: Edge[]): void {
  for (const row of rows) {
    test(`${what} ${row.name}: ${row.accepted.map(show).join(', ')} accepted; ${row.refused.map(show).join(', ')} DMALOG_BAD_OPTION naming it`, (t) => {
      for (const v of row.accepted) t.is(refusal(row.fill, row.make(v)), 'ok', `${row.name} = ${show(v)}`);
      const prefix = `DMALOG_BAD_OPTION ${row.name}: `;
      for (const v of row.refused) {
        const got = refusal(row.fill, row.make(v));
        t.true(got.startsWith(prefix), `${row.name} = ${show(v)} → ${got}`);
      }
    });
  }
}

function show(v: unknown): string {
  return typeof v === 'bigint' ? `${v}n` : typeof v === 'string' ? `'${v}'` : Array.isArray(v) ? `[${v.length}]` : String(v);
}

/** [name, lowest, highest, below, above] as edge rows over `make`. */
function bounds(fill: Edge['fill'], make: (name: string, v: unknown) => unknown, rows: Array<[string, unknown, unknown, unknown, unknown]>): Edge[] {
  return rows.map(([name, lo, hi, below, above]) => ({ name, fill, make: (v) => make(name, v), accepted: [lo, hi], refused: [below, above] }));
}

// createHost

const hostFill = fillHostOptions as Edge['fill'];
const hostBase = (o: Partial<HostOptions> = {}, device: Record<string, unknown> = { name: 'm', profile: 'mlx5' }): HostOptions =>
  ({ logLevel: 'silent', devices: [device as never], ...o });
const hostTop = (name: string, v: unknown) => hostBase({ [name]: v });
const hostDevice = (profile: string) => (name: string, v: unknown) => hostBase({}, { name: 'd', profile, [name.replace('devices[0].', '')]: v });

edges('host', [
  ...bounds(hostFill, hostTop, [
    ['userMemoryBytes', 1, MAX_USER_MEMORY_BYTES, 0, MAX_USER_MEMORY_BYTES + 1],
    ['hostPageSize', 4096, MAX_HOST_PAGE_SIZE, 2048, MAX_HOST_PAGE_SIZE * 2],
    ['callTimeoutMs', 1, MAX_CALL_TIMEOUT_MS, 0, MAX_CALL_TIMEOUT_MS + 1],
    ['maxLogBytes', 1, MAX_LOG_BYTES, 0, MAX_LOG_BYTES + 1],
  ]),
  // pds takes page sizes up to 2^63 (mlx5's default maxPageSize would cap minPageSize at 1 GiB).
  ...bounds(hostFill, hostDevice('pds'), [
    ['devices[0].minPageSize', 4096n, 1n << 63n, 2048n, 1n << 64n],
    ['devices[0].maxPageSize', 4096, 1n << 63n, 2048, 1n << 64n],
    ['devices[0].maxRanges', 1, 255, 0, 256],
  ]),
  ...bounds(hostFill, hostDevice('mlx5'), [
    ['devices[0].maxRanges', 1, SAFE, 0, SAFE + 2],
    ['devices[0].maxAddressSpaceBits', 12, 64, 11, 65],
  ]),
  { name: 'hostPageSize', fill: hostFill, make: (v) => hostTop('hostPageSize', v), accepted: [8192, 16384], refused: [6144, 4096.5, '4096'] },
  { name: 'devices[0].minPageSize', fill: hostFill, make: (v) => hostDevice('mlx5')('minPageSize', v), accepted: [8192, 1n << 30n], refused: [12288, 1n << 31n] },
  { name: 'devices', fill: hostFill, make: (v) => ({ logLevel: 'silent', devices: v }), accepted: [[{ name: 'a', profile: 'none' }]], refused: [[], undefined, 'mlx5'] },
  { name: 'devices[1].name', fill: hostFill, make: (v) => hostBase({ devices: [{ name: 'a', profile: 'pds' }, { name: v as string, profile: 'pds' }] }), accepted: ['b'], refused: ['a', ''] },
  { name: 'devices[0].profile', fill: hostFill, make: (v) => hostBase({}, { name: 'd', profile: v }), accepted: ['mlx5', 'pds', 'none'], refused: ['ixgbe', 1] },
  { name: 'devices[0].iommuDirty', fill: hostFill, make: (v) => hostDevice('pds')('iommuDirty', v), accepted: [true, false, undefined], refused: ['yes', 1] },
  { name: 'contract', fill: hostFill, make: (v) => hostTop('contract', v), accepted: ['atomic', 'plain'], refused: ['relaxed'] },
  { name: 'logLevel', fill: hostFill, make: (v) => hostTop('logLevel', v), accepted: ['fatal', 'trace', 'silent'], refused: ['loud'] },
  { name: 'transport', fill: hostFill, make: (v) => hostTop('transport', v), accepted: ['worker', 'in-thread'], refused: ['thread', 1] },
  { name: 'bogus', fill: hostFill, make: (v) => hostTop('bogus', v), accepted: [], refused: [1, undefined] },
]);

// new Coordinator

const memory = new SharedArrayBuffer(1 << 16);
const tracker = new FakeTracker('t0', memory, []);
// new CpuDirtyTracker (the vCPUs' dirty log)

const cpuFill = ((o: CpuTrackerOptions) => new CpuDirtyTracker(o)) as Edge['fill'];
const cpuMake = (name: string, v: unknown) => ({ userMemory: new SharedArrayBuffer(64), hostPageSize: 4096, [name]: v });

edges('vCPU tracker', [
  ...bounds(cpuFill, cpuMake, [
    ['hostPageSize', 4096, MAX_HOST_PAGE_SIZE, 2048, MAX_HOST_PAGE_SIZE * 2],
    ['maxLogBytes', 1, MAX_LOG_BYTES, 0, MAX_LOG_BYTES + 1],
  ]),
  { name: 'hostPageSize', fill: cpuFill, make: (v) => cpuMake('hostPageSize', v), accepted: [8192], refused: [12288, 4096.5, '4096'] },
  { name: 'userMemory', fill: cpuFill, make: (v) => cpuMake('userMemory', v), accepted: [new SharedArrayBuffer(8)], refused: [new ArrayBuffer(8), null] },
  { name: 'name', fill: cpuFill, make: (v) => cpuMake('name', v), accepted: ['kvm'], refused: ['', 7] },
]);

const coordFill = fillCoordinatorOptions as Edge['fill'];
const coordinator = (name: string, v: unknown): CoordinatorOptions => ({ trackers: [tracker], memory, allocate: () => 0, [name]: v });

edges('coordinator', [
  { name: 'trackers', fill: coordFill, make: (v) => coordinator('trackers', v), accepted: [[tracker], [tracker, new FakeTracker('t1', memory, [])]], refused: [[], tracker, undefined] },
  { name: 'trackers[1]', fill: coordFill, make: (v) => coordinator('trackers', [tracker, v]), accepted: [tracker], refused: [{ name: 'x' }, null] },
  { name: 'memory', fill: coordFill, make: (v) => coordinator('memory', v), accepted: [memory], refused: [new ArrayBuffer(8), undefined] },
  { name: 'allocate', fill: coordFill, make: (v) => coordinator('allocate', v), accepted: [() => 0], refused: [8, undefined] },
  { name: 'policy', fill: coordFill, make: (v) => coordinator('policy', v), accepted: ['fail', 'restart', undefined], refused: ['retry'] },
  { name: 'verifyZeroed', fill: coordFill, make: (v) => coordinator('verifyZeroed', v), accepted: [true, false, undefined], refused: ['yes'] },
  { name: 'logger', fill: coordFill, make: (v) => coordinator('logger', v), accepted: [undefined], refused: [{}, 'pino'] },
]);

test('coordinator defaults: policy fail, no zeroing check', (t) => {
  t.like(fillCoordinatorOptions(coordinator('policy', undefined)), { policy: 'fail', verifyZeroed: false, logger: undefined });
});

// runFuzz

const fuzzFill = fillFuzzOptions as Edge['fill'];
const fuzz = (name: string, v: unknown): FuzzOptions => ({ seed: 1n, calls: 10, [name]: v });
const oneLane = (name: string, v: unknown): FuzzOptions => ({ seed: 1n, calls: 10, lanes: 1, [name]: v });

edges('fuzz', [
  ...bounds(fuzzFill, fuzz, [
    ['seed', 0n, U64_MAX, -1n, U64_MAX + 1n],
    ['calls', 0, SAFE, -1, SAFE + 2],
    ['lanes', 1, FUZZ_MAX_LANES, 0, FUZZ_MAX_LANES + 1],
    ['iommuLanes', 0, FUZZ_MAX_LANES, -1, FUZZ_MAX_LANES + 1],
    ['callTimeoutMs', 1, MAX_CALL_TIMEOUT_MS, 0, MAX_CALL_TIMEOUT_MS + 1],
    ['hostCallTimeoutMs', 1, MAX_CALL_TIMEOUT_MS, 0, MAX_CALL_TIMEOUT_MS + 1],
    ['maxLogBytes', 1, MAX_LOG_BYTES, 0, MAX_LOG_BYTES + 1],
    ['rssBudgetBytes', -SAFE, SAFE, -SAFE - 2, SAFE + 2],
    ['progressEveryMs', 1, MAX_CALL_TIMEOUT_MS, 0, MAX_CALL_TIMEOUT_MS + 1],
    ['traceLane', 0, 7, -1, 8], // six device lanes and two iommufd lanes by default
  ]),
  // One lane's mirror may take nearly all of a 4 GiB host.
  ...bounds(fuzzFill, oneLane, [['memoryBytes', FUZZ_MIN_MEMORY_BYTES, maxFuzzMemoryBytes(1), FUZZ_MIN_MEMORY_BYTES - 1, maxFuzzMemoryBytes(1) + 1]]),
  { name: 'seed', fill: fuzzFill, make: (v) => fuzz('seed', v), accepted: [0, SAFE], refused: [0.5, NaN, 2 ** 53, '1'] },
  { name: 'onProgress', fill: fuzzFill, make: (v) => fuzz('onProgress', v), accepted: [() => {}], refused: ['x'] },
  { name: 'iommufdIoctl', fill: fuzzFill, make: (v) => fuzz('iommufdIoctl', v), accepted: [() => 0], refused: ['ioctl'] },
  { name: 'trace', fill: fuzzFill, make: (v) => fuzz('trace', v), accepted: [() => {}], refused: [1] },
  { name: 'createHost', fill: fuzzFill, make: (v) => fuzz('createHost', v), accepted: [async () => { throw new Error('unused'); }], refused: [{}] },
]);

test('fuzz: the largest arena shrinks with the lanes (one mirror host of at most 4 GiB)', (t) => {
  const most = maxFuzzMemoryBytes(FUZZ_MAX_LANES);
  t.is(refusal(fuzzFill, { seed: 1n, calls: 1, lanes: FUZZ_MAX_LANES, memoryBytes: most }), 'ok');
  t.regex(refusal(fuzzFill, { seed: 1n, calls: 1, lanes: FUZZ_MAX_LANES, memoryBytes: most + 1 }), /^DMALOG_BAD_OPTION memoryBytes: /);
});

// migrate

const migFill = fillMigrationOptions as Edge['fill'];
const mig = (name: string, v: unknown): MigrationOptions => ({ [name]: v });
const device = (name: string, v: unknown): MigrationOptions => ({ devices: [{ profile: 'mlx5', [name.replace('devices[0].', '')]: v }] });
const vcpuWorkload = (name: string, v: unknown): MigrationOptions => ({ vcpuWorkload: { kind: 'hot', rate: 100, [name.replace('vcpuWorkload.', '')]: v } });

edges('migration', [
  ...bounds(migFill, mig, [
    ['ram', 2 * MiB, MAX_RAM_BYTES, 2 * MiB - 4096, MAX_RAM_BYTES + 4096],
    ['maxRamBelow4g', 2 * MiB, LOW_RAM_LIMIT, 2 * MiB - 4096, LOW_RAM_LIMIT + 4096],
    ['hostPageSize', 4096, 65536, 2048, 131072],
    ['vcpus', 0, 64, -1, 65],
    ['downtimeLimit', 1, SAFE, 0, SAFE + 2],
    ['maxIterations', 1, SAFE, 0, SAFE + 2],
    ['maxTime', 1, MAX_TIME_MS, 0, MAX_TIME_MS + 1],
    ['seed', 0n, U64_MAX, -1n, U64_MAX + 1n],
    ['writerThreads', 1, MAX_DMA_THREADS, 0, MAX_DMA_THREADS + 1],
    ['maxMemory', 1, SAFE, 0, SAFE + 2],
  ]),
  // Byte mode holds guest RAM in one typed array; page versions go further.
  ...bounds(migFill, (name, v) => ({ memory: 'bytes', [name]: v }), [['ram', 2 * MiB, MAX_BYTE_RAM_BYTES, 2 * MiB - 4096, MAX_BYTE_RAM_BYTES + 4096]]),
  { name: 'memory', fill: migFill, make: (v) => mig('memory', v), accepted: ['bytes', 'versions', 'auto'], refused: ['pages'] },
  // The bandwidth may reach the link speed, and the link speed may come down to the bandwidth.
  ...bounds(migFill, (name, v) => ({ linkSpeed: SAFE, [name]: v }), [['bandwidth', MIN_RATE_BYTES, SAFE, MIN_RATE_BYTES - 1, SAFE + 2]]),
  ...bounds(migFill, (name, v) => ({ bandwidth: MIN_RATE_BYTES, [name]: v }), [['linkSpeed', MIN_RATE_BYTES, SAFE, MIN_RATE_BYTES - 1, SAFE + 2]]),
  ...bounds(migFill, vcpuWorkload, [
    ['vcpuWorkload.rate', 0, MAX_WRITE_RATE, -1, MAX_WRITE_RATE + 1],
    ['vcpuWorkload.hotFraction', Number.MIN_VALUE, 1, 0, 1 + Number.EPSILON],
    ['vcpuWorkload.hotProbability', 0, 1, -Number.EPSILON, 1 + Number.EPSILON],
  ]),
  // Page sizes of a migration's devices are the host's rule (the host table above).
  ...bounds(migFill, device, [
    ['devices[0].maxRanges', 1, SAFE, 0, SAFE + 2],
    ['devices[0].maxAddressSpaceBits', 12, 64, 11, 65],
    ['devices[0].stateBytes', 1, SAFE, 0, SAFE + 2],
    ['devices[0].barBytes', 4096, 2 ** 52, 2048, 2 ** 53],
  ]),
  // The default devices are mlx5-0, mlx5-1 and pds-0; 30 iterations make at most 31 syncs.
  ...bounds(migFill, (_name, v) => ({ faults: [{ device: 'pds-0', iteration: v, kind: 'report-error' }] }), [['faults[0].iteration', 1, 31, 0, 32]]),
  { name: 'faults[0].device', fill: migFill, make: (v) => ({ faults: [{ device: v, iteration: 1, kind: 'tracker-error' }] }), accepted: ['mlx5-1'], refused: ['mlx5-2'] },
  { name: 'devices', fill: migFill, make: (v) => mig('devices', v), accepted: [[{ profile: 'none' }]], refused: [[]] },
  { name: 'devices[0].profile', fill: migFill, make: (v) => device('profile', v), accepted: ['mlx5', 'pds', 'none'], refused: ['gpu'] },
  { name: 'enableMigration', fill: migFill, make: (v) => mig('enableMigration', v), accepted: ['auto', 'on'], refused: ['off'] },
  { name: 'iommu', fill: migFill, make: (v) => mig('iommu', v), accepted: ['auto', 'on', 'off'], refused: ['yes'] },
  { name: 'ramBacking', fill: migFill, make: (v) => mig('ramBacking', v), accepted: ['small', 'huge', undefined], refused: ['2M', true] },
  { name: 'policy', fill: migFill, make: (v) => mig('policy', v), accepted: ['fail', 'restart'], refused: ['retry'] },
  { name: 'autoConverge', fill: migFill, make: (v) => mig('autoConverge', v), accepted: [true, false], refused: ['yes'] },
]);

// startVfioUserServer

const serveFill = fillServerOptions as Edge['fill'];
const serve = (name: string, v: unknown): VfioUserServerOptions => ({ socket: '/tmp/vfu.sock', [name]: v } as VfioUserServerOptions);

edges('vfio-user server', [
  ...bounds(serveFill, serve, [
    ['dropDirtyBit', 1, SAFE, 0, SAFE + 2],
    ['userMemoryBytes', 1 << 16, MAX_USER_MEMORY_BYTES, (1 << 16) - 1, MAX_USER_MEMORY_BYTES + 1],
  ]),
  { name: 'socket', fill: serveFill, make: (v) => ({ socket: v }), accepted: ['/tmp/s', 'x'.repeat(107)], refused: ['', 'x'.repeat(108), undefined, 3] },
  { name: 'device', fill: serveFill, make: (v) => serve('device', v), accepted: ['mlx5', 'pds', 'none', 'sample'], refused: ['gpu'] },
  { name: 'quirks', fill: serveFill, make: (v) => serve('quirks', v), accepted: ['kernel', 'libvfio-user', undefined], refused: ['qemu'] },
  { name: 'dropDirtyBit', fill: serveFill, make: (v) => serve('dropDirtyBit', v), accepted: [null, undefined], refused: [1.5, '1'] },
  { name: 'logLevel', fill: serveFill, make: (v) => serve('logLevel', v), accepted: ['debug', 'silent'], refused: ['loud'] },
  { name: 'transport', fill: serveFill, make: (v) => serve('transport', v), accepted: ['worker', 'in-thread'], refused: ['thread'] },
  { name: 'exitAfterSession', fill: serveFill, make: (v) => serve('exitAfterSession', v), accepted: [true, false], refused: ['yes'] },
  { name: 'bogus', fill: serveFill, make: (v) => serve('bogus', v), accepted: [], refused: [1] },
]);

test('vfio-user server defaults: mlx5, kernel rules, libvfio-user rules for the sample device, no dropped bit', (t) => {
  t.like(fillServerOptions({ socket: '/tmp/s' }), { device: 'mlx5', quirks: 'kernel', dropDirtyBit: null, transport: 'worker', userMemoryBytes: 1 << 24, exitAfterSession: false });
  t.is(fillServerOptions({ socket: '/tmp/s', device: 'sample' }).quirks, 'libvfio-user');
  t.is(fillServerOptions({ socket: '/tmp/s', device: 'sample', quirks: 'kernel' }).quirks, 'kernel');
});
