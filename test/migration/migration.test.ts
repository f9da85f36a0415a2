// End-to-end migrations on small guests. Thread interleavings vary between runs; what every
// assertion here checks holds for all of them (the seed fixes the inputs only).
import test from 'ava';
import type { Host } from '../../src/host/host.js';
import { buildMemoryMap, iovaToRamOffset } from '../../src/migration/memory-map.js';
import { migrate } from '../../src/migration/migration.js';
import type { MigrationOptions } from '../../src/migration/options.js';
import type { MigrationResult } from '../../src/migration/result.js';

const P = 4096;
const MiB = 1 << 20;

/** 48 MiB guest with 16 MiB above 4 GiB, a 32 MiB/s link (threshold 9.6 MiB), light writers. */
function scenario(extra: MigrationOptions = {}): MigrationOptions {
  return {
    ram: '48M',
    maxRamBelow4g: '32M',
    bandwidth: '32M',
    vcpus: 2,
    vcpuWorkload: { kind: 'hot', rate: 2000 },
    devices: [
      { profile: 'mlx5', workload: { kind: 'ring', rate: 800 } },
      // Logs at 8 KiB: each dirty granule comes back as two 4 KiB report bits.
      { profile: 'mlx5', minPageSize: 8192, workload: { kind: 'uniform', rate: 600 } },
      { profile: 'pds', workload: { kind: 'hot', rate: 500 } },
    ],
    maxIterations: 20,
    writerThreads: 2,
    ...extra,
  };
}

/** Device states at the end of a run, read before the run tears its trackers down. */
async function statesOf(host: Host): Promise<Record<string, { state: string; reports: number }>> {
  const out: Record<string, { state: string; reports: number }> = {};
  for (const name of host.deviceNames) {
    const s = await host.device(name).status();
    out[name] = { state: s.state, reports: s.reports };
  }
  return out;
}

function assertIdentical(t: import('ava').ExecutionContext, r: MigrationResult): void {
  t.is(r.status, 'completed');
  t.is(r.failure, null);
  t.true(r.check!.identical);
  t.is(r.check!.differingPages, 0);
  t.is(r.check!.pagesCompared, 48 * MiB / P);
  // Every page was sent at least once (the bulk stage), device state on top.
  t.true(r.bytesSent.ram >= 48 * MiB);
  t.is(r.bytesSent.deviceState, (2 + 2 + 1) * MiB);
  t.is(r.iterationStats.at(-1)!.phase, 'final');
  t.is(r.iterations, r.iterationStats.length);
}

test.serial('all profiles, policy fail, auto-converge off: converges and the destination equals the source', async (t) => {
  const r = await migrate(scenario({ seed: 1 }));
  assertIdentical(t, r);
  t.true(r.converged);
  t.is(r.notConverged, null);
  t.is(r.tracking, 'device-logging');
  t.deepEqual(r.trackers, ['vcpus', 'mlx5-0', 'mlx5-1', 'pds-0']);
  t.deepEqual(r.pageSizes, { 'vcpus': 4096, 'mlx5-0': 4096, 'mlx5-1': 8192, 'pds-0': 4096 });
  t.deepEqual(r.ranges, [{ iova: '0x0', length: '0x2000000' }, { iova: '0x100000000', length: '0x1000000' }, { iova: '0x140000000', length: '0x5000000' }]);
  // Converged means the last pre-copy sync left pending within the threshold, and no earlier one did.
  const pre = r.iterationStats.filter((s) => s.phase === 'precopy');
  t.true(pre.at(-1)!.pendingBytes <= pre.at(-1)!.thresholdBytes);
  t.true(pre.slice(0, -1).every((s) => s.pendingBytes > s.thresholdBytes));
  // The bulk sync comes in the first window, where QEMU's threshold is still 0; from the next on it is bandwidth × downtime-limit.
  t.is(pre[0]!.thresholdBytes, 0);
  t.is(pre[1]!.thresholdBytes, Math.floor(32 * MiB * 0.3));
  t.is(r.throttlePct, 0);
  // Every writer was seen by its tracker at some sync.
  for (const name of r.trackers) t.true(r.iterationStats.some((s) => (s.reported[name] ?? 0) > 0), name);
});

