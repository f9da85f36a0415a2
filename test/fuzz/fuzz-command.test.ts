// `dmalog fuzz` as a user runs it: seed first, counts, exit codes, and the replay line.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { formatReport, replayCommand } from '../../src/cli/commands/fuzz.js';
import type { FuzzReport } from '../../src/fuzz/runner.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

function dmalog(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { timeout: 120_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

test('fuzz --calls N --seed S --json: exit 0, the seed first on stderr, N calls counted by outcome', async (t) => {
  const { code, stdout, stderr } = await dmalog('fuzz', '--calls', '3000', '--seed', '11', '--json');
  t.is(code, 0, stderr);
  t.is(stderr.split('\n')[0], 'dmalog fuzz: seed 11, 3000 calls');
  const report = JSON.parse(stdout) as FuzzReport;
  t.like(report, { seed: '11', calls: 3000, failure: null });
  t.is(Object.values(report.counts).reduce((a, b) => a + b, 0), 3000);
});

test('fuzz: the seed, when not given, is printed so the run can be repeated', async (t) => {
  const { code, stdout, stderr } = await dmalog('fuzz', '--calls', '200', '--json');
  t.is(code, 0, stderr);
  const seed = /^dmalog fuzz: seed (\d+), 200 calls$/m.exec(stderr)?.[1];
  t.truthy(seed);
  t.is((JSON.parse(stdout) as FuzzReport).seed, seed!);
});

test('fuzz: bad usage exits 2', async (t) => {
  for (const args of [['--calls', 'x'], ['--calls', '0'], ['--seed', '-1'], ['--seed', '1e400'], ['--bogus'], ['stray']]) {
    t.is((await dmalog('fuzz', ...args)).code, 2, args.join(' '));
  }
});

test('fuzz seeds are 64-bit: a hex seed past 2^53 runs, prints in decimal and replays; its neighbour differs', async (t) => {
  const run = (seed: string) => dmalog('fuzz', '--calls', '600', '--seed', seed, '--json');
  const [a, b, next] = await Promise.all([run('0xfffffffffffffffe'), run('18446744073709551614'), run('0xffffffffffffffff')]);
  for (const r of [a, b, next]) t.is(r.code, 0, r.stderr);
  t.is(a.stderr.split('\n')[0], 'dmalog fuzz: seed 18446744073709551614, 600 calls');
  const [ra, rb, rn] = [a, b, next].map((r) => JSON.parse(r.stdout) as FuzzReport);
  t.is(ra!.seed, '18446744073709551614');
  t.is(rn!.seed, '18446744073709551615');
  // Hex and decimal spellings of one seed are one run; the next seed (which a 53-bit double would
  // round onto the same value) is another.
  t.deepEqual([ra!.counts, ra!.dma, ra!.stateChanges], [rb!.counts, rb!.dma, rb!.stateChanges]);
  t.notDeepEqual([ra!.counts, ra!.dma], [rn!.counts, rn!.dma]);
});

test('fuzz --iommu-lanes N: N iommufd lanes counted by kind; 0 runs none; the text report has their rows', async (t) => {
  const [three, none, text] = await Promise.all([
    dmalog('fuzz', '--calls', '2000', '--seed', '4', '--iommu-lanes', '3', '--json'),
    dmalog('fuzz', '--calls', '600', '--seed', '4', '--iommu-lanes', '0', '--json'),
    dmalog('fuzz', '--calls', '800', '--seed', '4'),
  ]);
  for (const r of [three, none, text]) t.is(r.code, 0, r.stderr);
  const report = JSON.parse(three.stdout) as FuzzReport;
  t.like(report, { calls: 2000, lanes: 6, iommuLanes: 3, failure: null });
  t.deepEqual(Object.keys(report.byIommu).sort(), ['iommufd-dirty', 'iommufd-plain']);
  const sum = (c: object) => Object.values(c as Record<string, number>).reduce((a, b) => a + b, 0);
  // Lanes 6, 7, 8 of 9: two dirty HWPTs and one plain, 222 calls each (2000 = 9 * 222 + 2).
  t.is(sum(report.byIommu['iommufd-dirty']!), 444);
  t.is(sum(report.byIommu['iommufd-plain']!), 222);
  t.is(sum(report.counts), 2000);
  t.like(JSON.parse(none.stdout) as FuzzReport, { iommuLanes: 0, byIommu: {}, failure: null });
  t.regex(text.stdout, /^seed 4: 800 calls on 6 devices and 2 iommufd lanes in /);
  t.regex(text.stdout, /^iommufd +dirty +plain$/m);
  t.regex(text.stdout, /^ENOENT +\d+ +\d+$/m);
});

test('fuzz --iommu-lanes: bad values are usage errors (exit 2) naming the option', async (t) => {
  for (const value of ['-1', 'x', '1.5', '65', '']) {
    const { code, stderr } = await dmalog('fuzz', '--calls', '10', '--iommu-lanes', value);
    t.is(code, 2, value);
    t.true(stderr.includes('--iommu-lanes'), stderr);
  }
  t.true((await dmalog('fuzz', '--help')).stdout.includes('--iommu-lanes N'));
});

test('fuzz --help exits 0', async (t) => {
  t.is((await dmalog('fuzz', '--help')).code, 0);
});

test('a failed run prints the command that replays it up to and including the failing call', (t) => {
  const report: FuzzReport = {
    seed: '42', calls: 1234, lanes: 6, iommuLanes: 2, counts: { ok: 1, EINVAL: 1233 }, byProfile: {}, byIommu: {}, byState: {}, dma: {}, stateChanges: 0, verifies: 0, rounds: 0,
    rssBaselineBytes: 0, rssPeakDeltaBytes: 0, elapsedMs: 1,
    failure: { code: 'DMALOG_FUZZ_FAILURE', kind: 'canary', detail: 'x', callIndex: 1233, lane: 3, profile: 'mlx5', call: null },
  };
  t.is(replayCommand(report), 'dmalog fuzz --seed 42 --calls 1234');
  t.true(formatReport(report).includes(`replay: ${replayCommand(report)}\n`));
  // A run with other than the default iommufd lanes replays only with the same number.
  t.is(replayCommand({ ...report, iommuLanes: 0 }), 'dmalog fuzz --seed 42 --calls 1234 --iommu-lanes 0');
});

test('fuzz --report FILE writes the HTML heatmap report; a bad path exits 2 before any call', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'dmalog-fuzz-report-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'fuzz.html');
  const { code, stdout, stderr } = await dmalog('fuzz', '--calls', '400', '--seed', '5', '--report', file);
  t.is(code, 0, stderr);
  t.true(stdout.includes(`report: ${file}\n`));
  const html = readFileSync(file, 'utf8');
  t.regex(html, /<svg id="chart-outcomes"/);
  t.regex(html, /id="banner" class="banner banner-ok"/);
  const bad = await dmalog('fuzz', '--calls', '400', '--report', dir);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /--report .*not a regular file/);
  t.false(bad.stderr.includes('dmalog fuzz: seed'), 'refused before the run began');
  t.regex((await dmalog('fuzz', '--help')).stdout, /--report FILE\n.*\n.*\(default: none/);
});
