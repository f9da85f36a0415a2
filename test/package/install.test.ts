// The package as a user gets it: `npm pack` the checkout, `npm ci` the tarball into an empty ESM
// TypeScript project, then type-check and run the README's library example and the CLI from there.
//
// No network: the consumer's lockfile is the runtime part of this repository's own lockfile (plus
// @types/node, which any TypeScript project on Node has), so `npm ci --offline` takes every tarball
// from the npm cache that this checkout's `npm ci` filled, and installs the very versions the
// suite ran against. A cache without them (a checkout installed some other way) falls back to the
// registry; with no registry either the tests skip, except under CI where that is a failure.
import { execFile, spawnSync, type ExecFileException } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';

interface LockEntry { version?: string; dev?: boolean; dependencies?: Record<string, string>; optionalDependencies?: Record<string, string> }
interface Lockfile { packages: Record<string, LockEntry> }
interface Manifest { name: string; version: string; license: string; engines: Record<string, string>; bin: Record<string, string>; dependencies: Record<string, string>; devDependencies: Record<string, string> }
interface Run { code: number; stdout: string; stderr: string }

const root = fileURLToPath(new URL('../../../', import.meta.url));
const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as Manifest;
const lock = JSON.parse(readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as Lockfile;
const TSC = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const examples = [...readFileSync(path.join(root, 'README.md'), 'utf8').matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]!);

// npm exports its own settings to the scripts it runs (npm test): npm_config_local_prefix would
// point a child npm at this checkout instead of the consumer. The child reads .npmrc itself.
const env: NodeJS.ProcessEnv = { DMALOG_LOG_LEVEL: 'silent' };
for (const [k, v] of Object.entries(process.env)) if (!k.toLowerCase().startsWith('npm_') || k === 'npm_config_cache') env[k] = v;

function runSync(file: string, args: string[], cwd: string): Run {
  const r = spawnSync(file, args, { cwd, env, timeout: 60_000, encoding: 'utf8', maxBuffer: 16 << 20 });
  return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr + (r.error ? String(r.error) : '') };
}

function run(file: string, args: string[], cwd: string, timeout = 30_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd, env, timeout, encoding: 'utf8', maxBuffer: 16 << 20 }, (error: ExecFileException | null, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

/** Lock paths of `names` and everything they need, resolved the way Node walks up node_modules. */
function closure(names: string[]): string[] {
  const found = new Set<string>();
  const visit = (from: string, name: string) => {
    for (let dir = from; ; dir = dir.replace(/\/?node_modules\/(@[^/]+\/)?[^/]+$/, '')) {
      const key = `${dir ? `${dir}/` : ''}node_modules/${name}`;
      if (lock.packages[key]) {
        if (found.has(key)) return;
        found.add(key);
        const entry = lock.packages[key]!;
        for (const dep of Object.keys({ ...entry.dependencies, ...entry.optionalDependencies })) visit(key, dep);
        return;
      }
      if (!dir) return; // optional dependency for another platform, not in the lock
    }
  };
  for (const name of names) visit('', name);
  return [...found];
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'dmalog-install-'));
const consumer = path.join(dir, 'consumer');
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Packs the checkout (already built: npm test builds first) and installs it; null when it
 * installed, else why not. Synchronous: ava wants every test declared before the file yields, and
 * whether they run or skip depends on this.
 */
function install(): string | null {
  // --ignore-scripts: prepare would rebuild dist/ under the other test files running from it.
  const pack = runSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], root);
  if (pack.code !== 0) throw new Error(`npm pack failed: ${pack.stderr}`);
  const [{ filename }] = JSON.parse(pack.stdout) as [{ filename: string }];
  const tarball = `file:../${filename}`;
  const packages: Record<string, unknown> = {
    '': { name: 'consumer', dependencies: { dmalog: tarball }, devDependencies: { '@types/node': manifest.devDependencies['@types/node'] } },
    'node_modules/dmalog': { version: manifest.version, resolved: tarball, license: manifest.license, dependencies: manifest.dependencies, engines: manifest.engines, bin: manifest.bin },
  };
  for (const key of closure(Object.keys(manifest.dependencies))) packages[key] = { ...lock.packages[key], dev: undefined };
  for (const key of closure(['@types/node'])) packages[key] ??= { ...lock.packages[key], dev: true };
  mkdirSync(consumer);
  writeFileSync(path.join(consumer, 'package.json'), JSON.stringify({
    name: 'consumer', private: true, type: 'module',
    dependencies: { dmalog: tarball }, devDependencies: { '@types/node': manifest.devDependencies['@types/node'] },
  }, null, 2));
  writeFileSync(path.join(consumer, 'package-lock.json'), JSON.stringify({ name: 'consumer', lockfileVersion: 3, requires: true, packages }, null, 2));

  const offline = runSync('npm', ['ci', '--offline', '--no-audit', '--no-fund'], consumer);
  if (offline.code === 0) return null;
  if (!/ENOTCACHED/.test(offline.stderr)) throw new Error(`npm ci --offline failed: ${offline.stderr}`);
  const online = runSync('npm', ['ci', '--prefer-offline', '--fetch-retries=0', '--fetch-timeout=15000', '--no-audit', '--no-fund'], consumer);
  if (online.code === 0) return null;
  return `the npm cache lacks dmalog's dependencies and the registry is unreachable:\n${online.stderr}`;
}

