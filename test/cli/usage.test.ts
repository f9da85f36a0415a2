// Bad command-line input, every class of it, on every command: one line on stderr naming the bad
// value, exit code 2, no stack trace, nothing on stdout.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { isUsageError } from '../helpers/cli.js';
import { UsageError, parseDuration, parseSize } from '../../src/cli/args.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const dir = mkdtempSync(path.join(os.tmpdir(), 'dmalog-usage-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

function dmalog(args: string[], logLevel = 'silent') {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, DMALOG_LOG_LEVEL: logLevel } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const badJson = path.join(dir, 'bad.json');
writeFileSync(badJson, '{ "ram": "64M", ');
const badSchema = path.join(dir, 'schema.json');
writeFileSync(badSchema, JSON.stringify({ ram: '4Q' }));
// Past the 1 MiB cap on a config file, but valid JSON: only the cap refuses it.
const hugeConfig = path.join(dir, 'huge.json');
writeFileSync(hugeConfig, `{"ram": "64M"${' '.repeat(1 << 20)}}`);
// Opening a FIFO for reading blocks until a writer comes: it must be refused without opening it.
const fifo = path.join(dir, 'fifo.json');
execFileSync('mkfifo', [fifo]);
const missingDir = path.join(dir, 'no-such-dir', 'report.html');

// [class, argv, text the one line must contain]
const CASES: Array<[string, string[], string]> = [
  ['unknown command', ['frobnicate'], "'frobnicate'"],
  ['unknown option (migrate)', ['migrate', '--frobnicate'], '--frobnicate'],
  ['unknown option (stress)', ['stress', '--frobnicate'], '--frobnicate'],
  ['unknown option (fuzz)', ['fuzz', '--frobnicate'], '--frobnicate'],
  ['unknown option (demo)', ['demo', '--frobnicate'], '--frobnicate'],
  ['stray argument', ['stress', 'extra'], "'extra'"],
  ['size with a bad unit', ['migrate', '--ram', '4Q'], "--ram: '4Q'"],
  ['negative size', ['migrate', '--ram', '-1G'], "--ram: '-1G'"],
  ['negative size, = form', ['migrate', '--bandwidth=-1G'], "--bandwidth: '-1G'"],
  ['size past any float', ['migrate', '--ram', '1e400'], "--ram: '1e400'"],
  ['size too big for 64 bits', ['stress', '--guest', '99999P'], "--guest: '99999P'"],
  ['zero size', ['migrate', '--bandwidth', '0'], "--bandwidth: '0'"],
  ['malformed duration', ['migrate', '--downtime', '3 weeks'], "--downtime: '3 weeks'"],
  ['negative duration', ['stress', '--seconds', '-1s'], "--seconds: '-1s'"],
  ['duration past any float', ['stress', '--seconds', '1e400'], "--seconds: '1e400'"],
  ['device spec, unknown profile', ['migrate', '--devices', 'mlx5:2,gpu:1'], 'gpu'],
  ['device spec, bad count', ['migrate', '--devices', 'mlx5:x'], "'mlx5:x'"],
  ['not a whole number', ['fuzz', '--calls', '1e400'], "--calls: '1e400'"],
  ['negative seed', ['fuzz', '--seed', '-3'], "--seed: '-3'"],
  ['rate out of range', ['stress', '--faults', '2'], "--faults: '2'"],
  ['config file missing', ['migrate', '--config', path.join(dir, 'missing.json')], 'missing.json'],
  ['config file is a directory', ['migrate', '--config', dir], dir],
  ['config file not JSON', ['migrate', '--config', badJson], 'bad.json'],
  ['config file failing the schema', ['migrate', '--config', badSchema], 'ram'],
  ['config file that never ends', ['migrate', '--config', '/dev/zero'], '/dev/zero'],
  ['config file past 1 MiB', ['migrate', '--config', hugeConfig], 'huge.json'],
  ['config file is a FIFO', ['migrate', '--config', fifo], 'fifo.json'],
  ['guest of a petabyte', ['migrate', '--ram', '1P'], "--ram '1P'"],
  ['guest past the typed-array limit in byte mode', ['migrate', '--ram', '17G', '--memory', 'bytes'], "--ram '17G'"],
  ['guest past 4 TiB (page versions)', ['migrate', '--ram', '5T'], "--ram '5T'"],
  ['memory mode unknown', ['migrate', '--memory', 'pages'], '--memory'],
  ['guest past 2^53 bytes', ['migrate', '--ram', '16000P'], "--ram '16000P'"],
  ['guest past the memory limit', ['migrate', '--ram', '1G', '--max-memory', '1G'], "--ram '1G'"],
  ['bandwidth below the floor', ['migrate', '--bandwidth', '1'], "--bandwidth '1'"],
  ['link speed below the floor', ['migrate', '--link-speed', '8M'], "--link-speed '8M'"],
  ['link speed as a bare number (bytes/s before)', ['migrate', '--link-speed', '1250000000'], "--link-speed: '1250000000' has no unit"],
  ['link speed in bytes', ['migrate', '--link-speed', '10GB'], "--link-speed: '10GB'"],
  ['link slower than the bandwidth', ['migrate', '--bandwidth', '256M', '--link-speed', '128M'], "--link-speed '128M'"],
  ['max-time above a day', ['migrate', '--max-time', '25h'], "--max-time '25h'"],
  ['writer rate past any device', ['migrate', '--workload', 'vcpu=hot:999999999999'], 'vcpuWorkload.rate'],
  ['fault at a sync that cannot come', ['migrate', '--fault', 'mlx5-1:300:tracker-error'], 'faults[0].iteration'],
  ['report path is a directory', ['migrate', '--report', dir], dir],
  ['report path is a device', ['migrate', '--report', '/dev/full'], '/dev/full'],
  ['report path ends in a slash', ['migrate', '--report', `${dir}/`], dir],
  ['report directory missing', ['migrate', '--report', missingDir], 'no-such-dir'],
  ['seed past 64 bits (migrate)', ['migrate', '--seed', '18446744073709551616'], "--seed: '18446744073709551616'"],
  ['seed past 64 bits, hex (migrate)', ['migrate', '--seed', '0x10000000000000000'], "--seed: '0x10000000000000000'"],
  ['negative seed (migrate)', ['migrate', '--seed', '-1'], "--seed: '-1'"],
  ['seed past 64 bits (stress)', ['stress', '--seed', '0x10000000000000000'], "--seed: '0x10000000000000000'"],
  ['negative seed (stress)', ['stress', '--seed', '-1'], "--seed: '-1'"],
  ['seed past 64 bits (fuzz)', ['fuzz', '--seed', '18446744073709551616'], "--seed: '18446744073709551616'"],
];

