// `dmalog serve` and the `server -v SOCKET` launcher as processes: --help with its defaults, usage
// errors (exit 2, one line), a stale socket file replaced, pino lines per message (debug) and per
// DEVICE_FEATURE (info), SIGTERM ending the sessions and unlinking the socket (exit 0), and the
// launcher exiting 0 when its one session ends.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { GuestMemory, VfioUserClient } from '../helpers/vfio-user-client.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const LAUNCHER = fileURLToPath(new URL('../../src/cli/sample-server.js', import.meta.url));

/** Run to the end without blocking the other tests (spawnSync would). */
function run(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { encoding: 'utf8', env: { ...process.env, DMALOG_LOG_LEVEL: 'silent' }, timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ status: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr });
    });
  });
}

function tmp(t: import('ava').ExecutionContext): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dmalog-serve-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function start(args: string[], logLevel = 'debug'): { child: ChildProcess; stderr: () => string; exit: Promise<number | null> } {
  const child = spawn(process.execPath, args, { env: { ...process.env, DMALOG_LOG_LEVEL: logLevel }, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, stderr: () => err, exit };
}

async function waitForSocket(p: string, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!existsSync(p)) {
    if (Date.now() > until) throw new Error(`${p} never appeared`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('--help shows every option and its default', async (t) => {
  const r = await run([MAIN, 'serve', '--help']);
  t.is(r.status, 0);
  for (const text of ['--socket PATH', '--device KIND', 'mlx5 (default)', '--quirks MODE', 'kernel (default)', '--drop-dirty-bit N', '(default: off)', '--memory SIZE', '(default 16M)', '--once', 'exit codes']) {
    t.true(r.stdout.includes(text), text);
  }
});

for (const [what, args, text] of [
  ['no socket', [], '--socket'],
  ['unknown device', ['--socket', '/tmp/x', '--device', 'gpu'], "--device: 'gpu'"],
  ['unknown quirks', ['--socket', '/tmp/x', '--quirks', 'qemu'], "--quirks: 'qemu'"],
  ['drop bit 0', ['--socket', '/tmp/x', '--drop-dirty-bit', '0'], "--drop-dirty-bit: '0'"],
  ['memory too small', ['--socket', '/tmp/x', '--memory', '4K'], "--memory: '4K'"],
  ['socket path too long', ['--socket', `/tmp/${'x'.repeat(120)}`], 'socket'],
] as Array<[string, string[], string]>) {
  test(`usage error, ${what}: one line, exit 2`, async (t) => {
    const r = await run([MAIN, 'serve', ...args]);
    t.is(r.status, 2);
    t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
    t.true(r.stderr.includes(text), r.stderr);
    t.true(r.stderr.includes('dmalog serve --help'));
  });
}

test('a path that is not a socket is refused: exit 2', async (t) => {
  const dir = tmp(t);
  const r = await run([MAIN, 'serve', '--socket', dir]);
  t.is(r.status, 2);
  t.true(r.stderr.includes('EEXIST'), r.stderr);
});

test('serve: a stale socket is replaced; log lines per message and per feature; SIGTERM ends it and unlinks the socket', async (t) => {
  const dir = tmp(t);
  const sock = path.join(dir, 'vfu.sock');
  // A server killed outright leaves its socket file behind.
  const stale = start([MAIN, 'serve', '--socket', sock], 'silent');
  await waitForSocket(sock);
  stale.child.kill('SIGKILL');
  await stale.exit;
  t.true(existsSync(sock));
  const s = start([MAIN, 'serve', '--socket', sock, '--device', 'pds']);
  t.teardown(() => { s.child.kill('SIGKILL'); });
  for (let i = 0; !s.stderr().includes('listening'); i++) {
    if (i > 500) return t.fail(`no listening line: ${s.stderr()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const client = await VfioUserClient.connect(sock);
  t.teardown(() => client.close());
  t.false((await client.version()).header.error);
  t.false((await client.stop()).header.error);
  const memory = new GuestMemory(1 << 16);
  t.teardown(() => memory.close());
  t.false((await client.dmaMap(memory, 0n, 0x10000n)).header.error);
  t.false((await client.start(4096n)).header.error);
  s.child.kill('SIGTERM');
  t.is(await s.exit, 0);
  t.false(existsSync(sock));
  t.is(await client.waitClosed(), 'eof');
  const lines = s.stderr().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  t.true(lines.some((l) => l['msg'] === 'message' && l['cmd'] === 'VERSION' && l['level'] === 20));
  t.true(lines.some((l) => typeof l['msg'] === 'string' && (l['msg'] as string).startsWith('DEVICE_FEATURE 7') && l['level'] === 30));
  t.true(lines.some((l) => l['msg'] === 'session ended while logging: STOP'));
  t.true(lines.some((l) => l['msg'] === 'server closed'));
});

test('the launcher `server -v SOCKET` serves the sample device for one session and exits 0 on EOF', async (t) => {
  const dir = tmp(t);
  const sock = path.join(dir, 'vfu.sock_migrated');
  const s = start([LAUNCHER, '-v', sock], 'warn');
  t.teardown(() => { s.child.kill('SIGKILL'); });
  await waitForSocket(sock);
  const client = await VfioUserClient.connect(sock);
  const v = await client.version();
  t.false(v.header.error);
  const info = await client.request(4, { kind: 'device-info', argsz: 16, flags: 0, numRegions: 0, numIrqs: 0, tail: new Uint8Array(0) });
  t.like(info.body, { numRegions: 9 });
  client.close();
  t.is(await s.exit, 0);
  t.true(s.stderr().includes('"cmd":"VERSION"'));
  const bad = await run([LAUNCHER]);
  t.is(bad.status, 2);
});
