// The dirty bits of one hardware page table (HWPT), contract §7: what the IOMMU sets in its PTEs,
// kept as one DirtyLog per mapping at that mapping's page-table granule (4 KiB, or 2 MiB for a
// huge mapping, where any write dirties the whole 2 MiB). Reusing DirtyLog keeps the device's
// atomic contract: lock-free marking from any thread, a read-and-clear that loses no racing write.
//
// Everything lives in SharedArrayBuffers and travels as a descriptor, so a DMA engine in another
// thread marks the same bits, and a worker could own the log. A mapping added or removed later
// gives a new descriptor: a thread holding an older one does not see it, but it can tell, since
// every change bumps the mapping epoch in the shared control words (`stale`). A DMA engine checks
// it after each mark: a write marked through an older descriptor may have landed in the log of
// a mapping that is gone, or missed one that is new, so it does not count as logged (contract §7).
import { IovaBitmap, type BitmapWindow, type Contract } from '../bitmap/iova-bitmap.js';
import { ceilDiv, floorDiv } from '../util/bits.js';
import { DirtyLog, planLog, type DirtyLogDescriptor } from '../device/dirty-log.js';
import type { Errno } from '../uapi/errno.js';
import { failed } from '../util/result.js';
import { compareRanges } from '../util/ranges.js';

export interface MappingLogDescriptor { iova: bigint; length: bigint; log: DirtyLogDescriptor }

export interface HwptLogDescriptor {
  /** Int32 [0]: 1 while dirty tracking is enabled; [1]: the mapping epoch, bumped by every map and unmap. */
  control: SharedArrayBuffer;
  /** The mapping epoch these mappings belong to. */
  epoch: number;
  /** In ascending IOVA order, never overlapping. */
  mappings: MappingLogDescriptor[];
}

interface MappingLog { iova: bigint; end: bigint; iovaNumber: number; endNumber: number; log: DirtyLog; descriptor: MappingLogDescriptor }

/**
 * Granules per pass of a NO_CLEAR read or a clear: bounds the scratch bitmap (128 KiB) whatever
 * the mapping's size.
 */
const CHUNK_GRANULES = 1 << 20;
const TRACKING = 0;
/** Slot of the mapping epoch in the control words. */
export const HWPT_EPOCH = 1;

export class HwptLog {
  readonly #control: Int32Array;
  readonly #controlBuffer: SharedArrayBuffer;
  #mappings: MappingLog[];
  #epoch: number;
  #scratch: SharedArrayBuffer | null = null;

  constructor(descriptor: HwptLogDescriptor = { control: new SharedArrayBuffer(8), epoch: 0, mappings: [] }) {
    this.#controlBuffer = descriptor.control;
    this.#control = new Int32Array(descriptor.control, 0, 2);
    this.#epoch = descriptor.epoch;
    this.#mappings = descriptor.mappings.map(mappingLog);
  }

