// contract §5 under real concurrency: DMA engines in two threads log writes while this thread keeps
// REPORTing random windows; every write must turn up in some REPORT (none lost, none invented).
// The log is large enough for two summary levels, so the set-going-up / clear-going-down
// protocol between writers and the reader is exercised at every level.
import test from 'ava';
import { IovaBitmap } from '../../src/bitmap/iova-bitmap.js';
import { DirtyLog, planLog, summaryLevelWords } from '../../src/device/dirty-log.js';
import { ok } from '../../src/util/result.js';
import type { RaceWriterData } from '../fixtures/log-race-writer.js';
import { compareSeen, readWhileWriting } from '../helpers/race.js';

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
  const reports = await readWhileWriting(t, WRITER, parts,
    (part) => ({ descriptor: planned, shadow, baseIova: Number(BASE), granules: GRANULES, writes: 50_000, part, parts } satisfies RaceWriterData), 5, (x) => {
      const g0 = x % GRANULES;
      report(g0, 1 + ((x >>> 3) % Math.min(GRANULES - g0, 1 << (x & 15))));
    });
  report(0, GRANULES); // everything still logged

  const { lost, invented, total } = compareSeen(new Uint32Array(shadow), seen);
  t.is(total, 100_000);
  t.is(lost, 0);
  t.is(invented, 0);
  t.is(log.countDirty(), 0);
  t.true(reports > 1);
});
