// One burst of DMA writes for one device queue. Thread-agnostic and pure apart from the shared
// memory it writes: the piscina worker (workers/dma.ts) calls it, and so can any thread directly.
//
// Each write stores real data into guest memory first and only then marks every log that watches
// it (the device's own, its IOMMU's HWPT log), as a device's DMA lands before its dirty bits do:
// whoever sees a bit sees the data.
import { DmalogError } from '../errors.js';
import { DirtyLog, type DirtyLogDescriptor } from '../device/dirty-log.js';
import { HWPT_EPOCH, HwptLog } from '../iommufd/hwpt-log.js';
import { checkWorkload, generatePages } from '../workload/workload.js';
import { DIRECT_ACCESS, type SharedAccess } from '../util/shared-access.js';
import { CONTROL_SETS_BEGUN, CONTROL_SETS_COMPLETED, type BurstResult, type BurstTask, type LogTarget } from './types.js';

const DEFAULT_PAGE_BYTES = 4096;

/** The data a write stores in the first word of its page (callers may verify it). */
export function stampOf(stream: number, burstId: number, page: number): number {
  return (Math.imul(stream + 1, 0x85ebca6b) ^ Math.imul(burstId + 1, 0x9e3779b1) ^ page) >>> 0;
}

// Caches by buffer object: they hit when one thread runs many bursts on the same objects. (A
// buffer cloned into another thread arrives as a new object, so a pool thread rebuilds these
// per burst; that costs a few typed-array views against thousands of writes.)
const logs = new WeakMap<SharedArrayBuffer, DirtyLog>();
/** By control buffer, with the mapping logs it was built on: a map or unmap gives new ones. */
const hwptLogs = new WeakMap<SharedArrayBuffer, { buffers: SharedArrayBuffer[]; log: HwptLog }>();
const guestViews = new WeakMap<SharedArrayBuffer, Int32Array>();
const controlViews = new WeakMap<SharedArrayBuffer, Int32Array>();
let scratch = new Int32Array(0);

function cached<T>(cache: WeakMap<SharedArrayBuffer, T>, buffer: SharedArrayBuffer, make: () => T): T {
  let value = cache.get(buffer);
  if (value === undefined) cache.set(buffer, value = make());
  return value;
}

/** What marks one write: the target's log as `markWrite` and `markWriteNumber`. */
export interface Marker { markWrite(iova: bigint, length: bigint): number; markWriteNumber(iova: number, length: number): number }

/** What `dmalog explore` hands runBurst instead of the direct layer (src/explore/actors.ts). */
export interface EngineAccess {
  memory: SharedAccess;
  /** A device log whose accesses go through the same layer. */
  dirtyLog(descriptor: DirtyLogDescriptor): Marker;
}

function markerOf(target: LogTarget, explore: EngineAccess | undefined): Marker {
  // Logs of another access layer are its own, never the cached ones.
  if (target.kind === 'log') return explore ? explore.dirtyLog(target.log) : cached(logs, target.log.buffer, () => new DirtyLog(target.log));
  const buffers = target.log.mappings.map((m) => m.log.buffer);
  const hit = hwptLogs.get(target.log.control);
  if (hit && hit.buffers.length === buffers.length && hit.buffers.every((b, i) => b === buffers[i])) return hit.log;
  const log = new HwptLog(target.log);
  hwptLogs.set(target.log.control, { buffers, log });
  return log;
}

/** A shared word whose change makes the burst stale: a log generation, or a HWPT's mapping epoch. */
interface Watch { cells: Int32Array; slot: number; value: number; epoch: boolean }

/**
 * What the burst watches: each target's generation (only with control cells to read it in), and
 * each HWPT target's mapping epoch (a map or unmap since its descriptor: the marks may miss).
 */
function watchesOf(targets: readonly LogTarget[], cells: Int32Array | null): Watch[] {
  const watches: Watch[] = [];
  for (const t of targets) {
    if (t.gen && cells) watches.push({ cells, slot: t.gen.slot, value: t.gen.value, epoch: false });
    if (t.kind === 'hwpt') watches.push({ cells: cached(controlViews, t.log.control, () => new Int32Array(t.log.control)), slot: HWPT_EPOCH, value: t.log.epoch, epoch: true });
  }
  return watches;
}

/**
 * `explore`: the access layer of `dmalog explore` (src/util/shared-access.ts), for device logs
 * only (an HWPT log keeps the direct one); every other caller leaves it out.
 */
