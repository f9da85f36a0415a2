// One burst of DMA writes for one device queue. Thread-agnostic and pure apart from the shared
// memory it writes: the piscina worker (workers/dma.ts) calls it, and so can any thread directly.
//
// Each write stores real data into guest memory first and only then marks the device log, as a
// device's DMA lands before its dirty bit does: whoever sees the bit sees the data.
import { DmalogError } from '../errors.js';
import { DirtyLog } from '../device/dirty-log.js';
import { checkWorkload, generatePages } from '../workload/workload.js';
import { CONTROL_SETS_BEGUN, CONTROL_SETS_COMPLETED, type BurstResult, type BurstTask } from './types.js';

const DEFAULT_PAGE_BYTES = 4096;

/** The data a write stores in the first word of its page (callers may verify it). */
export function stampOf(stream: number, burstId: number, page: number): number {
  return (Math.imul(stream + 1, 0x85ebca6b) ^ Math.imul(burstId + 1, 0x9e3779b1) ^ page) >>> 0;
}

// Caches by buffer object: they hit when one thread runs many bursts on the same objects. (A
// buffer cloned into another thread arrives as a new object, so a pool thread rebuilds these
// per burst; that costs a few typed-array views against thousands of writes.)
const logs = new WeakMap<SharedArrayBuffer, DirtyLog>();
const guestViews = new WeakMap<SharedArrayBuffer, Uint32Array>();
const controlViews = new WeakMap<SharedArrayBuffer, Int32Array>();
let scratch = new Int32Array(0);

function cached<T>(cache: WeakMap<SharedArrayBuffer, T>, buffer: SharedArrayBuffer, make: () => T): T {
  let value = cache.get(buffer);
  if (value === undefined) cache.set(buffer, value = make());
  return value;
}

export function runBurst(task: BurstTask): BurstResult {
  const pageBytes = task.pageBytes ?? DEFAULT_PAGE_BYTES;
  const { workload, count } = task;
  if (!Number.isSafeInteger(count) || count < 0) throw new DmalogError('DMALOG_BAD_OPTION', 'task.count must be a non-negative integer');
  // runBurst is public (a thread of one's own may call it): its workload is checked here, once per burst.
  checkWorkload(workload);
  const wordsPerPage = pageBytes >>> 2;
  if (pageBytes % 4 !== 0 || wordsPerPage === 0) throw new DmalogError('DMALOG_BAD_OPTION', 'task.pageBytes must be a positive multiple of 4');
  if ((workload.pageBase + workload.pageCount) * pageBytes > task.guest.byteLength) {
    throw new DmalogError('DMALOG_BAD_OPTION', `workload pages [${workload.pageBase}, ${workload.pageBase + workload.pageCount}) exceed guest memory`);
  }
  if (scratch.length < count) scratch = new Int32Array(count);
  const pages = generatePages(workload, task.seed, task.burstId, count, scratch);
  const guest = cached(guestViews, task.guest, () => new Uint32Array(task.guest));
  const descriptor = task.log;
  const log = descriptor ? cached(logs, descriptor.buffer, () => new DirtyLog(descriptor)) : null;
  // IOVAs as numbers are exact up to 2^53 (DirtyLog.markWriteNumber); past that, bigints.
  const numeric = task.guestIova + BigInt(task.guest.byteLength) <= BigInt(Number.MAX_SAFE_INTEGER);
  const base = Number(task.guestIova);
  const control = task.control;
  const cells = control ? cached(controlViews, control.cells, () => new Int32Array(control.cells)) : null;
  const genSlot = control?.logGenSlot ?? 0;
  const gen = control?.logGen ?? 0;
  const setsCompletedAtStart = cells ? Atomics.load(cells, CONTROL_SETS_COMPLETED) : 0;
  let granules = 0;
  let attempted = 0;
  let logged = 0;
  let stale = false;
  for (let i = 0; i < count; i++) {
    const page = pages[i]!;
    guest[page * wordsPerPage] = stampOf(workload.stream, task.burstId, page);
    attempted++;
    if (log !== null) {
      granules += numeric ? log.markWriteNumber(base + page * pageBytes, pageBytes) : log.markWrite(task.guestIova + BigInt(page * pageBytes), BigInt(pageBytes));
    }
    // A changed generation means the log may have stopped before this mark: it is not counted.
    if (cells !== null && Atomics.load(cells, genSlot) !== gen) { stale = true; break; }
    if (log !== null) logged++;
  }
  const setsBegunAtEnd = cells ? Atomics.load(cells, CONTROL_SETS_BEGUN) : 0;
  return { attempted, logged, granules, setsCompletedAtStart, setsBegunAtEnd, stale };
}