test.serial('policy restart with a sticky mlx5 tracker error and a pds REPORT error, auto-converge on: still identical', async (t) => {
  const r = await migrate(scenario({
    seed: 2,
    policy: 'restart',
    autoConverge: true,
    faults: [{ device: 'mlx5-1', iteration: 2, kind: 'tracker-error' }, { device: 'pds-0', iteration: 3, kind: 'report-error' }],
  }));
  assertIdentical(t, r);
  t.deepEqual(r.recovery, { reportErrors: 2, restarts: 2, retired: 0 });
  t.deepEqual(r.iterationStats[1]!.recoveries, [{ tracker: 'mlx5-1', errno: 'EIO', recovery: 'restarted' }]);
  t.deepEqual(r.iterationStats[2]!.recoveries, [{ tracker: 'pds-0', errno: 'EIO', recovery: 'restarted' }]);
  // A restart marks the device's whole span dirty: every addressable page is pending again.
  const map = buildMemoryMap({ ramBytes: 48 * MiB, pageSize: P, maxRamBelow4g: 32 * MiB });
  t.true(r.iterationStats[1]!.pendingBytes >= map.addressablePages * P);
});

test.serial('heavy vCPU writers with auto-converge: the throttle steps up and the migration converges', async (t) => {
  const r = await migrate(scenario({ seed: 3, autoConverge: true, vcpuWorkload: { kind: 'uniform', rate: 12_000 }, maxIterations: 30 }));
  assertIdentical(t, r);
  t.true(r.converged);
  t.true(r.throttlePct >= 20);
  const steps = r.iterationStats.map((s) => s.throttlePct);
  t.deepEqual(steps, [...steps].sort((a, b) => a - b)); // the throttle only goes up
});

test.serial('device DMA above the bandwidth does not converge, auto-converge or not, and is reported as such', async (t) => {
  const r = await migrate(scenario({
    seed: 4,
    autoConverge: true,
    devices: [{ profile: 'mlx5', workload: { kind: 'uniform', rate: 12_000 } }, { profile: 'mlx5' }, { profile: 'pds' }],
    maxIterations: 8,
  }));
  assertIdentical(t, r);
  t.false(r.converged);
  t.is(r.notConverged!.code, 'device-dirty-rate');
  t.is(r.iterations, 8 + 1); // the cap, then the final sync of the forced switchover
  t.true(r.throttlePct >= 20); // vCPUs were throttled, which could not help
  t.true(r.iterationStats.filter((s) => s.phase === 'precopy').every((s) => s.pendingBytes > s.thresholdBytes));
});

test.serial('with --iommu off, a device without DMA logging blocks migration under enable-migration=auto', async (t) => {
  let states: Awaited<ReturnType<typeof statesOf>> = {};
  const r = await migrate(scenario({ iommu: 'off', devices: [{ profile: 'mlx5' }, { profile: 'none' }] }), { beforeClose: async (host) => { states = await statesOf(host); } });
  t.is(r.status, 'blocked');
  t.like(r.failure, { code: 'DMALOG_MIGRATION_BLOCKED', stage: 'probe', errno: 'ENOTTY', tracker: 'none-0' });
  t.is(r.iterations, 0);
  t.is(r.check, null);
  t.deepEqual(r.scenario.devices.map((d) => d.logging), [true, false]);
  t.deepEqual(states, { 'mlx5-0': { state: 'idle', reports: 0 }, 'none-0': { state: 'idle', reports: 0 } });
});

test.serial('with --iommu off, under enable-migration=on every sync counts all RAM dirty: no convergence, memory still identical', async (t) => {
  let states: Awaited<ReturnType<typeof statesOf>> = {};
  const r = await migrate(scenario({ seed: 5, iommu: 'off', enableMigration: 'on', devices: [{ profile: 'mlx5' }, { profile: 'none' }], maxIterations: 4 }),
    { beforeClose: async (host) => { states = await statesOf(host); } });
  t.is(r.status, 'completed');
  t.true(r.check!.identical);
  t.is(r.tracking, 'all-dirty');
  t.deepEqual(r.trackers, ['vcpus']);
  const map = buildMemoryMap({ ramBytes: 48 * MiB, pageSize: P, maxRamBelow4g: 32 * MiB });
  t.is(r.iterationStats.length, 5);
  for (const s of r.iterationStats) t.is(s.reported['all-dirty'], map.addressablePages);
  t.false(r.converged);
  t.is(r.notConverged!.code, 'all-dirty');
  // The device that could log was never started: the container does not use device logging.
  t.deepEqual(states['mlx5-0'], { state: 'idle', reports: 0 });
});

