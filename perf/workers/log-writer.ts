// A DMA engine thread for perf/logging.bench.ts: on each RUN it logs one slice of page writes,
// either through DirtyLog or as the bare Atomics.or baseline, and answers DONE.
import { parentPort, workerData } from 'node:worker_threads';
import { DirtyLog, type DirtyLogDescriptor } from '../../src/device/dirty-log.js';

export interface LogWriterData { descriptor: DirtyLogDescriptor; addresses: SharedArrayBuffer; perSlice: number }
export type WriteMode = 'bare' | 'bareUint32' | 'markWriteNumber' | 'markWrite';
export interface RunMessage { mode: WriteMode; slice: number }

const { descriptor, addresses, perSlice } = workerData as LogWriterData;
const log = new DirtyLog(descriptor);
// The bare loop at its best, on an Int32Array view as DirtyLog uses: on a Uint32Array view each
// Atomics.or returning 2^31 or more allocates a heap number (kept as 'bareUint32' for comparison).
const words = new Int32Array(descriptor.buffer, 0, descriptor.logWords);
const wordsUint32 = new Uint32Array(descriptor.buffer, 0, descriptor.logWords);
const iovas = new Float64Array(addresses);
const bigIovas = BigUint64Array.from(iovas, (v) => BigInt(v));
const granuleBytes = Number(descriptor.granuleSize);
const firstGranule = Number(descriptor.regions[0]!.firstGranule);
const PAGE = 4096;

function run({ mode, slice }: RunMessage): number {
  const from = slice * perSlice;
  const to = from + perSlice;
  let marked = 0;
  if (mode === 'bare') {
    for (let i = from; i < to; i++) {
      const g = Math.floor(iovas[i]! / granuleBytes) - firstGranule;
      Atomics.or(words, g >>> 5, 1 << (g & 31));
      marked++;
    }
  } else if (mode === 'bareUint32') {
    for (let i = from; i < to; i++) {
      const g = Math.floor(iovas[i]! / granuleBytes) - firstGranule;
      Atomics.or(wordsUint32, g >>> 5, 1 << (g & 31));
      marked++;
    }
  } else if (mode === 'markWriteNumber') {
    for (let i = from; i < to; i++) marked += log.markWriteNumber(iovas[i]!, PAGE);
  } else {
    for (let i = from; i < to; i++) marked += log.markWrite(bigIovas[i]!, 4096n);
  }
  return marked;
}

parentPort!.on('message', (msg: RunMessage) => parentPort!.postMessage(run(msg)));
parentPort!.postMessage('ready');
