// Stress runs with IOMMU trackers (--iommu-trackers): HWPTs with dirty tracking over the guest,
// 2 MiB and 4 KiB IOPTEs, every device attached, each write logged by the device and its HWPT,
// every report set reading both into one bitmap; the checker's verdict per log granule.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { UsageError } from '../../src/cli/args.js';
import { parseStressArgs, reproduceLine } from '../../src/cli/commands/stress.js';
import { fillStressOptions } from '../../src/stress/options.js';
import { stressIommuMappings } from '../../src/stress/iommu.js';
import { runStress, stressWindows, type StressReport } from '../../src/stress/runner.js';

const SMALL = { guestPages: 4096, burstWrites: 1024, writesPerSet: 2048, queues: 2 } as const;

function holds(t: import('ava').ExecutionContext, r: StressReport): void {
  const why = JSON.stringify({ lost: r.checker.lostExamples, imprecise: r.checker.impreciseExamples, seed: String(r.seed) });
  t.is(r.lost, 0, why);
  t.is(r.imprecise, 0, why);
  t.is(r.zeroingViolations, 0);
  t.true(r.ok);
}

test('the IOPTEs: 2 MiB blocks over the first half where a block lies inside one window, 4 KiB elsewhere', (t) => {
  t.deepEqual(stressIommuMappings(16384, stressWindows(16384, 2)), [{ from: 0, to: 8192, huge: true }, { from: 8192, to: 16384, huge: false }]);
  // Windows of 1200 pages: the block [1024, 1536) crosses one, so it is mapped at 4 KiB.
  t.deepEqual(stressIommuMappings(4800, stressWindows(4800, 4)), [
    { from: 0, to: 1024, huge: true }, { from: 1024, to: 1536, huge: false }, { from: 1536, to: 2048, huge: true }, { from: 2048, to: 4800, huge: false }]);
  t.deepEqual(stressIommuMappings(512, stressWindows(512, 1)), [{ from: 0, to: 512, huge: false }], 'a guest under 4 MiB has no huge half');
});

test('two IOMMU trackers over three devices: every write in both logs, one HWPT bit per write, no page lost, nothing imprecise', async (t) => {
  t.timeout(60_000);
  const r = await runStress({ ...SMALL, trackers: 3, iommuTrackers: 2, reportSets: 120, seed: 31n });
  holds(t, r);
  t.is(r.reportSets, 120);
  t.deepEqual(r.iommu.trackers.map((x) => [x.name, x.devices]), [['iommu-0', ['mlx5-0', 'mlx5-2']], ['iommu-1', ['pds-1']]]);
  t.is(r.iommu.hugePages, 2048);
  t.is(r.iommu.smallPages, 2048);
  // No fault: no log ever stopped, so every write was logged, and each met exactly one granule of
  // its device's log and one IOPTE of its HWPT's.
  t.is(r.staleBursts, 0);
  t.is(r.writes, r.writesAttempted);
  t.is(r.writes, r.bursts * SMALL.burstWrites);
  t.is(r.iommu.granulesMarked, r.writesAttempted);
  t.is(r.granulesMarked, 2 * r.writesAttempted);
  t.true(r.checker.burstsChecked > 0);
  t.true(reproduceLine(r).includes(' --iommu-trackers 2 '), reproduceLine(r));
});

test('IOMMU trackers under restart faults and killed device threads: every invariant holds', async (t) => {
  t.timeout(60_000);
  const r = await runStress({ ...SMALL, trackers: 4, iommuTrackers: 1, reportSets: 150, faultRate: 0.03, kill: true, policy: 'restart', workload: 'hot', seed: 32n });
  holds(t, r);
  t.is(r.reportSets, 150);
  t.true(r.faults.reportErrors > 0);
  t.is(r.faults.restarts + r.faults.retired, r.faults.reportErrors);
  t.deepEqual(r.iommu.trackers.map((x) => x.devices), [['mlx5-0', 'pds-1', 'mlx5-2', 'pds-3']]);
  t.true(r.iommu.granulesMarked > 0 && r.iommu.granulesMarked <= r.writesAttempted);
});

test('without --iommu-trackers a run has none (the default, 0)', async (t) => {
  const r = await runStress({ ...SMALL, trackers: 2, reportSets: 5, seed: 33n });
  t.deepEqual(r.iommu, { trackers: [], hugePages: 0, smallPages: 0, granulesMarked: 0 });
  t.is(r.granulesMarked, r.writesAttempted);
});

test('iommuTrackers: 0..64 and at most trackers; the flag parses and shows in --help; too many is exit 2', (t) => {
  t.is(fillStressOptions({}).iommuTrackers, 0);
  t.is(fillStressOptions({ trackers: 3, iommuTrackers: 3 }).iommuTrackers, 3);
  t.throws(() => fillStressOptions({ trackers: 2, iommuTrackers: 3 }), { code: 'DMALOG_BAD_OPTION', message: /iommuTrackers: must be at most trackers/ });
  t.throws(() => fillStressOptions({ iommuTrackers: -1 }), { code: 'DMALOG_BAD_OPTION' });
  t.is(parseStressArgs(['--iommu-trackers', '2']).options.iommuTrackers, 2);
  t.throws(() => parseStressArgs(['--iommu-trackers', 'x']), { instanceOf: UsageError });
  const main = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
  const help = spawnSync(process.execPath, [main, 'stress', '--help'], { encoding: 'utf8' });
  t.regex(help.stdout, /--iommu-trackers N {4}IOMMU trackers, at most --trackers \(default 0\)/);
  const bad = spawnSync(process.execPath, [main, 'stress', '--trackers', '2', '--iommu-trackers', '3'], { encoding: 'utf8', env: { ...process.env, DMALOG_LOG_LEVEL: 'silent' } });
  t.is(bad.status, 2, bad.stderr);
  t.true(bad.stderr.trimEnd().split('\n').length <= 2 && bad.stderr.includes('--iommu-trackers'), bad.stderr);
  t.is(bad.stdout, '', 'a usage error prints no SEED');
});

test('dmalog stress --iommu-trackers 1: the summary names the HWPT and its mappings, exit 0', (t) => {
  const main = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
  const r = spawnSync(process.execPath, [main, 'stress', '--iommu-trackers', '1', '--trackers', '2', '--report-sets', '20', '--guest', '16M', '--burst', '1024', '--seed', '3'],
    { encoding: 'utf8', timeout: 60_000, env: { ...process.env, DMALOG_LOG_LEVEL: 'silent' } });
  t.is(r.status, 0, r.stderr);
  t.regex(r.stdout, /iommu trackers\s+iommu-0 \(HWPT \d+: mlx5-0, pds-1\)/);
  t.regex(r.stdout, /iommu mappings\s+4 x 2M \+ 2,048 x 4K; [\d,]+ HWPT log bits marked/);
  t.regex(r.stdout, /result: every invariant held/);
});
