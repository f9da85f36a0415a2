// What every command does when its reader goes away (`| head -1`) and when dmalog itself breaks:
// neither may end in an EPIPE trace, and a bug has its own exit code, never "a check failed".
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { EXIT } from '../../src/cli/args.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const ENV = { ...process.env, DMALOG_LOG_LEVEL: 'silent' };
const dir = mkdtempSync(path.join(os.tmpdir(), 'dmalog-exit-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

/**
 * `dmalog ARGS | head -1` in bash, as a user types it: a real pipe whose reader exits after one
 * line. Returns dmalog's own exit code (PIPESTATUS), what head printed and dmalog's stderr.
 */
function headOne(args: string[]): { code: number; first: string; stderr: string } {
  const err = path.join(dir, `stderr-${process.hrtime.bigint()}`);
  const quoted = [process.execPath, MAIN, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
  const r = spawnSync('bash', ['-c', `${quoted} 2>'${err}' | head -1; exit \${PIPESTATUS[0]}`], { encoding: 'utf8', env: ENV, timeout: 60_000 });
  return { code: r.status ?? -1, first: r.stdout, stderr: readFileSync(err, 'utf8') };
}

const noStack = (stderr: string) => !/^\s+at /m.test(stderr);

test('demo | head -1: the reader going away drops the output, not the outcome (exit 0, no trace)', (t) => {
  const r = headOne(['demo']);
  t.not(r.first, '');
  t.is(r.code, EXIT.ok, r.stderr);
  t.true(noStack(r.stderr), r.stderr);
});

test('stress | head -1: exit code of the run, no EPIPE trace', (t) => {
  const r = headOne(['stress', '--report-sets', '20', '--seed', '1', '--trackers', '1', '--queues', '1', '--threads', '1']);
  t.true(r.first.startsWith('SEED=1'));
  t.is(r.code, EXIT.ok, r.stderr);
  t.true(noStack(r.stderr), r.stderr);
});

test('migrate | head -1 still writes its --report and keeps the run exit code', (t) => {
  const report = path.join(dir, 'head.html');
  const r = headOne(['migrate', '--ram', '16M', '--threads', '1', '--report', report]);
  t.is(r.code, EXIT.ok, r.stderr);
  t.true(noStack(r.stderr), r.stderr);
  t.true(existsSync(report));
});

// Preloads that break dmalog the way a bug in it would (main thread only; workers are left alone).
const preload = (code: string) =>
  `data:text/javascript,${encodeURIComponent(`import { isMainThread } from 'node:worker_threads'; if (isMainThread) { ${code} }`)}`;
// Once the command prints its first line, i.e. while it runs.
const whileRunning = (code: string) =>
  `const write = process.stdout.write.bind(process.stdout); process.stdout.write = (...a) => { process.stdout.write = write; setImmediate(() => { ${code} }); return write(...a); };`;

const BUGS: Array<[string, string]> = [
  ['uncaught exception', whileRunning("throw new Error('bug');")],
  ['unhandled rejection', whileRunning("Promise.reject(new Error('bug'));")],
  // The host's user memory (16 MiB) refused: createHost rejects with a RangeError, no UsageError.
  ['a library error out of a command',
    "const Real = SharedArrayBuffer; globalThis.SharedArrayBuffer = new Proxy(Real, { construct: (c, a) => { if (a[0] >= 1 << 24) throw new RangeError('no memory'); return Reflect.construct(c, a); } });"],
];

for (const [what, code] of BUGS) {
  test(`an internal error (${what}) exits ${EXIT.internal}, not ${EXIT.failed}`, (t) => {
    const r = spawnSync(process.execPath, ['--import', preload(code), MAIN, 'demo'], { encoding: 'utf8', env: ENV, timeout: 60_000 });
    t.is(r.status, EXIT.internal, r.stderr);
    t.true(r.stderr.includes('dmalog: internal error'), r.stderr);
  });
}
