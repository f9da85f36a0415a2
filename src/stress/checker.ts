// The oracle and checker of a stress run. Ground truth is recomputed, not stored: a burst's pages
// come from its seed (workload.ts), and when it ran comes from the report-set epochs it read
// (sets completed when it began = c, sets begun when it ended = g). Report sets arrive as the
// pages their bitmap held; nothing else of a bitmap is kept.
//
// Sets cycle over K windows that partition the guest pages (set s covers windows[s % K]) and are
// aligned to every tracker's granule. For a page P written by a burst (c, g), let u be the first
// set ≥ g that covers P. Then:
//   (a) no lost page: P appears in some set in [c, u]. Set u began after the write was in the
//       log, and REPORT reads-and-clears, so only a lost update can make P miss all of them.
//   (b) precision: a page reported in set s has a write W to its granule with c_W ≤ s ≤ u_W,
//       or lies in a range recovery marked in s. A write is in every log that watches it, so
//       "its granule" is each log's: the writing device's, and, when the device is attached to
//       a HWPT, the IOPTE's (one page, or the 2 MiB block of a huge mapping).
// Set s is checked once every burst dispatched before it completed has finished, in set order:
// by then every burst with c ≤ s or g ≤ s is known.
//
// A burst is held only until it can no longer matter: once its writes are explanations
// (c ≤ s) and its loss check is over (the first K sets from g, each covering one window, have
// been checked), it is dropped, so memory follows what is in flight, not the run's length.
import assert from 'node:assert/strict';
import { generatePages, type WorkloadSpec } from '../workload/workload.js';
import type { BurstResult } from '../dma/types.js';
import { isPowerOfTwo } from '../util/bits.js';
import { IOMMU_PAGE_2M } from '../iommufd/abi.js';

export interface PageRange { from: number; to: number }

export interface CheckerConfig {
  guestPages: number;
  /** Granule of tracker t in guest pages (a power of two). */
  granulePages: number[];
  /** Windows in guest pages, partitioning [0, guestPages); set s covers windows[s % K]. */
  windows: PageRange[];
  /**
   * IOMMU logs beside the devices' own: which trackers' writes a HWPT log sees too, and the
   * page ranges its 2 MiB IOPTEs cover (aligned to HUGE_PAGES, each block inside one window).
   * Its 4 KiB IOPTEs need nothing more: a device's own granule already holds the page.
   */
  iommu?: { attached: boolean[]; huge: PageRange[] };
}

export interface BurstSpec {
  tracker: number;
  workload: WorkloadSpec;
  seed: bigint;
  burstId: number;
  count: number;
}

export interface SetReport {
  /** Guest pages whose bit was set in the set's bitmap. */
  pages: Int32Array;
  /** Guest pages a recovery marked in this set. */
  marked: PageRange[];
}

export interface Finding { page: number; set: number; tracker: number; stream: number; burstId: number }

export interface CheckerTotals {
  setsChecked: number;
  burstsChecked: number;
  /** Pages, per set, that a completed write should have appeared in and did not (invariant a). */
  lost: number;
  /** Reported pages no write and no recovery mark explains (invariant b). */
  imprecise: number;
  /** Reported pages explained only by a recovery mark. */
  markedOnly: number;
  lostExamples: Finding[];
  impreciseExamples: Array<{ page: number; set: number }>;
}

interface Burst extends BurstSpec {
  result: BurstResult | null;
  pages: Int32Array | null;
  /** Its writes are in #coverUntil. */
  applied: boolean;
  /** Its loss check is over. */
  lossChecked: boolean;
}

interface PendingSet { index: number; dispatched: number; report: SetReport }

const EXAMPLES = 5;
/** Guest pages under one 2 MiB IOPTE. */
export const HUGE_PAGES = Number(IOMMU_PAGE_2M / 4096n);

