#!/usr/bin/env node
// A/B of the memory-access layer (src/util/shared-access.ts) against another build of dmalog
// (`node dist/perf/layer-ab.js /path/to/other/checkout`, built with `npx tsc -p .` there), in one
// process: DirtyLog and IovaBitmap of both builds run the same loops, alternating in short rounds,
// A then B then B then A, and each round pair gives one ratio; the median over hundreds of pairs
// is robust to a machine shared with other work, where `npm run bench` rows (each against a
// baseline measured seconds apart) swing by tens of percent. A control row runs the other build
// against a second copy of itself (the harness's own bias: it should print 1.00).
import { cpSync, existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

interface Build {
  DirtyLog: new (d: unknown) => { markWriteNumber(iova: number, length: number): number; readAndClear(iova: bigint, length: bigint, bitmap: unknown): unknown; countDirty(): number };
  planLog: (T: bigint, ranges: Array<{ iova: bigint; length: bigint }>, max: number) => { buffer: SharedArrayBuffer; logWords: number };
  IovaBitmap: new (memory: SharedArrayBuffer, at: number, window: { iova: bigint; length: bigint; pageSize: bigint }) => unknown;
}

async function load(root: string): Promise<Build> {
  const dist = path.join(root, 'dist', 'src');
  const url = (f: string) => pathToFileURL(path.join(dist, f)).href;
  const log = await import(url('device/dirty-log.js')) as Pick<Build, 'DirtyLog' | 'planLog'>;
  const bitmap = await import(url('bitmap/iova-bitmap.js')) as Pick<Build, 'IovaBitmap'>;
  return { ...log, ...bitmap };
}

const T = 4096n;
const GiB = 1n << 30n;

/** A case: `make` builds its state on one build and returns the function timed (one round). */
type Case = { name: string; make: (b: Build) => () => void };

/**
 * The timed loop as a function of its own per build: closures of one function literal share its
 * type feedback, and a call site seeing both builds' DirtyLog maps would be polymorphic in both
 * measurements.
 */
function fresh<A extends unknown[]>(params: string, body: string): (...args: A) => () => void {
  return new Function(params, `return () => {${body}};`) as (...args: A) => () => void;
}

function randomPages(n: number, range: number, seed: number): Int32Array {
  const pages = new Int32Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) { x = (Math.imul(x, 1103515245) + 12345) >>> 0; pages[i] = x % range; }
  return pages;
}

const CASES: Case[] = [
  {
    // perf/logging.bench.ts "1 thread, markWriteNumber": 4 GiB tracked, random pages.
    name: 'markWriteNumber, 4 GiB tracked, random 4 KiB pages',
    make: (b) => {
      const log = new b.DirtyLog(b.planLog(T, [{ iova: 0n, length: 4n * GiB }], 1 << 30));
      const pages = randomPages(1 << 15, 1 << 20, 1);
      return fresh<[typeof log, Int32Array]>('log, pages', 'for (let i = 0; i < pages.length; i++) log.markWriteNumber(pages[i] * 4096, 4096);')(log, pages);
    },
  },
  ...[0.01, 0.5].map((fraction) => ({
    // perf/report.bench.ts "1 GiB tracked, 1 % / 50 % dirty": the log restored (a plain copy of a
    // marked template), then one REPORT of the whole span.
    name: `REPORT, 1 GiB tracked, ${fraction * 100} % dirty`,
    make: (b: Build) => {
      const d = b.planLog(T, [{ iova: 0n, length: GiB }], 1 << 30);
      const log = new b.DirtyLog(d);
      const pages = randomPages(Math.round(262144 * fraction), 262144, 7);
      for (let i = 0; i < pages.length; i++) log.markWriteNumber(pages[i]! * 4096, 4096);
      const words = new Int32Array(d.buffer);
      const template = words.slice();
      const memory = new SharedArrayBuffer(262144 / 8);
      return fresh<[typeof log, Int32Array, Int32Array, Build['IovaBitmap'], SharedArrayBuffer]>('log, words, template, IovaBitmap, memory', `
        words.set(template);
        log.readAndClear(0n, ${GiB}n, new IovaBitmap(memory, 0, { iova: 0n, length: ${GiB}n, pageSize: ${T}n }));`)(log, words, template, b.IovaBitmap, memory);
    },
  })),
  {
    // perf/report.bench.ts "1 TiB tracked, 0.01 % dirty": the summary levels skip almost the whole
    // log. Restoring a 32 MiB log by copy would outweigh the REPORT, so only its non-zero words
    // (log and summaries) are put back, by the same plain loop in both builds.
    name: 'REPORT, 1 TiB tracked, 0.01 % dirty',
    make: (b: Build) => {
      const span = 1n << 40n;
      const pageCount = Number(span / T);
      const d = b.planLog(T, [{ iova: 0n, length: span }], 1 << 30);
      const log = new b.DirtyLog(d);
      const pages = randomPages(Math.round(pageCount * 0.0001), pageCount, 11);
      for (let i = 0; i < pages.length; i++) log.markWriteNumber(pages[i]! * 4096, 4096);
      const words = new Int32Array(d.buffer);
      const at: number[] = [];
      for (let i = 0; i < words.length; i++) if (words[i] !== 0) at.push(i);
      const index = Int32Array.from(at);
      const value = Int32Array.from(at, (i) => words[i]!);
      const memory = new SharedArrayBuffer(pageCount / 8);
      return fresh<[typeof log, Int32Array, Int32Array, Int32Array, Build['IovaBitmap'], SharedArrayBuffer]>('log, words, index, value, IovaBitmap, memory', `
        for (let i = 0; i < index.length; i++) words[index[i]] = value[i];
        log.readAndClear(0n, ${span}n, new IovaBitmap(memory, 0, { iova: 0n, length: ${span}n, pageSize: ${T}n }));`)(log, words, index, value, b.IovaBitmap, memory);
    },
  },
];

