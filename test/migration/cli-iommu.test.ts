// `dmalog migrate` through the IOMMU tracker (contract §8): the default scenario with a device
// that cannot log DMA converges, because guest RAM is backed by small pages and so mapped with
// 4 KiB IOPTEs; `--ram-backing huge` maps it 2 MiB where aligned, where one scattered write
// dirties 2 MiB, and the same guest no longer converges (exit 3, memory still identical).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { EXIT_NOT_CONVERGED } from '../../src/cli/commands/migrate.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

function migrate(...args: string[]) {
  const r = spawnSync(process.execPath, [MAIN, 'migrate', ...args], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, DMALOG_LOG_LEVEL: 'silent' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface Result {
  tracking: string;
  trackers: string[];
  converged: boolean;
  notConverged: { code: string } | null;
  check: { identical: boolean };
  scenario: { ramBacking: string; iommu: string };
  iterationStats: Array<{ phase: string; reported: Record<string, number> }>;
}

test('dmalog migrate --devices mlx5:1,none:1: exit 0, memory identical, tracking iommu over RAM mapped at 4 KiB', (t) => {
  const r = migrate('--devices', 'mlx5:1,none:1', '--json');
  t.is(r.code, 0, r.stderr);
  const result = JSON.parse(r.stdout) as Result;
  t.is(result.tracking, 'iommu');
  t.deepEqual(result.trackers, ['vcpus', 'iommu']);
  t.true(result.converged);
  t.is(result.notConverged, null);
  t.true(result.check.identical);
  t.is(result.scenario.ramBacking, 'small');
  const text = migrate('--devices', 'mlx5:1,none:1');
  t.is(text.code, 0, text.stderr);
  t.true(text.stdout.includes('tracking: IOMMU dirty tracking (iommufd HWPT, RAM mapped at 4 KiB)'), text.stdout);
  t.true(text.stdout.includes('memory: identical'), text.stdout);
});

test('--ram-backing huge: 2 MiB IOPTEs make the IOMMU report over ten times the pages of 4 KiB ones; device DMA keeps it from converging (exit 3), memory identical', (t) => {
  const args = ['--ram', '64M', '--devices', 'mlx5:1,none:1', '--max-iterations', '4', '--threads', '2', '--json'];
  const huge = migrate(...args, '--ram-backing', 'huge');
  t.is(huge.code, EXIT_NOT_CONVERGED, huge.stderr);
  const h = JSON.parse(huge.stdout) as Result;
  t.is(h.tracking, 'iommu');
  t.is(h.scenario.ramBacking, 'huge');
  t.true(h.check.identical);
  t.is(h.notConverged?.code, 'device-dirty-rate', 'the IOMMU tracker counts as device DMA');
  const small = migrate(...args, '--ram-backing', 'small');
  t.is(small.code, 0, small.stderr);
  const s = JSON.parse(small.stdout) as Result;
  t.true(s.converged);
  t.true(s.check.identical);
  const firstIommu = (x: Result) => x.iterationStats.find((i) => i.phase === 'precopy' && (i.reported['iommu'] ?? 0) > 0 && x.iterationStats.indexOf(i) > 0)!.reported['iommu']!;
  t.true(firstIommu(h) > 10 * firstIommu(s), `huge ${firstIommu(h)} vs small ${firstIommu(s)} pages in the second sync`);
  const bad = migrate('--ram-backing', '2M');
  t.is(bad.code, 2);
  t.true(bad.stderr.startsWith('dmalog: --ram-backing'), bad.stderr);
});
