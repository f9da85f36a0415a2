// `dmalog profile`: the pure parts (what counts as idle, naming the threads' files, source-mapped
// locations) on synthetic profiles, then a short real run whose threads are all named by role.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import test from 'ava';
import { UsageError } from '../../src/cli/args.js';
import { parseProfileArgs } from '../../src/cli/commands/profile.js';
import { kindOf, summarizeProfile, type CallFrame, type CpuProfile } from '../../src/profile/cpuprofile.js';
import { sourceMapper } from '../../src/profile/source-maps.js';
import { nameProfiles, parseThreadRoles, threadIdOf } from '../../src/profile/threads.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const MAIN = path.join(root, 'dist/src/cli/main.js');
const dir = mkdtempSync(path.join(os.tmpdir(), 'dmalog-profile-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

const frame = (functionName: string, url = '', lineNumber = 0, columnNumber = 0): CallFrame => ({ functionName, url, lineNumber, columnNumber });

test('kindOf: idle is the event loop\'s idle and a pool thread waiting for a task; V8\'s own time and GC apart', (t) => {
  t.is(kindOf(frame('(idle)')), 'idle');
  t.is(kindOf(frame('atomicsWaitLoop', 'file:///x/node_modules/piscina/dist/worker.js', 125)), 'idle');
  t.is(kindOf(frame('wait')), 'idle');
  t.is(kindOf(frame('(program)')), 'program');
  t.is(kindOf(frame('(garbage collector)')), 'gc');
  t.is(kindOf(frame('runBurst', 'file:///x/dist/src/dma/engine.js', 42)), 'work');
  t.is(kindOf(frame('atomicsWaitLoop', 'file:///x/dist/src/mine.js')), 'work', 'only piscina\'s loop is its idle wait');
  t.is(kindOf(frame('postMessage')), 'work');
});

test('summarizeProfile: self time by kind and by function; shares of the work exclude the idle time', (t) => {
  const profile: CpuProfile = {
    startTime: 0, endTime: 10_000,
    nodes: [
      { id: 1, callFrame: frame('(root)'), children: [2, 3, 4, 5, 6] },
      { id: 2, callFrame: frame('(idle)') },
      { id: 3, callFrame: frame('atomicsWaitLoop', 'file:///x/node_modules/piscina/dist/worker.js', 125) },
      { id: 4, callFrame: frame('runBurst', 'file:///x/dist/src/dma/engine.js', 42) },
      { id: 5, callFrame: frame('(garbage collector)') },
      { id: 6, callFrame: frame('markWord', 'file:///x/dist/src/device/dirty-log.js', 7) },
    ],
    // Each sample's time is the delta before it.
    samples: [2, 3, 4, 4, 4, 5, 6, 3],
    timeDeltas: [1000, 2000, 1000, 1000, 1000, 500, 1000, 3000],
  };
  const s = summarizeProfile(profile, { thread: 'dma-pool-1', file: 'dma-pool-1.cpuprofile', where: (f) => (f.url ? `at:${f.lineNumber + 1}` : '') });
  t.deepEqual(s.byKind, { work: 4, idle: 6, program: 0, gc: 0.5 });
  t.is(s.totalMs, 10.5);
  t.deepEqual(s.top.map((f) => [f.name, f.where, f.selfMs, f.share]), [['runBurst', 'at:43', 3, 0.75], ['markWord', 'at:8', 1, 0.25]]);
  t.deepEqual(s.idle.map((f) => [f.name, f.selfMs]), [['atomicsWaitLoop', 5], ['(idle)', 1]]);
});

test('threads: roles recorded by thread id name the files; pool roles are numbered, repeats get .2', (t) => {
  const files = ['CPU.20261203.1.100.0.001.cpuprofile', 'CPU.20261203.1.100.3.004.cpuprofile', 'CPU.20261203.1.100.1.002.cpuprofile',
    'CPU.20261203.1.100.2.003.cpuprofile', 'CPU.20261203.1.100.4.005.cpuprofile', 'CPU.20261203.1.100.5.006.cpuprofile', 'CPU.20261203.1.100.6.007.cpuprofile'];
  t.is(threadIdOf(files[1]!), 3);
  t.is(threadIdOf('main.cpuprofile'), null);
  const roles = parseThreadRoles('1 tracker-nic0\n2 dma-pool\n3 dma-pool\n4 iommufd\n5 tracker-nic0\nnot a line\n');
  t.deepEqual([...roles], [[1, 'tracker-nic0'], [2, 'dma-pool'], [3, 'dma-pool'], [4, 'iommufd'], [5, 'tracker-nic0']]);
  const names = nameProfiles(files, roles, (f) => (threadIdOf(f) === 6 ? 'worker-sweep' : null));
  t.deepEqual([...names.values()], ['main', 'tracker-nic0', 'dma-pool-1', 'dma-pool-2', 'iommufd-1', 'tracker-nic0.2', 'worker-sweep']);
  t.is(names.get(files[1]!), 'dma-pool-2');
  t.is(nameProfiles(['CPU.1.2.3.9.1.cpuprofile'], new Map()).get('CPU.1.2.3.9.1.cpuprofile'), 'thread-9');
});

test('sourceMapper: a frame in dist/src/*.js is shown at its line in src/*.ts; node: frames as they are', (t) => {
  const where = sourceMapper(root);
  const js = path.join(root, 'dist/src/dma/engine.js');
  const jsLine = readFileSync(js, 'utf8').split('\n').findIndex((l) => l.startsWith('export function runBurst'));
  const tsLine = readFileSync(path.join(root, 'src/dma/engine.ts'), 'utf8').split('\n').findIndex((l) => l.startsWith('export function runBurst'));
  t.true(jsLine >= 0 && tsLine >= 0);
  t.is(where(frame('runBurst', pathToFileURL(js).href, jsLine, 0)), `src/dma/engine.ts:${tsLine + 1}`);
  t.is(where(frame('x', 'node:internal/errors', 428)), 'node:internal/errors:429');
  t.is(where(frame('(idle)')), '');
});

test('profile arguments: its options before the command, the command\'s own after it; bad ones are usage errors', (t) => {
  t.like(parseProfileArgs(['--top', '5', '--dir=out/p', 'stress', '--top', '9']), { top: 5, dir: 'out/p', command: 'stress', args: ['--top', '9'] });
  t.regex(parseProfileArgs(['demo'], [], new Date('2026-12-03T06:30:00.000Z')).dir, /^profiles\/2026-12-03T06-30-00-000Z$/);
  t.is(parseProfileArgs(['bench', 'report'], ['bench']).command, 'bench');
  for (const bad of [[], ['--top', '0', 'demo'], ['--frob', 'demo'], ['profile', 'demo'], ['bench'], ['--dir']]) {
    t.throws(() => parseProfileArgs(bad), { instanceOf: UsageError }, bad.join(' '));
  }
});

test('dmalog profile migrate: one file per thread named by role and device, src/*.ts locations, idle apart from work', (t) => {
  const out = path.join(dir, 'run');
  // One mlx5 and one device without DMA logging: the IOMMU's thread runs too.
  const r = spawnSync(process.execPath, [MAIN, 'profile', '--dir', out, '--top', '40', 'migrate', '--ram', '16M', '--devices', 'mlx5:1,none:1', '--threads', '1', '--json'],
    { encoding: 'utf8', timeout: 100_000, env: { ...process.env, DMALOG_LOG_LEVEL: 'silent' } });
  t.is(r.status, 0, r.stderr);
  const files = readdirSync(out).sort();
  t.deepEqual(files, ['dma-pool-1.cpuprofile', 'iommufd-1.cpuprofile', 'main.cpuprofile', 'threads.txt', 'tracker-mlx5-0.cpuprofile', 'tracker-none-0.cpuprofile']);
  // The command's own output is as without the profiler: its JSON first on stdout.
  const summary = r.stdout.slice(r.stdout.indexOf('\n== CPU profiles'));
  t.is(JSON.parse(r.stdout.slice(0, r.stdout.indexOf('\n== CPU profiles'))).tracking, 'iommu');
  t.regex(summary, /== CPU profiles: 5 thread\(s\) in .* \(exit code 0\)/);
  for (const name of ['main', 'dma-pool-1', 'iommufd-1', 'tracker-mlx5-0', 'tracker-none-0']) t.regex(summary, new RegExp(`^-- ${name} \\(${name}\\.cpuprofile\\): \\d+ ms sampled: work \\d+ ms`, 'm'));
  // Our code is shown in the sources, never in dist/.
  t.false(/  dist\/(src|workers)\//.test(summary), summary);
  t.regex(summary, /  src\/[\w/-]+\.ts:\d+$/m, 'our functions at their line in src/*.ts');
  // The pool thread's wait for tasks is idle, and not among its work functions.
  const pool = summary.slice(summary.indexOf('-- dma-pool-1'), summary.indexOf('\n--', summary.indexOf('-- dma-pool-1') + 1));
  t.regex(pool.split('\n')[0]!, /idle \d+ ms \([\d.]+ %: .*atomicsWaitLoop \d+ ms/);
  t.false(pool.split('\n').slice(1).some((l) => l.includes('atomicsWaitLoop') || l.includes('(idle)')), pool);
  t.false(existsSync(path.join(out, 'CPU')), 'no file keeps its CPU.* name');
});

test('dmalog profile --help is profile\'s; no command is a usage error pointing at it', (t) => {
  const help = spawnSync(process.execPath, [MAIN, 'profile', '--help'], { encoding: 'utf8' });
  t.is(help.status, 0);
  t.true(help.stdout.startsWith('usage: dmalog profile [--top N] [--dir DIR] <command> [args...]'));
  const bare = spawnSync(process.execPath, [MAIN, 'profile'], { encoding: 'utf8', env: { ...process.env, DMALOG_LOG_LEVEL: 'silent' } });
  t.is(bare.status, 2);
  t.is(bare.stdout, '');
  t.regex(bare.stderr, /^dmalog: profile: which command\? .*\(see dmalog profile --help\)\n$/);
});