// A throw here fails the file before ava's hooks exist: remove the temporary folder first.
function installOrClean(): string | null {
  try {
    const why = install();
    if (why !== null && process.env.CI === 'true') throw new Error(`cannot install the packed tarball under CI: ${why}`);
    return why;
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
const skipped = installOrClean();
const check = skipped === null ? test : test.skip;
if (skipped !== null) test('installing the packed tarball (skipped: no npm cache, no registry)', (t) => { t.log(skipped); t.pass(); });

/** `source` as `name` in the consumer, compiled by this repository's tsc against the installed package. */
async function typecheck(name: string, source: string): Promise<Run> {
  writeFileSync(path.join(consumer, name), source);
  const config = `tsconfig.${name}.json`;
  writeFileSync(path.join(consumer, config), JSON.stringify({
    compilerOptions: {
      target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2023'], types: ['node'],
      strict: true, noEmit: true, skipLibCheck: false, // dmalog's declarations are checked too
    },
    files: [name],
  }));
  return run(process.execPath, [TSC, '-p', config], consumer);
}

check('the tarball holds the built library, CLI, thread entry points and docs, no tests', (t) => {
  const installed = path.join(consumer, 'node_modules', 'dmalog');
  for (const file of ['dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/index.d.ts.map', 'dist/workers/tracker.js', 'dist/workers/dma.js', 'src/index.ts', 'README.md', 'LICENSE', 'CHANGELOG.md']) {
    t.true(statSync(path.join(installed, file), { throwIfNoEntry: false })?.isFile() ?? false, file);
  }
  for (const dir of ['dist/test', 'dist/perf', 'test', 'perf', '.ci', '.github']) {
    t.is(statSync(path.join(installed, dir), { throwIfNoEntry: false }), undefined, dir);
  }
  const main = path.join(installed, manifest.bin.dmalog!);
  t.true(readFileSync(main, 'utf8').startsWith('#!/usr/bin/env node\n'));
  t.is(statSync(main).mode & 0o111, 0o111, 'the bin is executable');
});

check('the README library example type-checks against the installed package', async (t) => {
  const r = await typecheck('example.ts', examples[0]!);
  t.is(r.code, 0, r.stdout + r.stderr);
  t.is(r.stdout, '');
});

check('a wrong profile name in the README example fails the type check, naming the profile', async (t) => {
  const source = examples[0]!.replace("profile: 'pds'", "profile: 'pdss'");
  t.not(source, examples[0]);
  const r = await typecheck('wrong-profile.ts', source);
  t.not(r.code, 0, r.stdout);
  const errors = r.stdout.trim().split('\n');
  t.is(errors.length, 1, r.stdout);
  t.regex(errors[0]!, /^wrong-profile\.ts\(\d+,\d+\): error TS2820: Type '"pdss"' is not assignable to type 'ProfileName'\. Did you mean '"pds"'\?$/);
});

check('the README examples run from the consumer project and print what their comments say', async (t) => {
  const outputs = [];
  for (const [i, source] of examples.entries()) {
    writeFileSync(path.join(consumer, `example-${i}.mjs`), source);
    const r = await run(process.execPath, [`example-${i}.mjs`], consumer);
    t.is(r.code, 0, r.stderr);
    outputs.push(r.stdout.trim().split('\n'));
  }
  t.deepEqual(outputs, [
    ['chosen page size 4096n', 'dirty pages [ 5, 6, 9 ]', 'ENOTTY 25'],
    ['dirty pages 2', 'DMALOG_ZEROING_RULE', 'nic0 EIO restarted, nvme0 ok none', 'dirty pages 256'],
  ]);
});

check('npx dmalog --version and --help from the consumer project', async (t) => {
  const version = await run('npx', ['--offline', 'dmalog', '--version'], consumer);
  t.is(version.code, 0, version.stderr);
  t.is(version.stdout, `${manifest.version}\n`);
  const help = await run('npx', ['--offline', 'dmalog', '--help'], consumer);
  t.is(help.code, 0, help.stderr);
  t.regex(help.stdout, /^usage: dmalog <command> \[options\]/m);
  t.regex(help.stdout, /dmalog --version/);
});

check('npx dmalog stress from the consumer project finds its thread entry points (trackers and DMA pool)', async (t) => {
  const r = await run('npx', ['--offline', 'dmalog', 'stress', '--trackers', '2', '--report-sets', '10', '--threads', '2', '--seed', '1', '--json'], consumer);
  t.is(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout) as { seed: string; devices: Array<{ name: string }>; reportSets: number; writes: number; lost: number; imprecise: number; ok: boolean };
  t.is(summary.seed, '1');
  t.deepEqual(summary.devices.map((d) => d.name), ['mlx5-0', 'pds-1']);
  t.is(summary.reportSets, 10);
  t.true(summary.writes > 0);
  t.is(summary.lost, 0);
  t.is(summary.imprecise, 0);
  t.true(summary.ok);
});

check('npx dmalog profile from the consumer project: threads named by role, locations in the shipped src/*.ts', async (t) => {
  const out = path.join(dir, 'profiles');
  const r = await run('npx', ['--offline', 'dmalog', 'profile', '--dir', out, '--top', '30', 'stress', '--trackers', '1', '--report-sets', '20', '--threads', '1', '--seed', '1'], consumer, 60_000);
  t.is(r.code, 0, r.stderr);
  t.deepEqual(readdirSync(out).filter((f) => f.endsWith('.cpuprofile')).sort(), ['dma-pool-1.cpuprofile', 'main.cpuprofile', 'tracker-mlx5-0.cpuprofile']);
  // Paths are the installed package's own sources, relative to it.
  t.regex(r.stdout, /  src\/[\w/-]+\.ts:\d+$/m);
  t.false(/  dist\/(src|workers)\//.test(r.stdout), r.stdout);
});
