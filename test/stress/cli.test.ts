// `dmalog stress` as a user runs it: SEED first, the summary or JSON, documented exit codes.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { UsageError } from '../../src/cli/args.js';
import { EXIT_STOPPED_EARLY, parseStressArgs, reproduceLine } from '../../src/cli/commands/stress.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const stress = (...args: string[]) => spawnSync(process.execPath, [MAIN, 'stress', ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, DMALOG_LOG_LEVEL: 'silent' } });
const SMALL = ['--guest', '16M', '--burst', '1024', '--writes-per-set', '2048', '--trackers', '3'];

test('text mode prints SEED first, a summary table, and exits 0 when every invariant holds', (t) => {
  const r = stress('--report-sets', '30', '--seed', '0x2a', '--faults', '0.05', ...SMALL);
  t.is(r.status, 0, r.stderr);
  const lines = r.stdout.split('\n');
  t.is(lines[0], 'SEED=42');
  for (const row of ['writes logged', 'report sets', 'pages reported', 'lost', 'imprecise', 'faults injected', 'recovered', 'throughput']) {
    t.true(lines.some((l) => l.trimStart().startsWith(row)), row);
  }
  t.true(lines.some((l) => /^\s+report sets\s+30$/.test(l)));
  t.true(lines.some((l) => /^\s+lost\s+0$/.test(l)));
  t.regex(r.stderr, /sets 30\/30/); // the last progress line
});

test('--json prints one JSON document on stdout and the seed on stderr', (t) => {
  const r = stress('--report-sets', '10', '--seed', '7', '--json', '--workload', 'ring', '--policy', 'fail', ...SMALL);
  t.is(r.status, 0, r.stderr);
  t.true(r.stderr.startsWith('SEED=7\n'));
  const report = JSON.parse(r.stdout) as { seed: string; reportSets: number; lost: number; ok: boolean; options: { workload: string; policy: string } };
  t.like(report, { seed: '7', reportSets: 10, lost: 0, ok: true, options: { workload: 'ring', policy: 'fail' } });
});

test('bad usage is a UsageError, and the command exits 2 on it', (t) => {
  for (const args of [['--workload', 'nope'], ['--report-sets', '5', '--seconds', '1'], ['--guest', '5K'], ['--faults', '2'], ['--trackers', '0'], ['--seed', '-1'], ['--seed', '0x1ffffffffffffffff'], ['--bogus']]) {
    t.throws(() => parseStressArgs(args), { instanceOf: UsageError }, args.join(' '));
  }
  t.is(stress('--workload', 'nope').status, 2);
});

test('flags parse into run options, and the reproduce line parses back to the same ones', (t) => {
  const { options, json } = parseStressArgs(['--trackers', '8', '--profiles', 'pds,mlx5', '--queues', '3', '--seconds', '1.5', '--workload', 'hot',
    '--contract', 'plain', '--faults', '0.01', '--kill', '--policy', 'fail', '--seed', '99', '--guest', '32M', '--windows', '4', '--json']);
  t.true(json);
  t.like(options, { trackers: 8, profiles: ['pds', 'mlx5'], queues: 3, seconds: 1.5, workload: 'hot', contract: 'plain', faultRate: 0.01, kill: true, policy: 'fail', seed: 99n, guestPages: 8192, windows: 4 });
  t.is(parseStressArgs(['--seconds', '500ms']).options.seconds, 0.5);
  t.throws(() => parseStressArgs(['--profiles', 'mlx5,none']), { instanceOf: UsageError });
  const line = reproduceLine({ seed: 99n, options: { trackers: 8, profiles: ['pds', 'mlx5'], queues: 3, reportSets: 10, seconds: null, workload: 'hot', contract: 'plain',
    faultRate: 0.01, kill: true, policy: 'fail', guestPages: 8192, burstWrites: 100, writesPerSet: 0, windows: 4, threads: undefined, progressIntervalMs: 1000 } } as never);
  const back = parseStressArgs(line.split(' ').slice(2)).options;
  t.like(back, { seed: 99n, trackers: 8, profiles: ['pds', 'mlx5'], queues: 3, reportSets: 10, workload: 'hot', contract: 'plain', faultRate: 0.01, kill: true, policy: 'fail', guestPages: 8192, burstWrites: 100, writesPerSet: 0, windows: 4 });
});

test('--policy fail stopping the run early exits 3, also when it stops at set 0 having tested nothing', (t) => {
  // Rate 1: every device gets a fault before set 0; with this seed one of them fails its REPORT.
  const early = ['--report-sets', '20', '--faults', '1', '--policy', 'fail', '--seed', '3', ...SMALL];
  const r = stress(...early, '--json');
  t.is(r.status, EXIT_STOPPED_EARLY, r.stderr);
  t.is(EXIT_STOPPED_EARLY, 3);
  const report = JSON.parse(r.stdout) as { reportSets: number; ok: boolean; stoppedBy: { set: number; errno: string; tracker: string | null } | null };
  t.like(report, { reportSets: 0, ok: true, stoppedBy: { set: 0, errno: 'EIO' } });
  t.not(report.stoppedBy!.tracker, null);
  t.is(stress(...early).status, EXIT_STOPPED_EARLY); // text mode too
  // the same faults under restart are recovered and the run completes
  t.is(stress('--report-sets', '20', '--faults', '1', '--policy', 'restart', '--seed', '3', ...SMALL).status, 0);
});

test('the summary gives report-set latency p50/p99/max, in text and as reportSetLatency in --json', (t) => {
  const text = stress('--report-sets', '15', '--seed', '3', ...SMALL);
  t.is(text.status, 0, text.stderr);
  t.regex(text.stdout, /^\s+report-set latency\s+p50 [\d.]+ ms, p99 [\d.]+ ms, max [\d.]+ ms\s+\(15 sets\)$/m);
  const json = stress('--report-sets', '15', '--seed', '3', '--json', ...SMALL);
  const r = JSON.parse(json.stdout) as { reportSetLatency: { count: number; p50Ms: number; p99Ms: number; maxMs: number }; history: { latencyHistogram: Array<{ sets: number }> } };
  t.is(r.reportSetLatency.count, 15);
  t.true(r.reportSetLatency.p50Ms <= r.reportSetLatency.p99Ms && r.reportSetLatency.p99Ms <= r.reportSetLatency.maxMs);
  t.is(r.history.latencyHistogram.reduce((a, b) => a + b.sets, 0), 15);
});

test('--report FILE writes the HTML report; a bad path is refused before the run', (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'dmalog-stress-report-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'stress.html');
  const r = stress('--report-sets', '10', '--seed', '4', '--report', file, ...SMALL);
  t.is(r.status, 0, r.stderr);
  t.true(r.stdout.includes(`report: ${file}\n`));
  const html = readFileSync(file, 'utf8');
  t.regex(html, /<svg id="chart-latency"/);
  t.regex(html, /id="banner" class="banner banner-ok"/);
  const bad = stress('--report-sets', '10', '--report', path.join(dir, 'missing', 'x.html'), ...SMALL);
  t.is(bad.status, 2);
  t.regex(bad.stderr, /--report .*does not exist/);
  t.false(bad.stdout.includes('SEED='), 'refused before the run began');
  t.regex(stress('--help').stdout, /--report FILE .*\n.*\(default: none/);
});
