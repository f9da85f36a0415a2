// A migration's log lines carry `{ sync, simMs }`: the devices' calls, the coordinator's
// recoveries and the run's own lines, each matched here against the --json result.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import type { MigrationResult } from '../../src/migration/result.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

interface Line { level: number; msg: string; sync?: number; simMs?: number; component?: string; device?: string; call?: string; feature?: string; errno?: string | null; tracker?: string }

test('every line of a migration carries the sync it belongs to and the simulated time, as the result has them', (t) => {
  const r = spawnSync(process.execPath, [MAIN, 'migrate', '--ram', '32M', '--json', '--seed', '3', '--policy', 'restart', '--fault', 'mlx5-1:2:report-error', '--threads', '1'],
    { encoding: 'utf8', timeout: 60_000, env: { ...process.env, DMALOG_LOG_LEVEL: 'info' } });
  t.is(r.status, 0, r.stderr);
  const result = JSON.parse(r.stdout) as MigrationResult;
  // stderr holds the pino lines and the progress lines (plain text).
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Line);
  t.true(lines.length > 10);
  for (const l of lines) {
    t.true(Number.isInteger(l.sync) && l.sync! >= 0 && l.sync! <= result.iterations, `${l.msg}: sync ${l.sync}`);
    t.is(typeof l.simMs, 'number', l.msg);
  }
  // Setup (PROBE, START) is sync 0 at t = 0.
  const setup = lines.slice(0, lines.findIndex((l) => l.feature === 'REPORT'));
  t.is(setup.filter((l) => l.feature === 'START').length, 6, 'a PROBE and a START per device');
  t.true(setup.every((l) => l.sync === 0 && l.simMs === 0));
  // The run's own line per sync: the result's iteration and time, in order.
  const syncs = lines.filter((l) => l.component === 'migration' && l.msg.startsWith('sync '));
  t.deepEqual(syncs.map((l) => [l.sync, l.simMs]), result.iterationStats.map((s) => [s.iteration, s.atMs]));
  // REPORTs: each in the sync it served, at that sync's time; every sync has one per device.
  const atMs = new Map(result.iterationStats.map((s) => [s.iteration, s.atMs]));
  const reports = lines.filter((l) => l.feature === 'REPORT');
  t.true(reports.every((l) => l.sync! >= 1 && l.simMs === atMs.get(l.sync!)));
  for (const s of result.iterationStats) t.true(reports.filter((l) => l.sync === s.iteration).length >= 3, `sync ${s.iteration}`);
  // The injected fault: a warning in sync 2, and the coordinator's restart in the same sync.
  const failed = lines.filter((l) => l.errno !== null && l.errno !== undefined);
  t.deepEqual(failed.map((l) => [l.level, l.device, l.feature, l.errno, l.sync]), [[40, 'mlx5-1', 'REPORT', 'EIO', 2]]);
  const restart = lines.find((l) => l.component === 'coordinator' && l.msg.includes('restarted'));
  t.like(restart, { tracker: 'mlx5-1', sync: 2, simMs: atMs.get(2) });
  // After the switchover: the end time, up to the memory check and the host's close.
  const end = lines.slice(lines.findIndex((l) => l.msg.startsWith('switchover')));
  t.true(end.length >= 3);
  t.true(end.every((l) => l.sync === result.iterations && l.simMs === result.totalTimeMs), JSON.stringify(end));
  t.truthy(end.find((l) => l.msg === 'memory identical'));
  t.is(end.at(-1)!.msg, 'host closed');
});
