import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { EXIT } from '../../src/cli/args.js';
import { EXIT_FAULT_NOT_INJECTED, EXIT_NOT_CONVERGED, optionsFromArgs } from '../../src/cli/commands/migrate.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const dir = mkdtempSync(path.join(os.tmpdir(), 'dmalog-migrate-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

function dmalog(...args: string[]) {
  return dmalogIn(process.cwd(), ...args);
}

function dmalogIn(cwd: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [MAIN, 'migrate', ...args], { cwd, encoding: 'utf8', timeout: 60_000, env: { ...process.env, DMALOG_LOG_LEVEL: 'silent' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function usageError(t: import('ava').ExecutionContext, r: ReturnType<typeof dmalog>, field: string): void {
  t.is(r.code, 2);
  t.is(r.stdout, '');
  const [first, ...rest] = r.stderr.trimEnd().split('\n');
  t.true(first!.startsWith(`dmalog: ${field}`), first);
  t.false(rest.some((l) => /^\s+at /.test(l)), 'no stack trace');
}

test('bad flags are usage errors: exit 2, one line naming the flag, no stack', (t) => {
  usageError(t, dmalog('--ram', 'banana'), '--ram');
  usageError(t, dmalog('--downtime', '3 weeks'), '--downtime');
  usageError(t, dmalog('--devices', 'mlx5:2,gpu:1'), '--devices');
  usageError(t, dmalog('--workload', 'vcpu=zigzag:10'), '--workload vcpu');
  usageError(t, dmalog('--workload', 'gpu=ring:10'), '--workload');
  usageError(t, dmalog('--fault', 'mlx5-0:x:report-error'), '--fault');
  usageError(t, dmalog('--policy', 'pray'), '--policy');
  usageError(t, dmalog('--frobnicate'), 'Unknown option');
});

test('a config file is validated: the bad field is named, exit 2', (t) => {
  const bad = path.join(dir, 'bad.json');
  writeFileSync(bad, JSON.stringify({ ram: '64M', devices: [{ profile: 'mlx5' }, { profile: 'gpu' }] }));
  usageError(t, dmalog('--config', bad), `--config ${bad}: devices[1].profile`);
  writeFileSync(bad, JSON.stringify({ ram: '64M', bandwidth: 'fast' }));
  usageError(t, dmalog('--config', bad), `--config ${bad}: bandwidth`);
  writeFileSync(bad, JSON.stringify({ ram: '64M', devices: [{ profile: 'pds', bogus: 1 }] }));
  usageError(t, dmalog('--config', bad), `--config ${bad}: devices[0].bogus`);
  writeFileSync(bad, '{ "ram": ');
  usageError(t, dmalog('--config', bad), `--config ${bad}: `);
  usageError(t, dmalog('--config', path.join(dir, 'missing.json')), '--config ');
  // A fault naming a device the flags did not create.
  usageError(t, dmalog('--devices', 'pds:1', '--fault', 'mlx5-0:2:report-error'), 'faults[0].device');
});

test('a config file plus flags runs: --json result, --report file, exit 0', (t) => {
  const config = path.join(dir, 'ok.json');
  const report = path.join(dir, 'report.html');
  writeFileSync(config, JSON.stringify({ ram: '16M', bandwidth: '16M', vcpus: 1, devices: [{ profile: 'pds', name: 'nvme0', workload: { kind: 'ring', rate: 200 } }] }));
  const r = dmalog('--config', config, '--devices', 'mlx5:1,pds:1', '--workload', 'vcpu=uniform:500,dma=ring:300', '--seed', '11', '--threads', '2', '--json', '--report', report);
  t.is(r.code, 0, r.stderr);
  const result = JSON.parse(r.stdout);
  t.is(result.status, 'completed');
  t.true(result.check.identical);
  t.is(result.seed, '11');
  t.is(result.scenario.ramBytes, 16 << 20);
  t.is(result.scenario.vcpus, 1);
  t.deepEqual(result.scenario.devices.map((d: { name: string; workload: string }) => [d.name, d.workload]), [['mlx5-0', 'ring 300 pages/s'], ['pds-0', 'ring 300 pages/s']]);
  // Progress went to stderr (one plain line per sync: not a terminal).
  t.is(r.stderr.trimEnd().split('\n').filter((l) => l.startsWith('sync ')).length, result.iterations);
  t.true(existsSync(report));
  t.true(readFileSync(report, 'utf8').includes('id="chart-dirty"'));
});

test('--devices mlx5:1,none:1 migrates through the IOMMU tracker (tracking iommu, memory identical); --iommu off blocks it as before', (t) => {
  const r = dmalog('--ram', '16M', '--bandwidth', '32M', '--vcpus', '1', '--devices', 'mlx5:1,none:1', '--max-iterations', '4', '--seed', '2', '--threads', '2', '--json');
  t.true(r.code === 0 || r.code === EXIT_NOT_CONVERGED, r.stderr);
  const result = JSON.parse(r.stdout);
  t.is(result.tracking, 'iommu');
  t.deepEqual(result.trackers, ['vcpus', 'iommu']);
  t.true(result.check.identical);
  t.is(result.scenario.iommu, 'auto');
  const text = dmalog('--ram', '16M', '--bandwidth', '32M', '--vcpus', '1', '--devices', 'mlx5:1,none:1', '--max-iterations', '2', '--threads', '2');
  t.true(text.stdout.includes('tracking: IOMMU dirty tracking'), text.stdout);
  const off = dmalog('--ram', '16M', '--devices', 'mlx5:1,none:1', '--iommu', 'off', '--threads', '1', '--json');
  t.is(off.code, 1, off.stderr);
  t.is(JSON.parse(off.stdout).status, 'blocked');
});

test('--iommu: a bad value is a usage error; on with a device whose IOMMU lacks the capability is a usage error naming iommu', (t) => {
  usageError(t, dmalog('--iommu', 'maybe'), '--iommu');
  const config = path.join(dir, 'blind.json');
  writeFileSync(config, JSON.stringify({ ram: '16M', devices: [{ profile: 'mlx5', iommuDirty: false }] }));
  const r = dmalog('--config', config, '--iommu', 'on');
  usageError(t, r, 'iommu');
  t.true(r.stderr.includes('mlx5-0 lacks the capability'), r.stderr);
});

test('the drop-one-bit switch: exit 1 and the lost page named', (t) => {
  const r = dmalog('--ram', '32M', '--bandwidth', '32M', '--devices', 'mlx5:1', '--workload', 'vcpu=uniform:3000', '--seed', '3', '--drop-dirty-bit', '--json');
  t.is(r.code, 1, r.stderr);
  const result = JSON.parse(r.stdout);
  t.false(result.check.identical);
  t.is(result.check.differingPages, 1);
  // Below 4 GiB RAM offset and IOVA coincide.
  t.deepEqual(result.check.firstDiffering, [Number(BigInt(result.droppedPage)) / 4096]);
});

test('--max-time is honoured within one window even mid-pass (a pass at 1M/s outlasts it)', (t) => {
  // At 1 MiB/s one pass over 64 MiB takes 64 s of simulated time; the cap is 2 s.
  const r = dmalog('--ram', '64M', '--bandwidth', '1M', '--max-time', '2s', '--threads', '1', '--json');
  t.is(r.code, EXIT_NOT_CONVERGED, r.stderr);
  const result = JSON.parse(r.stdout);
  t.true(result.check.identical);
  t.false(result.converged);
  t.true(result.totalTimeMs - result.downtimeMs <= 2000 + 100, String(result.totalTimeMs));
  t.true(result.windows <= 21, String(result.windows));
});

test('a --fault whose sync never comes: listed in faultsNotInjected, exit 4; a hex 64-bit seed', (t) => {
  // 16 MiB of RAM plus 5 MiB of device state is below the 38.4 MiB threshold: it converges at sync 2, at
  // the first window's end (in the first window QEMU's threshold is still 0).
  const r = dmalog('--ram', '16M', '--threads', '1', '--policy', 'restart', '--fault', 'mlx5-1:20:tracker-error', '--seed', '0xffffffffffffffff', '--json');
  t.is(r.code, EXIT_FAULT_NOT_INJECTED, r.stderr);
  const result = JSON.parse(r.stdout);
  t.true(result.check.identical);
  t.true(result.iterations < 20);
  t.deepEqual(result.faultsNotInjected, [{ device: 'mlx5-1', iteration: 20, kind: 'tracker-error' }]);
  t.is(result.recovery.reportErrors, 0);
  t.is(result.seed, ((1n << 64n) - 1n).toString());
});

test('--report creates out/ when missing, and no other directory', (t) => {
  const cwd = mkdtempSync(path.join(dir, 'cwd-'));
  t.is(dmalogIn(cwd, '--ram', '16M', '--threads', '1', '--report', path.join('sub', 'report.html')).code, EXIT.usage);
  t.false(existsSync(path.join(cwd, 'sub')));
  const r = dmalogIn(cwd, '--ram', '16M', '--threads', '1', '--report', path.join('out', 'report.html'));
  t.is(r.code, EXIT.ok, r.stderr);
  t.true(existsSync(path.join(cwd, 'out', 'report.html')));
});

test('a config file is checked field by field: flags given with it decide how fields agree', (t) => {
  const config = path.join(dir, 'late-fault.json');
  writeFileSync(config, JSON.stringify({ ram: '16M', faults: [{ device: 'mlx5-0', iteration: 40, kind: 'report-error' }] }));
  // Sync 40 cannot come with the default 30 iterations, but can with 50.
  usageError(t, dmalog('--config', config), 'faults[0].iteration');
  t.is(optionsFromArgs(['--config', config, '--max-iterations', '50']).filled.maxIterations, 50);
});