export function runBurst(task: BurstTask, explore?: EngineAccess): BurstResult {
  const access = explore ? explore.memory : DIRECT_ACCESS;
  const pageBytes = task.pageBytes ?? DEFAULT_PAGE_BYTES;
  const { workload, count } = task;
  if (!Number.isSafeInteger(count) || count < 0) throw new DmalogError('DMALOG_BAD_OPTION', 'task.count must be a non-negative integer');
  // runBurst is public (a thread of one's own may call it): its workload is checked here, once per burst.
  checkWorkload(workload);
  if (pageBytes % 4 !== 0 || pageBytes === 0) throw new DmalogError('DMALOG_BAD_OPTION', 'task.pageBytes must be a positive multiple of 4');
  const versions = task.layout === 'versions';
  if (!versions && task.layout !== undefined && task.layout !== 'bytes') throw new DmalogError('DMALOG_BAD_OPTION', "task.layout must be 'bytes' or 'versions'");
  // Words per page in `guest`: a page's bytes, or its one version word.
  const wordsPerPage = versions ? 1 : pageBytes >>> 2;
  const spanBytes = versions ? (task.guest.byteLength / 4) * pageBytes : task.guest.byteLength;
  if ((workload.pageBase + workload.pageCount) * wordsPerPage * 4 > task.guest.byteLength) {
    throw new DmalogError('DMALOG_BAD_OPTION', `workload pages [${workload.pageBase}, ${workload.pageBase + workload.pageCount}) exceed guest memory`);
  }
  if (scratch.length < count) scratch = new Int32Array(count);
  if (task.ringAt !== undefined && (!Number.isSafeInteger(task.ringAt) || task.ringAt < 0)) throw new DmalogError('DMALOG_BAD_OPTION', 'task.ringAt must be a non-negative integer');
  const pages = generatePages(workload, task.seed, task.burstId, count, scratch, task.ringAt);
  const guest = cached(guestViews, task.guest, () => new Int32Array(task.guest));
  const targets = task.logs;
  if (!Array.isArray(targets)) throw new DmalogError('DMALOG_BAD_OPTION', 'task.logs must be an array of log targets');
  const markers = targets.map((t) => markerOf(t, explore));
  // IOVAs as numbers are exact up to 2^53 (DirtyLog.markWriteNumber); past that, bigints.
  const numeric = task.guestIova + BigInt(spanBytes) <= BigInt(Number.MAX_SAFE_INTEGER);
  const base = Number(task.guestIova);
  const control = task.control;
  const cells = control ? cached(controlViews, control.cells, () => new Int32Array(control.cells)) : null;
  const watches = watchesOf(targets, cells);
  const setsCompletedAtStart = cells ? access.atomicLoad32(cells, CONTROL_SETS_COMPLETED) : 0;
  const granules = targets.map(() => 0);
  let attempted = 0;
  let logged = 0;
  // A burst handed a HWPT descriptor that is stale already writes nothing: its IOVA may be
  // unmapped. (A moved-on log generation is seen after the first write, as it always was.)
  let stale = watches.some((w) => w.epoch && access.atomicLoad32(w.cells, w.slot) !== w.value);
  const one = markers.length === 1 ? markers[0]! : null;
  const watch = watches.length === 1 ? watches[0]! : null;
  if (stale) {
    // nothing stored, nothing marked
  } else if (one !== null && watches.length <= 1) {
    // The common case, one log and at most one watch: the loop as it was for a single log.
    let marked = 0;
    for (let i = 0; i < count; i++) {
      const page = pages[i]!;
      if (versions) access.add32(guest, page, 1);
      else access.store32(guest, page * wordsPerPage, stampOf(workload.stream, task.burstId, page));
      attempted++;
      marked += numeric ? one.markWriteNumber(base + page * pageBytes, pageBytes) : one.markWrite(task.guestIova + BigInt(page * pageBytes), BigInt(pageBytes));
      // A changed generation or epoch means the mark may have missed the live log: it is not counted.
      if (watch !== null && access.atomicLoad32(watch.cells, watch.slot) !== watch.value) { stale = true; break; }
      logged++;
    }
    granules[0] = marked;
  } else {
    for (let i = 0; i < count; i++) {
      const page = pages[i]!;
      if (versions) access.add32(guest, page, 1);
      else access.store32(guest, page * wordsPerPage, stampOf(workload.stream, task.burstId, page));
      attempted++;
      for (let k = 0; k < markers.length; k++) {
        granules[k]! += numeric ? markers[k]!.markWriteNumber(base + page * pageBytes, pageBytes) : markers[k]!.markWrite(task.guestIova + BigInt(page * pageBytes), BigInt(pageBytes));
      }
      for (let k = 0; k < watches.length; k++) if (access.atomicLoad32(watches[k]!.cells, watches[k]!.slot) !== watches[k]!.value) stale = true;
      if (stale) break;
      if (markers.length > 0) logged++;
    }
  }
  const setsBegunAtEnd = cells ? access.atomicLoad32(cells, CONTROL_SETS_BEGUN) : 0;
  return { attempted, logged, granules, setsCompletedAtStart, setsBegunAtEnd, stale };
}
