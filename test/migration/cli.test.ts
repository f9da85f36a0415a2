import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const dir = mkdtempSync(path.join(os.tmpdir(), 'dmalog-migrate-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

function dmalog(...args: string[]) {
  const r = spawnSync(process.execPath, [MAIN, 'migrate', ...args], { encoding: 'utf8', env: { ...process.env, DMALOG_LOG_LEVEL: 'silent' } });
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
  const report = path.join(dir, 'sub', 'report.html');
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

test('the drop-one-bit switch: exit 1 and the lost page named', (t) => {
  const r = dmalog('--ram', '32M', '--bandwidth', '32M', '--devices', 'mlx5:1', '--workload', 'vcpu=uniform:3000', '--seed', '3', '--drop-dirty-bit', '--json');
  t.is(r.code, 1, r.stderr);
  const result = JSON.parse(r.stdout);
  t.false(result.check.identical);
  t.is(result.check.differingPages, 1);
  // Below 4 GiB RAM offset and IOVA coincide.
  t.deepEqual(result.check.firstDiffering, [Number(BigInt(result.droppedPage)) / 4096]);
});
