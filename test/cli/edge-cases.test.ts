// The command line against what its docs and --help promise, on inputs nobody tuned for: each
// test is one behaviour the README or a --help states, run through the built CLI.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { isUsageError } from '../helpers/cli.js';
import { checkOutputFile } from '../../src/cli/files.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const dir = mkdtempSync(path.join(os.tmpdir(), 'dmalog-edge-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

function dmalog(args: string[], env: Record<string, string | undefined> = { DMALOG_LOG_LEVEL: 'silent' }) {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('migrate --json: the wall time goes to stderr as in text mode, never into the JSON on stdout', (t) => {
  const r = dmalog(['migrate', '--ram', '16M', '--threads', '1', '--json']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /^wall time: \d+\.\d\d s$/m);
  const result = JSON.parse(r.stdout) as Record<string, unknown>;
  t.is(result['status'], 'completed');
  t.false(r.stdout.includes('wall time'));
});

test('stress: options that do not fit together are one usage line naming the flag, before SEED is printed', (t) => {
  isUsageError(t, dmalog(['stress', '--iommu-trackers', '5']), "--iommu-trackers '5': must be at most trackers (4)");
  isUsageError(t, dmalog(['stress', '--trackers', '2', '--iommu-trackers', '3', '--json']), "--iommu-trackers '3'");
});

test('serve: the socket path limit is 107 bytes of UTF-8, not 107 characters (60 characters, 115 bytes: refused)', (t) => {
  const socket = path.join(os.tmpdir(), 'é'.repeat(55));
  t.true(socket.length <= 107 && Buffer.byteLength(socket) > 107);
  isUsageError(t, dmalog(['serve', '--socket', socket]), 'at most 107 bytes');
});

test('DMALOG_LOG_LEVEL set but empty is unset: each command runs at its own default level', (t) => {
  const demo = dmalog(['demo'], { DMALOG_LOG_LEVEL: '' });
  t.is(demo.code, 0, demo.stderr);
  // demo's default is info: one pino line per PROBE/START/STOP/REPORT.
  t.regex(demo.stderr, /^\{"level":30,.*"call":"PROBE"/m);
  const stress = dmalog(['stress', '--report-sets', '1', '--trackers', '1', '--queues', '1', '--threads', '1', '--guest', '1M', '--seed', '1'], { DMALOG_LOG_LEVEL: '' });
  t.is(stress.code, 0, stress.stderr);
  // stress defaults to silent.
  t.false(stress.stderr.includes('"level"'), stress.stderr);
  const migrate = dmalog(['migrate', '--ram', '16M', '--threads', '1', '--json'], { DMALOG_LOG_LEVEL: '' });
  t.is(migrate.code, 0, migrate.stderr);
  t.false(migrate.stderr.includes('"level"'));
});

test('--report in a directory where no file can be made (/proc) is refused before the run, even for root', (t) => {
  for (const command of [['migrate', '--ram', '16M'], ['stress', '--report-sets', '1'], ['fuzz', '--calls', '1']]) {
    isUsageError(t, dmalog([...command, '--report', '/proc/dmalog-report.html']), '/proc/dmalog-report.html');
  }
});

test('--report: the check before the run leaves no file behind, and an existing file is kept until the run writes it', (t) => {
  const fresh = path.join(dir, 'fresh.html');
  checkOutputFile(fresh, '--report');
  t.false(existsSync(fresh));
  const kept = path.join(dir, 'kept.html');
  writeFileSync(kept, 'before');
  checkOutputFile(kept, '--report');
  t.is(readFileSync(kept, 'utf8'), 'before');
  t.is(dmalog(['fuzz', '--calls', '1', '--iommu-lanes', '0', '--seed', '1', '--report', kept]).code, 0);
  t.true(readFileSync(kept, 'utf8').startsWith('<!DOCTYPE html>'));
});

test('profile: a --help among profile\'s own options (after --top N or --dir DIR) is profile\'s help, exit 0', (t) => {
  for (const args of [['--top', '3', '--help'], ['--dir', dir, '-h'], ['--top=3', '--help']]) {
    const r = dmalog(['profile', ...args]);
    t.is(r.code, 0, r.stderr);
    t.true(r.stdout.startsWith('usage: dmalog profile '), r.stdout);
    t.is(r.stderr, '');
  }
});

test('dmalog with no command is bad usage like any other: one line on stderr naming the commands, exit 2', (t) => {
  isUsageError(t, dmalog([]), 'migrate');
  const help = dmalog(['--help']);
  t.is(help.code, 0);
  t.true(help.stdout.includes('commands:'));
});

test('migrate: a device state above the threshold by itself is not blamed on a dirty rate (exit 3, pending-above-threshold)', (t) => {
  const config = path.join(dir, 'big-state.json');
  writeFileSync(config, JSON.stringify({ ram: '16M', devices: [{ profile: 'mlx5', stateBytes: '64M' }], maxIterations: 3 }));
  const r = dmalog(['migrate', '--config', config, '--threads', '1', '--json']);
  t.is(r.code, 3, r.stderr);
  const result = JSON.parse(r.stdout) as { converged: boolean; notConverged: { code: string; message: string } };
  t.false(result.converged);
  t.is(result.notConverged.code, 'pending-above-threshold');
  t.true(result.notConverged.message.includes("the devices' state alone (64.0 MiB)"), result.notConverged.message);
});

test('durations are whole milliseconds: 1.5ms is refused naming the flag, not rounded to 2 ms; 1.5s is 1500 ms', (t) => {
  isUsageError(t, dmalog(['migrate', '--downtime', '1.5ms']), "--downtime '1.5ms': must be a whole number of milliseconds");
  isUsageError(t, dmalog(['migrate', '--max-time', '0.5ms']), "--max-time '0.5ms': must be a whole number of milliseconds");
  const config = path.join(dir, 'fraction-ms.json');
  writeFileSync(config, JSON.stringify({ downtimeLimit: 2.5 }));
  isUsageError(t, dmalog(['migrate', '--config', config]), 'downtimeLimit: must be a whole number of milliseconds (got 2.5)');
  const ok = dmalog(['migrate', '--ram', '16M', '--downtime', '1.5s', '--json']);
  t.is(ok.code, 0, ok.stderr);
  t.is(JSON.parse(ok.stdout).scenario.downtimeLimitMs, 1500);
});

test('sizes are whole bytes: a fraction that leaves part of a byte is refused, not cut (text or a config number)', (t) => {
  isUsageError(t, dmalog(['migrate', '--bandwidth', '128.3K']), "--bandwidth: '128.3K' is not a whole number of bytes");
  isUsageError(t, dmalog(['stress', '--guest', '1.3K']), "--guest: '1.3K' is not a whole number of bytes");
  const config = path.join(dir, 'fraction.json');
  writeFileSync(config, JSON.stringify({ ram: 16 * 2 ** 20 + 0.5 }));
  isUsageError(t, dmalog(['migrate', '--config', config]), 'ram: must be a whole number of bytes');
  // 128.5M and 1.5G are whole numbers of bytes.
  const ok = dmalog(['migrate', '--ram', '16M', '--bandwidth', '128.5M', '--link-speed', '1.5G', '--max-iterations', '1', '--max-memory', '1']);
  t.true(ok.stderr.includes("--ram '16M'"), ok.stderr); // refused by the memory cap only, after the sizes parsed
  t.true(ok.stderr.includes('more than the maxMemory limit of 1 byte'), ok.stderr); // not "0 MiB"
  // Without --ram, the limit given is the flag named.
  isUsageError(t, dmalog(['migrate', '--max-memory', '512K']), "--max-memory '512K': a 512 MiB guest needs about 1.2 GiB");
});

test('sweep: more than 10 points queued at once print no MaxListenersExceededWarning on stderr', (t) => {
  const grid = path.join(dir, 'eleven.json');
  writeFileSync(grid, JSON.stringify({ base: { ram: '2M', maxIterations: 1, devices: [{ profile: 'mlx5' }] }, repeats: 11 }));
  const r = dmalog(['sweep', grid, '--out', path.join(dir, 'eleven'), '--jobs', '2', '--threads', '1']);
  t.is(r.code, 0, r.stderr);
  t.true(r.stdout.includes('ran 11'), r.stdout);
  t.false(/Warning/.test(r.stderr), r.stderr);
});

test('sweep: the caps its --help states (1000 seeds or repeats) are the ones it applies', (t) => {
  const help = dmalog(['sweep', '--help']).stdout;
  t.true(help.includes('At most 1000 values per axis, 1000 seeds (or repeats), 100000 points'), help);
  const grid = path.join(dir, 'repeats.json');
  writeFileSync(grid, JSON.stringify({ repeats: 1001 }));
  isUsageError(t, dmalog(['sweep', grid, '--list']), 'repeats');
  writeFileSync(grid, JSON.stringify({ base: { ram: '16M' }, repeats: 1000 }));
  const list = dmalog(['sweep', grid, '--list']);
  t.is(list.code, 0, list.stderr);
  t.is(list.stdout.trimEnd().split('\n').length, 1000);
});

test('fuzz: the progress on stderr ends at where the run ended (all calls), not at the last timer tick', (t) => {
  const r = dmalog(['fuzz', '--calls', '500', '--seed', '1', '--iommu-lanes', '0']);
  t.is(r.code, 0, r.stderr);
  const lines = r.stderr.trimEnd().split('\n');
  t.is(lines[0], 'dmalog fuzz: seed 1, 500 calls');
  t.regex(lines.at(-1)!, /^fuzz: 500\/500 calls \(100 %\)/);
});

test('profile --dir that cannot be a folder is bad usage before anything runs: a file, under a file, under /proc (no hang)', (t) => {
  const file = path.join(dir, 'a-file');
  writeFileSync(file, '');
  for (const [at, names] of [[file, 'is not a directory'], [path.join(file, 'sub'), 'ENOTDIR'], ['/proc/dmalog-x/y', 'cannot create it']] as const) {
    isUsageError(t, dmalog(['profile', '--dir', at, 'demo']), names);
  }
  // Missing parents are made (--help: "created if missing").
  const nested = path.join(dir, 'profiles', 'a', 'b');
  const r = dmalog(['profile', '--dir', nested, '--top', '1', 'demo']);
  t.is(r.code, 0, r.stderr);
  t.true(existsSync(path.join(nested, 'main.cpuprofile')));
});
