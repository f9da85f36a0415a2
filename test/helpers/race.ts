// Test helpers for writer threads racing a reading thread: spawn the writers, read until they
// are all done, and compare what was written with what the reads saw.
import { Worker } from 'node:worker_threads';
import type { ExecutionContext } from 'ava';
import { popcount32 } from '../../src/util/bits.js';

/**
 * Start `parts` writer threads of `entry` (workerData: `data(part)`; each posts one message when
 * done), and call `read(x)` with a seeded LCG value x (starting from `seed`) between event-loop
 * turns until every writer has posted. Resolves the reads made; a writer's error rejects.
 */
export async function readWhileWriting(t: ExecutionContext, entry: URL, parts: number, data: (part: number) => unknown, seed: number, read: (x: number) => void): Promise<number> {
  const workers = Array.from({ length: parts }, (_, part) => new Worker(entry, { workerData: data(part) }));
  t.teardown(() => Promise.all(workers.map((w) => w.terminate())));
  let running = parts;
  const finished = Promise.all(workers.map((w) => new Promise((resolve, reject) => {
    w.once('message', () => { running--; resolve(null); });
    w.once('error', reject);
  })));
  let x = seed;
  let reads = 0;
  while (running > 0) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    read(x);
    reads++;
    await new Promise((resolve) => setImmediate(resolve));
  }
  await finished;
  return reads;
}

/** Bits of `written` the reads never saw (lost), bits they saw that nothing wrote (invented), and all written. */
export function compareSeen(written: Uint32Array, seen: Uint32Array): { lost: number; invented: number; total: number } {
  let lost = 0;
  let invented = 0;
  let total = 0;
  for (let i = 0; i < written.length; i++) {
    lost += popcount32(written[i]! & ~seen[i]!);
    invented += popcount32(seen[i]! & ~written[i]!);
    total += popcount32(written[i]!);
  }
  return { lost, invented, total };
}
