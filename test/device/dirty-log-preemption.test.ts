// The write path's two-step protocol (OR the log bit, then climb the summary levels) with the
// first writer of a log word frozen between its steps: what a preempted DMA engine thread leaves
// behind. A second write to the same word resolves while the first is frozen; a REPORT issued
// after it must report it (a page missed here is reported one set late, or lost if STOP comes
// first). The frozen state is built by hand from the descriptor's documented layout (the log's
// words, then each summary level's words), so these interleavings replay exactly.
import test from 'ava';
import { IovaBitmap } from '../../src/bitmap/iova-bitmap.js';
import { createHost } from '../../src/host/host.js';
import { DirtyLog, planLog, summaryLevelWords, type DirtyLogDescriptor } from '../../src/device/dirty-log.js';
import { ok } from '../../src/util/result.js';
import { KiB, PAGE, setBits } from '../helpers/abi.js';

const GiB = 1024n * 1024n * KiB;

function plan(T: bigint, length: bigint): DirtyLogDescriptor {
  const d = ok(planLog(T, [{ iova: 0n, length }], 1 << 30), 'planLog');
  return d;
}

/**
 * Do what the first writer of granule `g` does up to (not including) summary level `stopAt`:
 * its log bit, then the bits of levels 1 .. stopAt - 1. Level 1 means "only the log word".
 */
function freezeFirstWriter(d: DirtyLogDescriptor, g: number, stopAt: number): void {
  const levels = [d.logWords, ...summaryLevelWords(d.logWords)];
  let at = 0;
  let index = g;
  for (let k = 0; k < stopAt; k++) {
    const words = new Int32Array(d.buffer, at * 4, levels[k]!);
    Atomics.or(words, Math.floor(index / 32), 1 << (index % 32));
    at += levels[k]!;
    index = Math.floor(index / 32);
  }
}

function reportAll(log: DirtyLog, length: bigint): number[] {
  const bitCount = Number(length / PAGE);
  const memory = new SharedArrayBuffer(bitCount / 8);
  log.readAndClear(0n, length, new IovaBitmap(memory, 0, { iova: 0n, length, pageSize: PAGE }));
  return setBits(memory, 0, bitCount);
}

// 1 GiB at 4 KiB: 8192 log words, one summary level. 64 GiB: 512 Ki words, three levels.
for (const [label, length] of [['1 GiB, one summary level', 1n * GiB], ['64 GiB, three summary levels', 64n * GiB]] as const) {
  const levelCount = summaryLevelWords(plan(PAGE, length).logWords).length;
  for (let stopAt = 1; stopAt <= levelCount; stopAt++) {
    test(`preempted first writer (${label}): frozen before summary level ${stopAt}, a second write to its log word is reported`, (t) => {
      const d = plan(PAGE, length);
      const log = new DirtyLog(d);
      const first = 5 * 32 * 32 * 32 + 3; // far from 0 so every level's index is non-trivial
      freezeFirstWriter(d, first, stopAt);
      log.markWrite(BigInt(first + 1) * PAGE, PAGE); // same log word; this write has resolved
      t.deepEqual(reportAll(log, length), [first, first + 1]);
      t.is(log.countDirty(), 0);
      t.deepEqual(reportAll(log, length), []);
    });
  }
}

test('preempted first writer: the frozen writer resuming later leaves no stale state behind', (t) => {
  const length = 64n * GiB;
  const d = plan(PAGE, length);
  const log = new DirtyLog(d);
  freezeFirstWriter(d, 40, 1);
  log.markWrite(41n * PAGE, PAGE);
  t.deepEqual(reportAll(log, length), [40, 41]);
  // The frozen writer finishes its climb: summary bits with nothing below are harmless.
  log.markWrite(40n * PAGE, 1n);
  t.deepEqual(reportAll(log, length), [40]);
  t.deepEqual(reportAll(log, length), []);
});

test('preempted first writer through the host: dmaWrite then REPORT reports the page', async (t) => {
  const host = await createHost({ userMemoryBytes: 1 << 20, devices: [{ name: 'nic0', profile: 'mlx5' }] });
  t.teardown(() => host.close());
  const dev = host.device('nic0');
  await dev.startLogging({ pageSize: PAGE, ranges: [{ iova: 0n, length: 1n * GiB }] });
  freezeFirstWriter(dev.logDescriptor()!, 64, 1); // granule 64: first of log word 2
  await dev.dmaWrite(65n * PAGE, 4n * KiB);
  const bitmap = host.alloc(32);
  host.zero(bitmap, 32);
  await dev.report({ iova: 0n, length: 256n * PAGE, pageSize: PAGE, bitmap });
  t.deepEqual(setBits(host.memory, bitmap, 256), [64, 65]);
});