export class StressChecker {
  readonly #config: CheckerConfig;
  readonly #windowOf: Int32Array;
  /** Latest set index u of a known write that may still explain a report of the page. */
  readonly #coverUntil: Int32Array;
  /** Per 2 MiB block: 1 when a HWPT maps it huge. */
  readonly #hugeBlock: Uint8Array;
  /** Per 2 MiB block: as #coverUntil, for writes of attached trackers into a huge block. */
  readonly #hugeCoverUntil: Int32Array;
  readonly #attached: boolean[];
  /** Latest set that reported the page. */
  readonly #lastSeen: Int32Array;
  /** Set index a page was last counted lost in (one count per page and set). */
  readonly #lostIn: Int32Array;
  /** Dispatched bursts not finished yet, in id order (a Map iterates in insertion order). */
  readonly #running = new Map<number, Burst>();
  #nextId = 0;
  /** Bursts held: running, or finished and still in #unapplied or #awaitingLoss. */
  #retained = 0;
  #unapplied: Burst[] = [];
  #awaitingLoss: Burst[] = [];
  readonly #sets: PendingSet[] = [];
  #nextSet = 0;
  readonly totals: CheckerTotals = { setsChecked: 0, burstsChecked: 0, lost: 0, imprecise: 0, markedOnly: 0, lostExamples: [], impreciseExamples: [] };

