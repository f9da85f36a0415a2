// pino: one structured line per PROBE/START/STOP/REPORT, none per page or per DMA; silent by default.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

function run(args: string[], level: string | null) {
  const env = { ...process.env };
  delete env['DMALOG_LOG_LEVEL'];
  if (level !== null) env['DMALOG_LOG_LEVEL'] = level;
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 30_000, env });
  return { code: r.status, stderr: r.stderr };
}

interface Line { level: number; call?: string; device?: string; feature?: string; probe?: boolean; errno?: string | null; pageSize?: number; pages?: number; ms?: number; msg: string }

test('the CLI logs at info by default: exactly one line per feature call, with device, feature, errno or result, pages and duration', (t) => {
  const r = run([MAIN, 'demo'], null);
  t.is(r.code, 0);
  const lines = r.stderr.trim().split('\n').map((l) => JSON.parse(l) as Line);
  const calls = lines.filter((l) => l.feature !== undefined);
  // The demo: 4 PROBEs (one ENOTTY), 3 STARTs, 9 DMAs, 3 REPORTs, 3 STOPs; DMAs log nothing.
  t.is(calls.length, 13);
  t.deepEqual(lines.filter((l) => l.feature === undefined).map((l) => l.msg), ['host closed']);
  for (const l of calls) {
    t.is(typeof l.device, 'string');
    t.is(typeof l.ms, 'number');
    t.true(l.errno === null || typeof l.errno === 'string');
  }
  const probes = calls.filter((l) => l.probe);
  t.deepEqual(probes.map((l) => [l.device, l.feature, l.errno]), [['nic0', 'START', null], ['nic1', 'START', null], ['nvme0', 'START', null], ['legacy0', 'START', 'ENOTTY']]);
  // A PROBE says so (call and message); a failed call is a warning (pino 40), a success info (30).
  t.deepEqual(probes.map((l) => [l.call, l.msg, l.level]), [
    ['PROBE', 'PROBE START ok', 30], ['PROBE', 'PROBE START ok', 30], ['PROBE', 'PROBE START ok', 30], ['PROBE', 'PROBE START failed: ENOTTY', 40]]);
  for (const l of calls.filter((c) => !c.probe)) t.is(l.call, 'SET');
  t.deepEqual(calls.filter((l) => l.errno !== null).map((l) => l.level), [40]);
  t.true(calls.filter((l) => l.errno === null).every((l) => l.level === 30));
  const starts = calls.filter((l) => !l.probe && l.feature === 'START');
  t.deepEqual(starts.map((l) => [l.device, l.pageSize]), [['nic0', 4096], ['nic1', 8192], ['nvme0', 4096]]);
  const reports = calls.filter((l) => l.feature === 'REPORT');
  t.deepEqual(Object.fromEntries(reports.map((l) => [l.device, l.pages])), { nic0: 3, nic1: 4, nvme0: 1 });
  t.is(calls.filter((l) => l.feature === 'STOP' && l.errno === null).length, 3);
});

test('DMALOG_LOG_LEVEL=silent turns the CLI lines off', (t) => {
  const r = run([MAIN, 'demo'], 'silent');
  t.is(r.code, 0);
  t.is(r.stderr, '');
});

test('the library logs nothing unless asked (no DMALOG_LOG_LEVEL, no logLevel option)', (t) => {
  const entry = fileURLToPath(new URL('../../src/index.js', import.meta.url));
  const script = `const { createHost } = await import(${JSON.stringify(entry)});
    const host = await createHost({ devices: [{ name: 'd', profile: 'mlx5' }] });
    await host.device('d').probe(); await host.device('d').startLogging({ pageSize: 4096n, ranges: [{ iova: 0n, length: 4096n }] });
    await host.close();`;
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'dmalog-log-')), 'quiet.mjs');
  writeFileSync(file, script);
  const r = run([file], null);
  t.is(r.code, 0, r.stderr);
  t.is(r.stderr, '');
});