test.serial('mlx5 + none under iommu=auto: the container falls back to IOMMU dirty tracking; memory identical, the devices never START', async (t) => {
  let states: Awaited<ReturnType<typeof statesOf>> = {};
  const r = await migrate(scenario({ seed: 3, maxIterations: 6, devices: [{ profile: 'mlx5', workload: { kind: 'ring', rate: 800 } }, { profile: 'none', workload: { kind: 'uniform', rate: 600 } }] }),
    { beforeClose: async (host) => { states = await statesOf(host); } });
  t.is(r.status, 'completed');
  t.is(r.tracking, 'iommu');
  t.deepEqual(r.trackers, ['vcpus', 'iommu']);
  t.is(r.pageSizes['iommu'], P);
  t.true(r.check!.identical, JSON.stringify(r.check));
  // No convergence asserted: guest RAM is mapped 2 MiB, so each scattered DMA write dirties 512 pages.
  t.deepEqual(r.scenario.devices.map((d) => d.logging), [true, false]);
  t.is(r.scenario.iommu, 'auto');
  // The IOMMU saw the devices' writes: some sync after the bulk one reported more than the vCPUs did.
  t.true(r.iterationStats.slice(1).some((s) => (s.reported['iommu'] ?? 0) > 0), JSON.stringify(r.iterationStats.map((s) => s.reported)));
  t.deepEqual(states, { 'mlx5-0': { state: 'idle', reports: 0 }, 'none-0': { state: 'idle', reports: 0 } });
});

test.serial('iommu=on uses IOMMU dirty tracking even when every device could log; iommu=off with them logging is device logging', async (t) => {
  const on = await migrate(scenario({ seed: 4, iommu: 'on', devices: [{ profile: 'mlx5', workload: { kind: 'ring', rate: 800 } }] }));
  t.is(on.tracking, 'iommu');
  t.deepEqual(on.trackers, ['vcpus', 'iommu']);
  t.true(on.check!.identical);
  const off = await migrate(scenario({ seed: 4, iommu: 'off', devices: [{ profile: 'mlx5', workload: { kind: 'ring', rate: 800 } }] }));
  t.is(off.tracking, 'device-logging');
  t.deepEqual(off.trackers, ['vcpus', 'mlx5-0']);
  t.true(off.check!.identical);
});

test.serial('iommu=auto with a device whose IOMMU lacks the capability and another that cannot log: blocked as without an IOMMU', async (t) => {
  const r = await migrate(scenario({ devices: [{ profile: 'mlx5' }, { profile: 'none', iommuDirty: false }] }));
  t.is(r.status, 'blocked');
  t.like(r.failure, { code: 'DMALOG_MIGRATION_BLOCKED', stage: 'probe', errno: 'ENOTTY', tracker: 'none-0' });
});

test('iommu=on with a device whose IOMMU lacks the capability is DMALOG_BAD_OPTION naming iommu, before anything starts', async (t) => {
  const error = await t.throwsAsync(migrate(scenario({ iommu: 'on', devices: [{ profile: 'mlx5', iommuDirty: false }] })));
  t.is((error as { code?: string }).code, 'DMALOG_BAD_OPTION');
  t.regex(error!.message, /iommu.*mlx5-0 lacks the capability/);
});