  get descriptor(): HwptLogDescriptor {
    return { control: this.#controlBuffer, epoch: this.#epoch, mappings: this.#mappings.map((m) => m.descriptor) };
  }

  /** A mapping was added or removed since this object's descriptor was taken. */
  get stale(): boolean {
    return Atomics.load(this.#control, HWPT_EPOCH) !== this.#epoch;
  }

  get tracking(): boolean {
    return Atomics.load(this.#control, TRACKING) === 1;
  }

  /** Enabling clears every stale bit first (also when already enabled); disabling keeps them. */
  setTracking(enable: boolean): void {
    if (enable) for (const m of this.#mappings) this.#drain(m, m.iova, m.end, null);
    Atomics.store(this.#control, TRACKING, enable ? 1 : 0);
  }

  /** Start logging a new mapping [iova, iova + length) at `granule`; ENOMEM when its log is too big. */
  addMapping(iova: bigint, length: bigint, granule: bigint, maxLogBytes: number): Errno | null {
    const plan = planLog(granule, [{ iova, length }], maxLogBytes);
    if (failed(plan)) return plan.errno;
    const m = mappingLog({ iova, length, log: plan });
    this.#mappings = [...this.#mappings, m].sort((a, b) => compareRanges(a.descriptor, b.descriptor));
    this.#bumpEpoch();
    return null;
  }

  /** The mapping starting at `iova` goes, and its dirty bits with it (as its PTEs do). */
  removeMapping(iova: bigint): void {
    this.#mappings = this.#mappings.filter((m) => m.iova !== iova);
    this.#bumpEpoch();
  }

  // After the list changed: an engine that sees the old epoch after its mark marked the old list.
  #bumpEpoch(): void {
    this.#epoch = (Atomics.add(this.#control, HWPT_EPOCH, 1) + 1) | 0;
  }

  /** Log a DMA write of [iova, iova + length) when tracking is on: granules marked. */
  markWrite(iova: bigint, length: bigint): number {
    if (Atomics.load(this.#control, TRACKING) !== 1) return 0;
    const end = iova + length;
    let marked = 0;
    for (const m of this.#mappings) {
      if (m.iova >= end) break;
      if (m.end > iova) marked += m.log.markWrite(iova, length);
    }
    return marked;
  }

  /**
   * GET: project every dirty granule meeting `window` into the user bitmap at `bitmapAt` (contract §5
   * rules: clipped to the window, pre-set bits kept, atomic OR unless `contract` says plain).
   * Clearing reads clear only granules wholly inside the window; `clear: false` clears nothing.
   * Returns the bits set (a report bit shared by two mappings counts once per mapping).
   */
  read(window: BitmapWindow, memory: SharedArrayBuffer, bitmapAt: number, clear: boolean, contract: Contract = 'atomic'): number {
    const end = window.iova + window.length;
    let bits = 0;
    for (const m of this.#mappings) {
      if (m.iova >= end) break;
      if (m.end <= window.iova) continue;
      // A bitmap object per mapping: the projection's shared-granule bookkeeping is per log.
      const bitmap = new IovaBitmap(memory, bitmapAt, window, contract);
      if (clear) {
        m.log.readAndClear(window.iova, window.length, bitmap);
      } else {
        const from = window.iova > m.iova ? window.iova : m.iova;
        const to = end < m.end ? end : m.end;
        this.#drain(m, from, to, (runIova, runLength) => {
          m.log.markWrite(runIova, runLength); // put back what the read took
          bitmap.set(runIova, runLength);
        });
        bitmap.flush();
      }
      bits += bitmap.bitsSet;
    }
    return bits;
  }

  /**
   * `markWrite` for DMA engines holding IOVAs as numbers: exact while iova + length ≤ 2^53
   * (DirtyLog.markWriteNumber). Mapping bounds past 2^53 round, and each mapping's own log clips.
   */
  markWriteNumber(iova: number, length: number): number {
    if (Atomics.load(this.#control, TRACKING) !== 1) return 0;
    const end = iova + length;
    let marked = 0;
    for (const m of this.#mappings) {
      if (m.iovaNumber >= end) break;
      if (m.endNumber > iova) marked += m.log.markWriteNumber(iova, length);
    }
    return marked;
  }

  /** Granules currently logged, over every mapping (for tests and checkers; not a GET). */
  countDirty(): number {
    return this.#mappings.reduce((n, m) => n + m.log.countDirty(), 0);
  }

  /**
   * Read-and-clear the granules of `m` meeting [from, to) (clearing those wholly inside), a chunk
   * at a time through a scratch bitmap at the granule size, and hand each run of dirty granules
   * to `onRun`. Single-threaded readers only: a NO_CLEAR read puts its bits back afterwards, and
   * a writer racing with it either lands before the clear (read, then put back) or after it.
   */
  #drain(m: MappingLog, from: bigint, to: bigint, onRun: ((iova: bigint, length: bigint) => void) | null): void {
    const T = m.log.granuleSize;
    const scratch = (this.#scratch ??= new SharedArrayBuffer(CHUNK_GRANULES / 8));
    const words = new Int32Array(scratch);
    const lastGranule = ceilDiv(to, T);
    for (let g = floorDiv(from, T); g < lastGranule; g += BigInt(CHUNK_GRANULES)) {
      const count = Number(lastGranule - g < BigInt(CHUNK_GRANULES) ? lastGranule - g : BigInt(CHUNK_GRANULES));
      const base = g * T;
      words.fill(0, 0, Math.ceil(count / 32));
      const a = from > base ? from : base;
      const chunkEnd = base + BigInt(count) * T;
      const b = to < chunkEnd ? to : chunkEnd;
      m.log.readAndClear(a, b - a, new IovaBitmap(scratch, 0, { iova: base, length: BigInt(count) * T, pageSize: T }));
      if (onRun) forEachRun(words, Math.ceil(count / 32), (j, n) => onRun(base + BigInt(j) * T, BigInt(n) * T));
    }
  }
}

function mappingLog(descriptor: MappingLogDescriptor): MappingLog {
  const end = descriptor.iova + descriptor.length;
  return { iova: descriptor.iova, end, iovaNumber: Number(descriptor.iova), endNumber: Number(end), log: new DirtyLog(descriptor.log), descriptor };
}

/** Each maximal run of set bits in `words`: (first bit, bit count), ascending. */
function forEachRun(words: Int32Array, wordCount: number, onRun: (first: number, count: number) => void): void {
  let start = -1;
  let next = -1;
  for (let w = 0; w < wordCount; w++) {
    let v = words[w]!;
    while (v !== 0) {
      const j = w * 32 + (31 - Math.clz32(v & -v));
      v &= v - 1;
      if (j === next) {
        next++;
        continue;
      }
      if (start >= 0) onRun(start, next - start);
      start = j;
      next = j + 1;
    }
  }
  if (start >= 0) onRun(start, next - start);
}
