// contract §5 under real concurrency: DMA engines in two threads log writes while this thread keeps
// REPORTing random windows; every write must turn up in some REPORT (none lost, none invented).
// The log is large enough for two summary levels, so the set-going-up / clear-going-down
// protocol between writers and the reader is exercised at every level.
import { Worker } from 'node:worker_threads';
import test from 'ava';
import { IovaBitmap } from '../../src/bitmap/iova-bitmap.js';
import { popcount32 } from '../../src/util/bits.js';
import { DirtyLog, planLog, summaryLevelWords } from '../../src/device/dirty-log.js';
import { ok } from '../../src/util/result.js';
import type { RaceWriterData } from '../fixtures/log-race-writer.js';

const WRITER = new URL('../fixtures/log-race-writer.js', import.meta.url);
const T = 4096n;
const GRANULES = 1 << 20;
const BASE = 1n << 32n;

test('writes racing with REPORTs are each reported once logged, across two summary levels', async (t) => {
  const planned = ok(planLog(T, [{ iova: BASE, length: BigInt(GRANULES) * T }], 1 << 30), 'planLog');
  t.deepEqual(summaryLevelWords(planned.logWords), [1024, 32]);
  const log = new DirtyLog(planned);
  const shadow = new SharedArrayBuffer(GRANULES / 8);
  const seen = new Uint32Array(GRANULES / 32);
  const memory = new SharedArrayBuffer(GRANULES / 8);
  const bitmap = new Uint32Array(memory);
  const report = (g0: number, n: number) => {
    bitmap.fill(0, 0, Math.ceil(n / 32));
    const window = { iova: BASE + BigInt(g0) * T, length: BigInt(n) * T, pageSize: T };
    log.readAndClear(window.iova, window.length, new IovaBitmap(memory, 0, window));
    for (let b = 0; b < n; b++) if ((bitmap[b >>> 5]! >>> (b & 31)) & 1) seen[(g0 + b) >>> 5]! |= 1 << ((g0 + b) & 31);
  };

  const parts = 2;
  const workers = Array.from({ length: parts }, (_, part) => new Worker(WRITER, {
    workerData: { descriptor: planned, shadow, baseIova: Number(BASE), granules: GRANULES, writes: 50_000, part, parts } satisfies RaceWriterData,
  }));
  t.teardown(() => Promise.all(workers.map((w) => w.terminate())));
  let running = parts;
  const finished = Promise.all(workers.map((w) => new Promise((resolve, reject) => {
    w.once('message', () => { running--; resolve(null); });
    w.once('error', reject);
  })));
  let x = 5;
  let reports = 0;
  while (running > 0) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const g0 = x % GRANULES;
    report(g0, 1 + ((x >>> 3) % Math.min(GRANULES - g0, 1 << (x & 15))));
    reports++;
    await new Promise((resolve) => setImmediate(resolve));
  }
  await finished;
  report(0, GRANULES); // everything still logged

  const written = new Uint32Array(shadow);
  let lost = 0;
  let invented = 0;
  let total = 0;
  for (let i = 0; i < written.length; i++) {
    lost += popcount32(written[i]! & ~seen[i]!);
    invented += popcount32(seen[i]! & ~written[i]!);
    total += popcount32(written[i]!);
  }
  t.is(total, 100_000);
  t.is(lost, 0);
  t.is(invented, 0);
  t.is(log.countDirty(), 0);
  t.true(reports > 1);
});