  constructor(config: CheckerConfig) {
    this.#config = config;
    const n = config.guestPages;
    this.#windowOf = new Int32Array(n).fill(-1);
    config.windows.forEach((w, i) => this.#windowOf.fill(i, w.from, w.to));
    assert.ok(this.#windowOf.every((w) => w >= 0), 'windows must cover every guest page');
    for (const g of config.granulePages) {
      assert.ok(isPowerOfTwo(g), 'granules are powers of two in pages');
      for (const w of config.windows) assert.ok(w.from % g === 0 && (w.to % g === 0 || w.to === n), 'windows are aligned to every granule');
    }
    this.#coverUntil = new Int32Array(n).fill(-1);
    const blocks = Math.ceil(n / HUGE_PAGES);
    this.#hugeBlock = new Uint8Array(blocks);
    this.#hugeCoverUntil = new Int32Array(blocks).fill(-1);
    this.#attached = config.iommu?.attached ?? [];
    for (const r of config.iommu?.huge ?? []) {
      assert.ok(r.from % HUGE_PAGES === 0 && r.to % HUGE_PAGES === 0 && r.to <= n, 'huge mappings are whole 2 MiB blocks of the guest');
      for (let b = r.from / HUGE_PAGES; b < r.to / HUGE_PAGES; b++) {
        assert.ok(this.#windowOf[b * HUGE_PAGES] === this.#windowOf[(b + 1) * HUGE_PAGES - 1], 'a huge block lies inside one window');
        this.#hugeBlock[b] = 1;
      }
    }
    this.#lastSeen = new Int32Array(n).fill(-1);
    this.#lostIn = new Int32Array(n).fill(-1);
  }

  /** A burst is about to be handed to an engine; returns its id. */
  dispatch(spec: BurstSpec): number {
    const id = this.#nextId++;
    this.#running.set(id, { ...spec, result: null, pages: null, applied: false, lossChecked: false });
    this.#retained++;
    return id;
  }

  get dispatched(): number {
    return this.#nextId;
  }

  /** Bursts the checker still holds (running or not yet fully checked): bounded by what is in flight. */
  get retainedBursts(): number {
    return this.#retained;
  }

  burstDone(id: number, result: BurstResult): void {
    const b = this.#running.get(id);
    assert.ok(b !== undefined, 'a burst finishes once, after its dispatch');
    this.#running.delete(id);
    b.result = result;
    // A burst's pages may depend on its full count (ring: burst k starts at k × count), so a
    // burst cut short is the prefix of the full one, not a shorter burst.
    b.pages = generatePages(b.workload, b.seed, b.burstId, b.count).subarray(0, result.attempted);
    this.#unapplied.push(b);
    this.#awaitingLoss.push(b);
    this.#drain();
  }

  /** Set `index` completed (every REPORT settled, recovery marks made) with these pages. */
  setDone(index: number, report: SetReport): void {
    assert.equal(index, this.#nextSet + this.#sets.length, 'report sets arrive in order');
    this.#sets.push({ index, dispatched: this.#nextId, report });
    this.#drain();
  }

  /** Check whatever is left; every dispatched burst must have finished. */
  finish(): CheckerTotals {
    assert.equal(this.#running.size, 0, 'every burst finished');
    this.#drain();
    return this.totals;
  }

  /** Every burst with a lower id has finished. */
  #doneBelow(): number {
    for (const id of this.#running.keys()) return id;
    return this.#nextId;
  }

  #drain(): void {
    while (this.#sets.length > 0 && this.#sets[0]!.dispatched <= this.#doneBelow()) {
      this.#check(this.#sets.shift()!);
      this.#nextSet++;
    }
  }

  /** First set ≥ g covering window w. */
  #firstCover(g: number, w: number): number {
    const k = this.#config.windows.length;
    return g + (((w - g) % k) + k) % k;
  }

  #check({ index: s, report }: PendingSet): void {
    const windowOf = this.#windowOf;
    const coverUntil = this.#coverUntil;
    // Writes that may be in set s or later become explanations, up to their own u.
    this.#unapplied = this.#unapplied.filter((b) => {
      if (b.result!.setsCompletedAtStart > s) return true;
      const g = b.result!.setsBegunAtEnd;
      const gp = this.#config.granulePages[b.tracker]!;
      const pages = b.pages!;
      const attached = this.#attached[b.tracker] === true;
      for (let i = 0; i < b.result!.attempted; i++) {
        const first = pages[i]! - (pages[i]! % gp);
        const u = this.#firstCover(g, windowOf[first]!);
        const end = Math.min(first + gp, this.#config.guestPages);
        for (let q = first; q < end; q++) if (coverUntil[q]! < u) coverUntil[q] = u;
        const block = (pages[i]! / HUGE_PAGES) | 0;
        if (attached && this.#hugeBlock[block] === 1 && this.#hugeCoverUntil[block]! < u) this.#hugeCoverUntil[block] = u;
      }
      b.applied = true;
      if (b.lossChecked) this.#retained--;
      return false;
    });
    // (b) precision, then record what the set showed.
    const seen = this.#lastSeen;
    const hugeBlock = this.#hugeBlock;
    const hugeCoverUntil = this.#hugeCoverUntil;
    for (const page of report.pages) {
      const block = (page / HUGE_PAGES) | 0;
      if (coverUntil[page]! < s && !(hugeBlock[block] === 1 && hugeCoverUntil[block]! >= s)) {
        if (report.marked.some((r) => page >= r.from && page < r.to)) this.totals.markedOnly++;
        else {
          this.totals.imprecise++;
          if (this.totals.impreciseExamples.length < EXAMPLES) this.totals.impreciseExamples.push({ page, set: s });
        }
      }
      seen[page] = s;
    }
    // (a) no lost page, for every write whose u is s.
    const w = s % this.#config.windows.length;
    this.#awaitingLoss = this.#awaitingLoss.filter((b) => {
      const { setsCompletedAtStart: c, setsBegunAtEnd: g, logged } = b.result!;
      if (g > s) return true;
      if (s - g < this.#config.windows.length) {
        const pages = b.pages!;
        for (let i = 0; i < logged; i++) {
          const page = pages[i]!;
          if (windowOf[page] !== w || seen[page]! >= c || this.#lostIn[page] === s) continue;
          this.#lostIn[page] = s;
          this.totals.lost++;
          if (this.totals.lostExamples.length < EXAMPLES) this.totals.lostExamples.push({ page, set: s, tracker: b.tracker, stream: b.workload.stream, burstId: b.burstId });
        }
      }
      if (s - g + 1 < this.#config.windows.length) return true;
      this.totals.burstsChecked++;
      b.lossChecked = true;
      if (b.applied) this.#retained--;
      return false;
    });
    this.totals.setsChecked++;
  }
}
