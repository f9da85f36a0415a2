// `dmalog sweep` through the command line: grid file errors (one line naming the key, exit 2),
// bad flags, --list, a sharded run merged, merge refusing mixed grids, exit 1 for a point
// without a result.
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { help as sweepHelp } from '../../src/cli/commands/sweep.js';
import { parseGrid } from '../../src/sweep/grid.js';
import type { SweepRecord } from '../../src/sweep/record.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const dir = mkdtempSync(path.join(os.tmpdir(), 'dmalog-sweep-cli-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

interface Ran { code: number | null; stdout: string; stderr: string }

function dmalog(...args: string[]): Ran {
  const r = spawnSync(process.execPath, [MAIN, 'sweep', ...args], { cwd: dir, encoding: 'utf8', timeout: 60_000, env: { ...process.env, DMALOG_LOG_LEVEL: 'silent' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function dmalogAsync(args: string[]): Promise<Ran> {
  return new Promise<Ran>((resolve) => {
    execFile(process.execPath, [MAIN, 'sweep', ...args], { cwd: dir, encoding: 'utf8', timeout: 90_000, env: { ...process.env, DMALOG_LOG_LEVEL: 'silent' } }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr });
    });
  });
}

/** Commands three at a time (each a process start, nothing run): faster than one by one, gentle on 2 cores. */
async function dmalogAll(argvs: string[][]): Promise<Ran[]> {
  const out: Ran[] = new Array(argvs.length);
  let next = 0;
  await Promise.all(Array.from({ length: 3 }, async () => {
    while (next < argvs.length) {
      const i = next++;
      out[i] = await dmalogAsync(argvs[i]!);
    }
  }));
  return out;
}

function gridFile(name: string, grid: unknown): string {
  const file = path.join(dir, name);
  writeFileSync(file, typeof grid === 'string' ? grid : JSON.stringify(grid));
  return file;
}

function usageError(t: import('ava').ExecutionContext, r: Ran, start: string): void {
  t.is(r.code, 2, r.stderr);
  t.is(r.stdout, '');
  const lines = r.stderr.trimEnd().split('\n');
  t.is(lines.length, 1, r.stderr);
  t.true(lines[0]!.startsWith(`dmalog: ${start}`), `${lines[0]} should start with dmalog: ${start}`);
  t.true(lines[0]!.endsWith('(see dmalog sweep --help)'), lines[0]);
}

const SMALL = {
  base: { ram: '16M', vcpus: 1, maxTime: '3s', vcpuWorkload: { kind: 'hot', rate: 300 }, devices: [{ profile: 'pds', workload: { kind: 'uniform', rate: 100 } }] },
  axes: { bandwidth: ['16M', '32M'] },
};

test('a bad grid file: one line naming the file and the bad key, exit 2, nothing run', async (t) => {
  const cases: Array<[unknown, string]> = [
    [{ base: { ram: '64Q' } }, 'base.ram: '],
    [{ base: { ram: '64M' }, axes: { bandwidth: ['32M', 'fast'] } }, 'axes.bandwidth[1]: '],
    [{ axes: { 'vcpuWorkload.rate': [100, -1] } }, 'axes.vcpuWorkload.rate[1]: '],
    [{ axes: { devices: [[{ profile: 'gpu' }]] } }, 'axes.devices[0][0].profile: '],
    [{ axes: { frobnicate: [1] } }, 'axes.frobnicate: not a scenario option'],
    [{ axes: { bandwidth: ['128M', '2G'] } }, 'axes: point 1 (bandwidth=2G): linkSpeed: '],
    [{ seeds: [1, 'x'] }, 'seeds[1]: '],
    [{ repeats: 2, seeds: [1] }, 'repeats: '],
    [{ axis: {} }, 'axis: unknown field'],
  ];
  const files = cases.map(([grid], i) => gridFile(`bad-${i}.json`, grid));
  const notJson = gridFile('not-json.json', '{ "axes": ');
  const missing = path.join(dir, 'missing.json');
  const got = await dmalogAll([...files.map((f) => [f]), [notJson], [missing]]);
  cases.forEach(([, key], i) => usageError(t, got[i]!, `${files[i]}: ${key}`));
  usageError(t, got[cases.length]!, `${notJson}: not JSON`);
  usageError(t, got[cases.length + 1]!, `grid ${missing}: cannot read it`);
});

test('bad flags: one line naming the flag, exit 2', async (t) => {
  const file = gridFile('small.json', SMALL);
  const cases: Array<[string[], string]> = [
    [[], 'sweep: name the grid file'],
    [[file, file], 'sweep: one grid file, not 2'],
    [[file, '--shard', '3/2'], "--shard: '3/2'"],
    [[file, '--jobs', '0'], "--jobs: '0'"],
    [[file, '--color', 'hue'], "--color: 'hue'"],
    [[file, '--x', 'ram'], "--x: 'ram' is not an axis of the grid (bandwidth)"],
    [[file, '--x', 'bandwidth', '--y', 'bandwidth'], "--y: 'bandwidth' is the x axis too"],
    [[file, '--point-timeout', 'soon'], "--point-timeout: 'soon'"],
    [[file, '--frobnicate'], "Unknown option '--frobnicate'"],
    [[file, '--out', file], `--out ${file}: not a directory`],
    [[file, '--out', path.join(dir, 'no', 'such')], `--out ${path.join(dir, 'no', 'such')}: its parent directory does not exist`],
    [['merge'], 'sweep merge: name the JSON Lines files'],
    [['merge', path.join(dir, 'none.jsonl')], `${path.join(dir, 'none.jsonl')}: cannot read it (ENOENT)`],
  ];
  const got = await dmalogAll(cases.map(([argv]) => argv));
  cases.forEach(([, start], i) => usageError(t, got[i]!, start));
});

test('the grid file example in sweep --help is a valid grid', (t) => {
  const example = sweepHelp.slice(sweepHelp.indexOf('  {"title"'), sweepHelp.indexOf('\n  base '));
  const grid = parseGrid(JSON.parse(example));
  t.is(grid.ids.length, 3 * 3 * 2 * 3);
});

test('--help shows every default and the exit codes', (t) => {
  const r = dmalog('--help');
  t.is(r.code, 0);
  for (const text of ['default out', "default: the machine's cores", 'default: cores / jobs', 'default 1/1', 'default: no limit', "default: the grid's first two axes", 'default downtime', 'at most every 10 s', 'exit codes: 0', '1 some point has no result', '2 bad usage', '70 internal error', 'merge']) {
    t.true(r.stdout.includes(text), `help mentions ${text}`);
  }
});

test('--list prints the share\'s points with their ids, in order', (t) => {
  const file = gridFile('list.json', { ...SMALL, seeds: [1, 2] });
  const grid = parseGrid(JSON.parse(readFileSync(file, 'utf8')));
  const all = dmalog(file, '--list');
  t.is(all.code, 0);
  t.deepEqual(all.stdout.trimEnd().split('\n'), [
    `0\t${grid.ids[0]}\tbandwidth=16M\tseed=1`, `1\t${grid.ids[1]}\tbandwidth=16M\tseed=2`,
    `2\t${grid.ids[2]}\tbandwidth=32M\tseed=1`, `3\t${grid.ids[3]}\tbandwidth=32M\tseed=2`,
  ]);
  t.deepEqual(dmalog(file, '--list', '--shard', '2/3').stdout.trimEnd().split('\n').map((l) => l.split('\t')[0]), ['1']);
  // The committed example grid parses, and the README shows it as it is.
  const exampleFile = path.join(ROOT, 'examples', 'sweep-grid.json');
  const example = dmalog(exampleFile, '--list');
  t.is(example.code, 0, example.stderr);
  t.is(example.stdout.trimEnd().split('\n').length, 48);
  const shown = /This is `examples\/sweep-grid\.json`[^`]*```json\n([\s\S]*?)```/.exec(readFileSync(path.join(ROOT, 'README.md'), 'utf8'));
  t.truthy(shown, 'README shows the example grid');
  t.deepEqual(JSON.parse(shown![1]!), JSON.parse(readFileSync(exampleFile, 'utf8')));
});

test('shards through the CLI, merged; merge refuses outputs of another grid', (t) => {
  const file = gridFile('run.json', SMALL);
  const out = path.join(dir, 'out-run');
  const one = dmalog(file, '--shard', '1/2', '--out', out, '--jobs', '1');
  t.is(one.code, 0, one.stderr);
  t.regex(one.stdout, /^sweep: 1 point of shard 1\/2 of grid [0-9a-f]{16} \(2 points\): ran 1 in /);
  // Without a terminal: the first progress line and the last.
  t.regex(one.stderr, /^sweep: 0\/1 points · \d+ s · converged 0, not converged 0, failed 0\nsweep: 1\/1 points · \d+ s · .* · converged 1, not converged 0, failed 0\n$/);
  t.is(dmalog(file, '--shard', '2/2', '--out', out, '--jobs', '1').code, 0);
  const merged = path.join(dir, 'out-merged');
  const m = dmalog('merge', path.join(out, 'sweep-shard-1-of-2.jsonl'), path.join(out, 'sweep-shard-2-of-2.jsonl'), '--out', merged, '--color', 'total');
  t.is(m.code, 0, m.stderr);
  t.regex(m.stdout, /^sweep merge: 2 of 2 points of grid [0-9a-f]{16} from 2 file\(s\): converged 2,/);
  const records = readFileSync(path.join(merged, 'sweep.jsonl'), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as SweepRecord);
  t.deepEqual(records.map((r) => r.axes['bandwidth']), ['16M', '32M']);
  t.true(readFileSync(path.join(merged, 'sweep.html'), 'utf8').includes('median total migration time'));
  // Running again resumes: nothing left to run.
  const again = dmalog(file, '--shard', '1/2', '--out', out);
  t.regex(again.stdout, /ran 0, skipped 1 done before/);
  // Another grid's output: refused, one line, exit 2.
  const otherOut = path.join(dir, 'out-other');
  t.is(dmalog(gridFile('other.json', { ...SMALL, axes: { bandwidth: ['32M'] } }), '--out', otherOut).code, 0);
  const mixed = dmalog('merge', path.join(out, 'sweep-shard-1-of-2.jsonl'), path.join(otherOut, 'sweep.jsonl'), '--out', path.join(dir, 'out-mixed'));
  usageError(t, mixed, `${path.join(otherOut, 'sweep.jsonl')}: holds points of grid `);
  t.true(mixed.stderr.includes('not one grid'));
  // The same dir given to a sweep of another grid: refused before anything runs.
  usageError(t, dmalog(file, '--out', otherOut), `${path.join(otherOut, 'sweep.jsonl')}: holds points of another grid`);
});

test('a point without a result makes the sweep exit 1, after recording every point', (t) => {
  // A 1 MiB memory limit refuses the run (DMALOG_NO_MEMORY) before it starts a thread.
  const file = gridFile('no-memory.json', { ...SMALL, axes: { maxMemory: ['1M'] } });
  const out = path.join(dir, 'out-no-memory');
  const r = dmalog(file, '--out', out);
  t.is(r.code, 1, r.stderr);
  t.regex(r.stdout, /error 1\n/);
  const [record] = readFileSync(path.join(out, 'sweep.jsonl'), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as SweepRecord);
  t.like(record, { outcome: 'error', result: null, error: { code: 'DMALOG_NO_MEMORY' } });
});
