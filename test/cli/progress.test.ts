// Progress rendering, pure: a string sink that says whether it is a terminal, a clock the test
// moves. History lines stay whole; status lines are rewritten on a terminal and paced elsewhere;
// any phase event (first pass, memory check, ...) gets its rate and ETA.
import test from 'ava';
import { createProgress, formatEta, meter, type ProgressSink } from '../../src/cli/progress.js';
import { phaseEventOf, progressHooks } from '../../src/cli/commands/migrate.js';
import { progressText } from '../../src/cli/commands/stress.js';
import type { IterationStats } from '../../src/migration/result.js';

function sink(isTTY: boolean, columns = 40): ProgressSink & { text: string } {
  const s = { text: '', isTTY, columns, write(chunk: string) { s.text += chunk; return true; } };
  return s;
}

/** What a terminal shows: each \r goes back to the line's start, \x1b[K erases to its end. */
function screen(text: string): string[] {
  const lines: string[] = [''];
  for (const part of text.split(/(\r|\n|\x1b\[K)/)) {
    if (part === '\n') lines.push('');
    else if (part === '\r' || part === '\x1b[K') lines[lines.length - 1] = '';
    else lines[lines.length - 1] += part;
  }
  return lines;
}

const MiB = 2 ** 20;

test('formatEta: seconds, minutes, hours, rounded up; nonsense is ?', (t) => {
  t.is(formatEta(0), '0 s');
  t.is(formatEta(8_100), '9 s');
  t.is(formatEta(125_000), '2 min 05 s');
  t.is(formatEta(3_720_000), '1 h 02 min');
  t.is(formatEta(NaN), '?');
  t.is(formatEta(-1), '?');
});

test('meter: done/total with percent, then rate and ETA once there is time to average', (t) => {
  t.is(meter(0, 50_000, 0, 'pages'), '0/50,000 pages (0 %)');
  t.is(meter(12_000, 50_000, 4_000, 'pages'), '12,000/50,000 pages (24 %)  3,000 pages/s  ETA 13 s');
  t.is(meter(50_000, 50_000, 16_700, 'pages'), '50,000/50,000 pages (100 %)  2,994 pages/s  took 17 s');
  t.is(meter(512 * MiB, 2048 * MiB, 2_000, 'bytes'), '512.0 MiB/2.00 GiB (25 %)  256.0 MiB/s  ETA 6 s');
  // Measured from the phase's first event, which had done some already.
  t.is(meter(3_000, 10_000, 1_000, 'calls', 1_000), '3,000/10,000 calls (30 %)  2,000 calls/s  ETA 4 s');
  t.is(meter(7, 10, 50), '7/10 (70 %)', 'too soon for a rate');
});

test('off a terminal: history lines whole, one per call; status lines paced, first and last of a phase always', (t) => {
  let now = 0;
  const out = sink(false, 20);
  const p = createProgress(out, { now: () => now, everyMs: 10_000 });
  t.false(p.live);
  const long = `sync  1 pre    ${'x'.repeat(100)}`;
  p.line(long);
  for (let done = 0; done <= 100; done += 10) {
    p.phase({ phase: 'first pass', done, total: 100, unit: 'pages' });
    now += 3_000;
  }
  p.line('sync  2 final');
  p.end();
  const lines = out.text.split('\n').slice(0, -1);
  t.is(lines[0], long, 'not cut to the width');
  // Events at 0, 3, ..., 30 s: printed at 0 (first), 12, 24 (paced) and 30 (the last).
  t.deepEqual(lines.slice(1, -1), [
    'first pass: 0/100 pages (0 %)',
    'first pass: 40/100 pages (40 %)  3 pages/s  ETA 18 s',
    'first pass: 80/100 pages (80 %)  3 pages/s  ETA 6 s',
    'first pass: 100/100 pages (100 %)  3 pages/s  took 30 s',
  ]);
  t.is(lines.at(-1), 'sync  2 final');
  t.false(out.text.includes('\r'));
});

test('on a terminal: each sync keeps its own line, whole; the status line is redrawn below them, cut to the width', (t) => {
  let now = 0;
  const out = sink(true, 40);
  const p = createProgress(out, { now: () => now });
  t.true(p.live);
  p.phase({ phase: 'first pass', done: 0, total: 1000, unit: 'pages' });
  now = 1000;
  p.phase({ phase: 'first pass', done: 250, total: 1000, unit: 'pages' });
  t.deepEqual(screen(out.text), ['first pass: 250/1,000 pages (25 %)  250'], 'the status, cut to 39 columns');
  const sync1 = `sync  1 pre    t=   0.0 ms  pending 512.0 MiB (switchover at ≤ 38.4 MiB)  ${'y'.repeat(60)}`;
  p.line(sync1);
  t.deepEqual(screen(out.text), [sync1, 'first pass: 250/1,000 pages (25 %)  250'], 'the sync above, whole; the status redrawn');
  now = 4000;
  p.phase({ phase: 'first pass', done: 1000, total: 1000, unit: 'pages' });
  p.line('sync  2 pre');
  p.phase({ phase: 'memory check', done: 10, total: 100, unit: 'pages' });
  p.end();
  t.deepEqual(screen(out.text), [
    sync1,
    'first pass: 1,000/1,000 pages (100 %)  ',
    'sync  2 pre',
    'memory check: 10/100 pages (10 %)',
    '',
  ], 'a finished phase stays in the history; end() closes the open status line');
});

test('migrate: a sync is a history line with the wall time; any phase event a status with rate and ETA', (t) => {
  let now = 0;
  const out = sink(false);
  const hooks = progressHooks(createProgress(out, { now: () => now, everyMs: 0 }), () => now);
  const sync: IterationStats = {
    iteration: 1, phase: 'precopy', atMs: 0, sentBytes: 0, reported: { vcpu: 10, 'mlx5-0': 3 }, freshPages: 13,
    pendingBytes: 512 * MiB, thresholdBytes: 0, throttlePct: 0, recoveries: [],
  };
  now = 2_500;
  hooks.onIteration!(sync);
  // Synthetic events of phases the migration may report: rendered by their name, whatever it is.
  hooks.onProgress({ phase: 'first pass', done: 0, total: 4096, unit: 'pages' });
  now = 3_500;
  hooks.onProgress({ phase: 'first pass', done: 1024, total: 4096, unit: 'pages' });
  hooks.onProgress({ phase: 'final memory check', done: 1 * MiB, total: 4 * MiB, unit: 'bytes' });
  now = 4_500;
  hooks.onProgress({ phase: 'final memory check', done: 4 * MiB, total: 4 * MiB, unit: 'bytes' });
  t.deepEqual(out.text.split('\n').slice(0, -1), [
    'sync  1 pre    t=   0.0 ms  sent    0.0 MiB  pending 512.0 MiB (switchover at ≤ 0.0 MiB)  throttle 0%  dirty pages: vcpu 10, mlx5-0 3  (wall 2.50 s)',
    'first pass: 0/4,096 pages (0 %)',
    'first pass: 1,024/4,096 pages (25 %)  1,024 pages/s  ETA 3 s',
    'final memory check: 1.0 MiB/4.0 MiB (25 %)',
    'final memory check: 4.0 MiB/4.0 MiB (100 %)  3.0 MiB/s  took 1 s',
  ]);
});

test('migrate: phase events of either shape, { phase, done, total } or { kind, donePages, totalPages }; a sync event is no phase', (t) => {
  t.deepEqual(phaseEventOf({ phase: 'copy', done: 1, total: 2, unit: 'bytes' }), { phase: 'copy', done: 1, total: 2, unit: 'bytes' });
  t.deepEqual(phaseEventOf({ kind: 'first-pass', atMs: 100, donePages: 10, totalPages: 40 }), { phase: 'first pass', done: 10, total: 40, unit: 'pages' });
  t.deepEqual(phaseEventOf({ kind: 'check', donePages: 40, totalPages: 40 }), { phase: 'final memory check', done: 40, total: 40, unit: 'pages' });
  t.deepEqual(phaseEventOf({ kind: 'scan', donePages: 1, totalPages: 9 }), { phase: 'scan', done: 1, total: 9, unit: 'pages' });
  t.is(phaseEventOf({ kind: 'sync', stats: {} }), null);
  t.is(phaseEventOf({ phase: 'x', done: '1', total: 2 }), null);
  let now = 0;
  const out = sink(false);
  const hooks = progressHooks(createProgress(out, { now: () => now, everyMs: 0 }), () => now);
  hooks.onProgress({ kind: 'first-pass', atMs: 0, donePages: 0, totalPages: 100 });
  now = 1000;
  hooks.onProgress({ kind: 'first-pass', atMs: 100, donePages: 50, totalPages: 100 });
  hooks.onProgress({ kind: 'sync', stats: {} });
  t.deepEqual(out.text.split('\n').slice(0, -1), ['first pass: 0/100 pages (0 %)', 'first pass: 50/100 pages (50 %)  50 pages/s  ETA 1 s']);
});

test('stress: sets against the budget with rate and ETA, by report sets or by seconds', (t) => {
  const p = { elapsedMs: 2_000, reportSets: 500, writes: 3_000_000, lost: 0, imprecise: 1, faults: 2 };
  t.is(progressText(p, 2000, null), '[   2.0 s] sets 500/2000 (250/s)  ETA 6 s  writes 3.00 M  lost 0  imprecise 1  faults 2');
  t.is(progressText(p, null, 5), '[   2.0 s] sets 500 (250/s)  ETA 3 s  writes 3.00 M  lost 0  imprecise 1  faults 2');
  t.is(progressText({ ...p, reportSets: 2000 }, 2000, null), '[   2.0 s] sets 2000/2000 (1000/s)  writes 3.00 M  lost 0  imprecise 1  faults 2', 'no ETA once done');
});