for (const [what, argv, names] of CASES) {
  test(`usage error: ${what}`, (t) => {
    isUsageError(t, dmalog(argv), names);
  });
}

test('a usage error points at the help of the command it came from; before a command, at the top-level help', (t) => {
  for (const command of ['migrate', 'stress', 'fuzz', 'demo']) {
    const r = dmalog([command, '--frobnicate']);
    t.is(r.code, 2);
    t.true(r.stderr.trimEnd().endsWith(`(see dmalog ${command} --help)`), r.stderr);
  }
  const r = dmalog(['frobnicate']);
  t.true(r.stderr.trimEnd().endsWith('(see dmalog --help)'), r.stderr);
});

test('usage error: a DMALOG_LOG_LEVEL nobody can use, one line naming it, exit 2, for every command; --help still works', (t) => {
  for (const command of ['migrate', 'stress', 'fuzz', 'demo']) {
    const r = dmalog([command], 'chatty');
    t.is(r.code, 2, r.stderr);
    t.is(r.stdout, '');
    const lines = r.stderr.trimEnd().split('\n');
    t.is(lines.length, 1, r.stderr);
    t.true(lines[0]!.startsWith("dmalog: DMALOG_LOG_LEVEL: 'chatty' must be one of fatal, error, warn, info, debug, trace, silent"), lines[0]);
  }
  t.is(dmalog(['migrate', '--help'], 'chatty').code, 0);
});

test('a refused --report path creates no directory', (t) => {
  t.is(dmalog(['migrate', '--report', missingDir]).code, 2);
  t.false(existsSync(path.dirname(missingDir)));
});

test('sizes: binary units, fractions, exact bytes', (t) => {
  t.is(parseSize('4096', 'x'), 4096n);
  t.is(parseSize('64K', 'x'), 64n << 10n);
  t.is(parseSize('512M', 'x'), 512n << 20n);
  t.is(parseSize('4G', 'x'), 1n << 32n);
  t.is(parseSize('1.5G', 'x'), 3n << 29n);
  t.is(parseSize('2GiB', 'x'), 2n << 30n);
  for (const bad of ['', 'G', '4Q', '-1G', '1e400', '0', '0.0001', '16385P']) t.throws(() => parseSize(bad, 'x'), { instanceOf: UsageError }, bad);
});

test('durations: ms, s, m, h; a bare number is milliseconds', (t) => {
  t.is(parseDuration('300ms', 'x'), 300);
  t.is(parseDuration('2s', 'x'), 2000);
  t.is(parseDuration('1.5s', 'x'), 1500);
  t.is(parseDuration('5m', 'x'), 300_000);
  t.is(parseDuration('250', 'x'), 250);
  for (const bad of ['', 's', '-1s', '3 weeks', '1e400', '0ms']) t.throws(() => parseDuration(bad, 'x'), { instanceOf: UsageError }, bad);
});