test.serial('START failing on the third device rolls back the trackers before it and fails the migration', async (t) => {
  let states: Awaited<ReturnType<typeof statesOf>> = {};
  const r = await migrate(scenario({ devices: [{ profile: 'mlx5' }, { profile: 'pds' }, { profile: 'mlx5', maxAddressSpaceBits: 20 }] }),
    { beforeClose: async (host) => { states = await statesOf(host); } });
  t.is(r.status, 'failed');
  t.deepEqual(r.failure, {
    code: 'DMALOG_MIGRATION_FAILED', stage: 'start', errno: 'EOPNOTSUPP', tracker: 'mlx5-1',
    rolledBack: ['vcpus', 'mlx5-0', 'pds-0'], message: r.failure!.message,
  });
  t.is(r.iterations, 0);
  t.is(r.bytesSent.total, 0);
  t.is(r.check, null);
  for (const name of ['mlx5-0', 'pds-0', 'mlx5-1']) t.deepEqual(states[name], { state: 'idle', reports: 0 }, name);
});

test.serial('a REPORT error under policy fail fails the migration at that sync with logging stopped', async (t) => {
  let states: Awaited<ReturnType<typeof statesOf>> = {};
  const r = await migrate(scenario({ seed: 6, policy: 'fail', faults: [{ device: 'pds-0', iteration: 2, kind: 'report-error' }] }),
    { beforeClose: async (host) => { states = await statesOf(host); } });
  t.is(r.status, 'failed');
  t.like(r.failure, { code: 'DMALOG_MIGRATION_FAILED', stage: 'sync', errno: 'EIO', tracker: 'pds-0' });
  t.is(r.iterations, 1);
  t.is(r.check, null);
  t.deepEqual(r.recovery, { reportErrors: 1, restarts: 0, retired: 0 });
  for (const name of ['mlx5-0', 'mlx5-1', 'pds-0']) t.is(states[name]!.state, 'idle', name);
});

test.serial('the same REPORT error under policy restart is recovered and the migration completes identical', async (t) => {
  const r = await migrate(scenario({ seed: 6, policy: 'restart', faults: [{ device: 'pds-0', iteration: 2, kind: 'report-error' }] }));
  assertIdentical(t, r);
  t.deepEqual(r.recovery, { reportErrors: 1, restarts: 1, retired: 0 });
  t.deepEqual(r.iterationStats[1]!.recoveries, [{ tracker: 'pds-0', errno: 'EIO', recovery: 'restarted' }]);
  // The restarted device's whole span was marked in that sync: every addressable RAM page.
  const map = buildMemoryMap({ ramBytes: 48 * MiB, pageSize: P, maxRamBelow4g: 32 * MiB });
  t.is(r.iterationStats[1]!.reported['recovery-marks'], map.addressablePages);
  t.false('recovery-marks' in r.iterationStats[2]!.reported);
});

test.serial('the drop-one-bit switch makes the equivalence check fail, naming the lost page', async (t) => {
  const r = await migrate(scenario({ seed: 7, dropDirtyBit: true, vcpuWorkload: { kind: 'uniform', rate: 4000 } }));
  t.is(r.status, 'completed');
  t.not(r.droppedPage, null);
  const map = buildMemoryMap({ ramBytes: 48 * MiB, pageSize: P, maxRamBelow4g: 32 * MiB });
  const lostPage = iovaToRamOffset(map, BigInt(r.droppedPage!)) / P;
  t.false(r.check!.identical);
  t.is(r.check!.differingPages, 1);
  t.deepEqual(r.check!.firstDiffering, [lostPage]);
});

test('options are checked at the edge: one DMALOG_BAD_OPTION naming the field', async (t) => {
  await t.throwsAsync(migrate({ devices: [{ profile: 'mlx5' }, { profile: 'gpu' as 'mlx5' }] }), { code: 'DMALOG_BAD_OPTION', message: /^devices\[1\]\.profile: / });
  await t.throwsAsync(migrate({ ram: '3M', maxRamBelow4g: '1M' }), { code: 'DMALOG_BAD_OPTION', message: /^maxRamBelow4g: / });
  await t.throwsAsync(migrate({ faults: [{ device: 'nope', iteration: 1, kind: 'report-error' }] }), { code: 'DMALOG_BAD_OPTION', message: /^faults\[0\]\.device: / });
  await t.throwsAsync(migrate({ bandwidth: '12Q' }), { code: 'DMALOG_BAD_OPTION', message: /^bandwidth: / });
});