function ratioMedian(a: () => void, b: () => void, pairs: number): { median: number; q1: number; q3: number } {
  const time = (f: () => void) => { const t0 = performance.now(); f(); return performance.now() - t0; };
  for (let i = 0; i < 30; i++) { a(); b(); }
  const ratios: number[] = [];
  for (let r = 0; r < pairs; r++) {
    // ABBA: order effects cancel within a pair of pairs.
    if (r % 2 === 0) { const ta = time(a); const tb = time(b); ratios.push(ta / tb); } else { const tb = time(b); const ta = time(a); ratios.push(ta / tb); }
  }
  ratios.sort((x, y) => x - y);
  const at = (f: number) => ratios[Math.floor(f * (ratios.length - 1))]!;
  return { median: at(0.5), q1: at(0.25), q3: at(0.75) };
}

async function main(): Promise<number> {
  const other = process.argv[2];
  const pairs = Number(process.argv[3] ?? 400);
  if (!other || !existsSync(path.join(other, 'dist', 'src', 'device', 'dirty-log.js')) || !Number.isInteger(pairs) || pairs < 10) {
    process.stderr.write('usage: node dist/perf/layer-ab.js OTHER_CHECKOUT [PAIRS]   (OTHER_CHECKOUT built with npx tsc -p .)\n');
    return 2;
  }
  const here = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
  // The control: a copy of the other build under another path, so that it is a second module instance.
  const copy = mkdtempSync(path.join(os.tmpdir(), 'dmalog-ab-'));
  try {
    cpSync(path.join(other, 'dist'), path.join(copy, 'dist'), { recursive: true });
    symlinkSync(path.resolve(other, 'node_modules'), path.join(copy, 'node_modules'));
    const [base, baseCopy, ours] = await Promise.all([load(other), load(copy), load(here)]);
    process.stdout.write(`speed of this build ÷ ${other}, median (quartiles) of ${pairs} interleaved round pairs; load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}\n`);
    for (const c of CASES) {
      const control = ratioMedian(c.make(base), c.make(baseCopy), pairs);
      const r = ratioMedian(c.make(base), c.make(ours), pairs);
      process.stdout.write(`${c.name.padEnd(55)} ${r.median.toFixed(3)} (${r.q1.toFixed(3)}-${r.q3.toFixed(3)})   control ${control.median.toFixed(3)} (${control.q1.toFixed(3)}-${control.q3.toFixed(3)})\n`);
    }
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
  return 0;
}

main().then((code) => { process.exitCode = code; }, (error: unknown) => {
  process.stderr.write(`layer-ab failed: ${(error as Error)?.stack ?? String(error)}\n`);
  process.exitCode = 1;
});
