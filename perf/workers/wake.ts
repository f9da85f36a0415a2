// Shared-memory round trips for perf/report-set.bench.ts, no messages at all: the host bumps
// REQUEST and notifies; this thread, woken, copies it to ANSWER and notifies back. 'blocking'
// sleeps in Atomics.wait (the cheapest wake there is, but its event loop is frozen: no use for a
// tracker, which must keep answering control calls); 'async' waits with Atomics.waitAsync, the
// doorbell a tracker could use. A REQUEST below 0 ends the loop.
import { parentPort, workerData } from 'node:worker_threads';
import { ANSWER, REQUEST, type WakeData } from './floor-wire.js';

const { slot, mode } = workerData as WakeData;
const cells = new Int32Array(slot);

function answer(): boolean {
  const seq = Atomics.load(cells, REQUEST);
  if (seq < 0) return false;
  Atomics.store(cells, ANSWER, seq);
  Atomics.notify(cells, ANSWER);
  return true;
}

if (mode === 'blocking') {
  parentPort!.postMessage('ready');
  let seen = 0;
  do { Atomics.wait(cells, REQUEST, seen); seen = Atomics.load(cells, REQUEST); } while (answer());
} else {
  // A pending waitAsync keeps no thread alive on Node 20: the port listener does.
  parentPort!.on('message', () => {});
  parentPort!.postMessage('ready');
  let seen = 0;
  do {
    const w = Atomics.waitAsync(cells, REQUEST, seen);
    if (w.async) await w.value;
    seen = Atomics.load(cells, REQUEST);
  } while (answer());
  process.exit(0);
}
