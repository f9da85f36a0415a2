// One burst of DMA writes for one device queue. Thread-agnostic and pure apart from the shared
// memory it writes: the piscina worker (workers/dma.ts) calls it, and so can any thread directly.
//
// Each write stores real data into guest memory first and only then marks the device log, as a
// device's DMA lands before its dirty bit does: whoever sees the bit sees the data.
import { DirtyLog, type DirtyLogDescriptor } from '../device/dirty-log.js';
import { generatePages } from '../workload/workload.js';
import { CONTROL_SETS_BEGUN, CONTROL_SETS_COMPLETED, type BurstResult, type BurstTask } from './types.js';

const UNIT = 4096;
const UNIT_BIG = BigInt(UNIT);

/** The data a write stores in the first word of its page (callers may verify it). */
export function stampOf(stream: number, burstId: number, page: number): number {
  return (Math.imul(stream + 1, 0x85ebca6b) ^ Math.imul(burstId + 1, 0x9e3779b1) ^ page) >>> 0;
}

/**
 * Maps a written guest page to log bits with numbers only: IOVAs in 4 KiB units stay below 2^53
 * for any 64-bit IOVA. Used when everything is 4 KiB aligned (always, for START-validated ranges
 * and power-of-two granules); anything else goes through DirtyLog.markWrite with bigints.
 */
interface RegionUnits { from: number; to: number; firstGranule: number; bitOffset: number }
class LogMarker {
  readonly #log: DirtyLog;
  readonly #regions: RegionUnits[] | null;
  readonly #unitsPerGranule: number;
  readonly #guestUnit0: number;
  readonly #unitsPerPage: number;
  readonly #guestIova: bigint;
  readonly #pageBytes: bigint;

  constructor(log: DirtyLog, guestIova: bigint, pageBytes: number) {
    this.#log = log;
    this.#guestIova = guestIova;
    this.#pageBytes = BigInt(pageBytes);
    const T = log.granuleSize;
    const aligned = guestIova % UNIT_BIG === 0n && pageBytes % UNIT === 0 && T % UNIT_BIG === 0n &&
      log.regions.every((r) => r.iova % UNIT_BIG === 0n && r.length % UNIT_BIG === 0n);
    this.#unitsPerGranule = Number(T / UNIT_BIG);
    this.#guestUnit0 = Number(guestIova / UNIT_BIG);
    this.#unitsPerPage = pageBytes / UNIT;
    this.#regions = aligned
      ? log.regions.map((r) => ({ from: Number(r.iova / UNIT_BIG), to: Number((r.iova + r.length) / UNIT_BIG), firstGranule: Number(r.firstGranule), bitOffset: r.bitOffset }))
      : null;
  }

  /** Mark guest page `page`; returns the log bits it marked. */
  mark(page: number): number {
    const regions = this.#regions;
    if (regions === null) return this.#log.markWrite(this.#guestIova + BigInt(page) * this.#pageBytes, this.#pageBytes);
    const a = this.#guestUnit0 + page * this.#unitsPerPage;
    const b = a + this.#unitsPerPage;
    let marked = 0;
    for (let i = 0; i < regions.length; i++) {
      const r = regions[i]!;
      const lo = a > r.from ? a : r.from;
      const hi = b < r.to ? b : r.to;
      if (hi <= lo) continue;
      const j0 = Math.floor(lo / this.#unitsPerGranule) - r.firstGranule;
      const j1 = Math.floor((hi - 1) / this.#unitsPerGranule) - r.firstGranule;
      this.#log.markBits(r.bitOffset + j0, j1 - j0 + 1);
      marked += j1 - j0 + 1;
    }
    return marked;
  }
}

// Caches by buffer object: they hit when one thread runs many bursts on the same objects. (A
// buffer cloned into another thread arrives as a new object, so a pool thread rebuilds these
// per burst; that costs a few typed-array views against thousands of writes.)
const markers = new WeakMap<SharedArrayBuffer, Map<string, LogMarker>>();
const guestViews = new WeakMap<SharedArrayBuffer, Uint32Array>();
const controlViews = new WeakMap<SharedArrayBuffer, Int32Array>();
let scratch = new Int32Array(0);

function markerFor(descriptor: DirtyLogDescriptor, guestIova: bigint, pageBytes: number): LogMarker {
  let byGuest = markers.get(descriptor.buffer);
  if (!byGuest) markers.set(descriptor.buffer, byGuest = new Map());
  const key = `${guestIova}:${pageBytes}`;
  let marker = byGuest.get(key);
  if (!marker) byGuest.set(key, marker = new LogMarker(new DirtyLog(descriptor), guestIova, pageBytes));
  return marker;
}

function viewOf<T>(cache: WeakMap<SharedArrayBuffer, T>, buffer: SharedArrayBuffer, make: (b: SharedArrayBuffer) => T): T {
  let view = cache.get(buffer);
  if (!view) cache.set(buffer, view = make(buffer));
  return view;
}

export function runBurst(task: BurstTask): BurstResult {
  const pageBytes = task.pageBytes ?? UNIT;
  const { workload, count } = task;
  if (!Number.isSafeInteger(count) || count < 0) throw new RangeError('task.count must be a non-negative integer');
  const wordsPerPage = pageBytes >>> 2;
  if (pageBytes % 4 !== 0 || wordsPerPage === 0) throw new RangeError('task.pageBytes must be a positive multiple of 4');
  if ((workload.pageBase + workload.pageCount) * pageBytes > task.guest.byteLength) {
    throw new RangeError(`workload pages [${workload.pageBase}, ${workload.pageBase + workload.pageCount}) exceed guest memory`);
  }
  if (scratch.length < count) scratch = new Int32Array(count);
  const pages = generatePages(workload, task.seed, task.burstId, count, scratch);
  const guest = viewOf(guestViews, task.guest, (b) => new Uint32Array(b));
  const marker = task.log ? markerFor(task.log, task.guestIova, pageBytes) : null;
  const control = task.control;
  const cells = control ? viewOf(controlViews, control.cells, (b) => new Int32Array(b)) : null;
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
    if (marker) granules += marker.mark(page);
    // A changed generation means the log may have stopped before this mark: it is not counted.
    if (cells !== null && Atomics.load(cells, genSlot) !== gen) { stale = true; break; }
    if (marker) logged++;
  }
  const setsBegunAtEnd = cells ? Atomics.load(cells, CONTROL_SETS_BEGUN) : 0;
  return { attempted, logged, granules, setsCompletedAtStart, setsBegunAtEnd, stale };
}
