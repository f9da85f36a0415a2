// Determinism: the same seed and options give the same result to the last digit, whatever the
// writer threads; page-version memory catches what byte memory catches, page for page.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { createGuestMemory } from '../../src/migration/guest-memory.js';
import { buildMemoryMap, iovaToRamOffset } from '../../src/migration/memory-map.js';
import { migrate, type MigrationProgress } from '../../src/migration/migration.js';
import type { MigrationOptions } from '../../src/migration/options.js';
import type { MigrationResult } from '../../src/migration/result.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const dir = mkdtempSync(path.join(os.tmpdir(), 'dmalog-determinism-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));
const P = 4096;

/** Runs `dmalog migrate` (concurrently with other calls: the point is that load changes nothing). */
function dmalog(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, 'migrate', ...args], { env: { ...process.env, DMALOG_LOG_LEVEL: 'silent' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const SCENARIO = ['--ram', '32M', '--devices', 'mlx5:2,pds:1', '--workload', 'vcpu=hot:8000,pds=uniform:3000', '--bandwidth', '48M', '--seed', '0x5eed'];

test.serial('--threads 1 and --threads 2 give byte-identical --json, in byte and in page-version mode, a restart included', async (t) => {
  const faulty = [...SCENARIO, '--policy', 'restart', '--fault', 'pds-0:2:report-error', '--auto-converge'];
  // Two at a time: each run has a dozen threads, and the point is only that they overlap.
  const [b1, b2] = await Promise.all([1, 2].map((n) => dmalog(...faulty, '--memory', 'bytes', '--threads', String(n), '--json')));
  const [v1, v2] = await Promise.all([1, 2].map((n) => dmalog(...faulty, '--memory', 'versions', '--threads', String(n), '--json')));
  for (const r of [b1!, b2!, v1!, v2!]) t.is(r.code, 0, r.stderr);
  // Progress goes to stderr with --json: the first pass, every sync, the check.
  t.regex(v1!.stderr, /^ *first pass: [\d,]+\/8,192 pages/m);
  t.regex(v1!.stderr, /^sync  2 pre /m);
  t.regex(v1!.stderr, /^ *final memory check: 8,192\/8,192 pages \(100 %\)/m);
  t.is(b1!.stdout, b2!.stdout);
  t.is(v1!.stdout, v2!.stdout);
  const bytes = JSON.parse(b1!.stdout) as MigrationResult;
  const versions = JSON.parse(v1!.stdout) as MigrationResult;
  t.is(bytes.scenario.memory, 'bytes');
  t.is(versions.scenario.memory, 'versions');
  t.deepEqual(bytes.recovery, { reportErrors: 1, restarts: 1, retired: 0 });
  // The loop never looks at page contents: both modes make the same run.
  t.deepEqual({ ...versions, scenario: { ...versions.scenario, memory: 'bytes' } }, bytes);
});

test.serial('--threads 1 and --threads 2 give byte-identical --json under IOMMU dirty tracking (a device that cannot log)', async (t) => {
  const iommu = ['--ram', '32M', '--devices', 'mlx5:1,none:1', '--workload', 'none=uniform:2000', '--seed', '11', '--max-iterations', '6', '--json'];
  const [a, b] = await Promise.all([1, 2].map((n) => dmalog(...iommu, '--threads', String(n))));
  t.true(a!.code === 0 || a!.code === 3, a!.stderr);
  t.is(a!.stdout, b!.stdout);
  t.is((JSON.parse(a!.stdout) as MigrationResult).tracking, 'iommu');
});

test.serial('the text summary and the HTML report are identical across --threads (wall time goes to stderr only)', async (t) => {
  const report = (n: number) => path.join(dir, `report-${n}.html`);
  const [a, b] = await Promise.all([1, 2].map((n) => dmalog(...SCENARIO, '--threads', String(n), '--report', report(n))));
  t.is(a!.code, 0, a!.stderr);
  t.is(b!.code, 0, b!.stderr);
  t.is(a!.stdout.replace(report(1), ''), b!.stdout.replace(report(2), ''));
  t.regex(a!.stderr, /^wall time: \d+\.\d\d s$/m);
  t.notRegex(a!.stdout, /wall/);
  t.is(readFileSync(report(1), 'utf8'), readFileSync(report(2), 'utf8'));
});

/** 48 MiB with 16 MiB above 4 GiB, uniform vCPU writes that keep landing on clean pages. */
const dropScenario: MigrationOptions = {
  ram: '48M', maxRamBelow4g: '32M', bandwidth: '32M', seed: 7, dropDirtyBit: true, writerThreads: 2,
  vcpuWorkload: { kind: 'uniform', rate: 4000 }, devices: [{ profile: 'mlx5' }, { profile: 'pds' }],
};

test.serial('page versions catch a lost dirty bit exactly as bytes do: the same page, the same check, the same run', async (t) => {
  const bytes = await migrate({ ...dropScenario, memory: 'bytes' });
  const versions = await migrate({ ...dropScenario, memory: 'versions' });
  t.is(versions.status, 'completed');
  t.not(versions.droppedPage, null);
  const map = buildMemoryMap({ ramBytes: 48 << 20, pageSize: P, maxRamBelow4g: 32 << 20 });
  const lost = iovaToRamOffset(map, BigInt(versions.droppedPage!)) / P;
  t.deepEqual(versions.check, { identical: false, pagesCompared: (48 << 20) / P, differingPages: 1, firstDiffering: [lost] });
  t.deepEqual({ ...versions, scenario: { ...versions.scenario, memory: 'bytes' } }, bytes);
});

test('page versions: a page sent before its last write, one never sent and one sent to the wrong place are all caught', (t) => {
  for (const mode of ['bytes', 'versions'] as const) {
    const m = createGuestMemory(mode, 1 << 20, P); // 256 pages
    m.fill(3n);
    m.send(0, 256);
    t.true(m.compare().identical, mode);
    // A write after the copy: the page is stale until sent again.
    if (mode === 'versions') Atomics.add(new Int32Array(m.source), 17, 1);
    else new Uint32Array(m.source)[17 * (P / 4)] ^= 1;
    t.true(m.stale(17));
    t.deepEqual(m.compare(), { identical: false, pagesCompared: 256, differingPages: 1, firstDiffering: [17] }, mode);
    m.send(17, 1);
    t.false(m.stale(17));
    const fresh = createGuestMemory(mode, 1 << 20, P);
    fresh.fill(3n);
    fresh.send(0, 200);
    t.deepEqual(fresh.compare().differingPages, 56, `${mode}: never sent`);
    // The wrong place: page 5's value in page 6's slot (every page starts distinct from its neighbours).
    const dst = new Uint32Array(fresh.destination);
    const src = new Uint32Array(fresh.source);
    const per = mode === 'versions' ? 1 : P / 4;
    dst.set(src.subarray(5 * per, 6 * per), 6 * per);
    t.true(fresh.stale(6), `${mode}: misplaced`);
  }
});

test.serial('progress: the first pass after every window, every sync, and the check up to its total', async (t) => {
  const events: MigrationProgress[] = [];
  const r = await migrate({ ram: '16M', vcpus: 1, devices: [{ profile: 'mlx5' }], bandwidth: '8M', writerThreads: 1, memory: 'versions' }, { onProgress: (e) => events.push(e) });
  t.is(r.status, 'completed');
  const pages = (16 << 20) / P;
  const first = events.filter((e) => e.kind === 'first-pass');
  // 16 MiB at 8 MiB/s: the pass takes windows, reported as they end, up to the first pass's end.
  t.true(first.length >= 10, String(first.length));
  const done = first.map((e) => e.donePages);
  t.deepEqual(done, [...done].sort((a, b) => a - b));
  t.true(first.every((e) => e.totalPages === pages && e.donePages <= pages));
  t.is(first.at(-1)!.donePages, pages);
  t.is(events.filter((e) => e.kind === 'sync').length, r.iterations);
  const check = events.filter((e) => e.kind === 'check');
  t.deepEqual(check.at(-1), { kind: 'check', donePages: pages, totalPages: pages });
  // Order: the first pass starts after sync 1 and ends before the final sync; the check comes last.
  const kinds = events.map((e) => (e.kind === 'sync' ? `sync${e.stats.iteration}` : e.kind));
  t.true(kinds.indexOf('sync1') < kinds.indexOf('first-pass'));
  t.true(kinds.lastIndexOf('first-pass') < kinds.indexOf(`sync${r.iterations}`));
  t.is(kinds.at(-1), 'check');
});
