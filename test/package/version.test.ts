// `dmalog --version`: the version of the package it was installed from, read at run time.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import test from 'ava';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const { version } = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

function dmalog(args: string[]) {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, DMALOG_LOG_LEVEL: 'silent' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('package.json has a semver version', (t) => {
  t.regex(version, /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/);
});

for (const flag of ['--version', '-V']) {
  test(`dmalog ${flag} prints the package version alone, exit 0`, (t) => {
    const r = dmalog([flag]);
    t.is(r.code, 0, r.stderr);
    t.is(r.stdout, `${version}\n`);
    t.is(r.stderr, '');
  });
}

test('the top-level help lists --version', (t) => {
  const r = dmalog(['--help']);
  t.is(r.code, 0);
  t.regex(r.stdout, /dmalog --version/);
});

test('--version after a command is that command\'s unknown option, exit 2', (t) => {
  const r = dmalog(['demo', '--version']);
  t.is(r.code, 2);
  t.regex(r.stderr, /^dmalog: .*--version/);
});
