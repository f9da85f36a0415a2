// The RAM dirty bitmap of the migration (QEMU's per-RAMBlock bitmap): one bit per guest RAM
// page, indexed by RAM offset / page size. Report sets are merged into it section by section;
// the copier takes pages out of it (clearing the bit before copying, so a write racing the copy
// is caught by the next sync). Only the migration thread touches it.
//
// A summary keeps one bit per bitmap word (set whenever the word may hold a dirty bit): finding
// the next dirty page skips 32 clean words per summary bit read, so a pass over a sparse bitmap
// of a 1 TiB guest (8 Mi words) reads its 256 Ki summary words, not every word. Summary bits of
// words that emptied are cleared as the scan meets them.
import type { ReportBitmap } from '../coordinator/report-bitmap.js';
import { ceilDiv, popcount32 } from '../util/bits.js';
import type { MemorySection } from './memory-map.js';

/** A run of dirty pages taken out of the bitmap: [first, first + count). */
export type TakeVisitor = (first: number, count: number) => void;

/** Bits [lo, hi) of a word (0 ≤ lo < hi ≤ 32). */
function wordMaskFrom(lo: number, hi: number): number {
  return (hi - lo === 32 ? -1 : ((1 << (hi - lo)) - 1) << lo) | 0;
}

export class RamDirtyBitmap {
  readonly pages: number;
  readonly pageSize: number;
  // Int32Array: word values of 2^31 and above stay unboxed (see device/dirty-log.ts).
  readonly #words: Int32Array;
  readonly #summary: Int32Array;
  #dirty = 0;
  /** The run being built by `take`, handed to its visitor once it cannot grow. */
  #runFirst = 0;
  #runCount = 0;

  constructor(ramBytes: number, pageSize: number) {
    this.pages = ramBytes / pageSize;
    this.pageSize = pageSize;
    const words = ceilDiv(this.pages, 32);
    this.#words = new Int32Array(words);
    this.#summary = new Int32Array(ceilDiv(words, 32));
  }

  /** Dirty pages not yet sent. */
  get dirtyPages(): number {
    return this.#dirty;
  }

  isDirty(page: number): boolean {
    return (this.#words[page >>> 5]! & (1 << (page & 31))) !== 0;
  }

  /** Mark RAM bytes [offset, offset + length) dirty; returns pages that were clean before. */
  markRange(offset: number, length: number): number {
    if (length <= 0) return 0;
    const first = Math.floor(offset / this.pageSize);
    const end = Math.min(this.pages, Math.ceil((offset + length) / this.pageSize));
    if (first >= end) return 0;
    if (this.#dirty === 0 && (first & 31) === 0 && (end & 31) === 0) {
      // All clean (the bulk stage's markAll): whole words at once, every page fresh.
      this.#words.fill(-1, first >>> 5, end >>> 5);
      for (let w = first >>> 5; w < end >>> 5; w += 32 - (w & 31)) this.#summary[w >>> 5] |= wordMaskFrom(w & 31, Math.min(32, (end >>> 5) - w + (w & 31)));
      this.#dirty = end - first;
      return end - first;
    }
    let fresh = 0;
    for (let page = first; page < end;) {
      const w = page >>> 5;
      const lo = page & 31;
      const n = Math.min(32 - lo, end - page);
      fresh += this.#orWord(w, n === 32 ? -1 : ((1 << n) - 1) << lo);
      page += n;
    }
    this.#dirty += fresh;
    return fresh;
  }

  markAll(): number {
    return this.markRange(0, this.pages * this.pageSize);
  }

  /**
   * OR a completed report set for RAM section `section` in, word by word; returns pages newly
   * dirty. The report bitmap is drained (read words zeroed): it is ready for the next set.
   */
  merge(section: MemorySection, report: ReportBitmap): number {
    const base = section.offset / this.pageSize;
    const shift = base & 31;
    const baseWord = base >>> 5;
    let fresh = 0;
    report.drain((word, bits) => {
      if (shift === 0) {
        fresh += this.#orWord(baseWord + word, bits);
        return;
      }
      fresh += this.#orWord(baseWord + word, bits << shift);
      const high = bits >>> (32 - shift);
      if (high !== 0) fresh += this.#orWord(baseWord + word + 1, high);
    });
    this.#dirty += fresh;
    return fresh;
  }

  /** OR `mask` into word w; returns the bits that were clean. */
  #orWord(w: number, mask: number): number {
    const old = this.#words[w]!;
    const added = mask & ~old;
    if (added === 0) return 0;
    this.#words[w] = old | mask;
    this.#summary[w >>> 5] |= 1 << (w & 31);
    return popcount32(added);
  }

  /** Take the next dirty page at or after `from` (wrapping), clearing its bit; -1 when clean. */
  takeNext(from: number): number {
    let page = -1;
    this.take(from, 1, (first) => { page = first; });
    return page;
  }

  /**
   * Take up to `max` dirty pages in page order from `from`, wrapping around once, clearing their
   * bits; `visit` gets them as maximal runs of consecutive pages. Returns the pages taken.
   */
  take(from: number, max: number, visit: TakeVisitor): number {
    if (max <= 0 || this.#dirty === 0) return 0;
    this.#runCount = 0;
    const start = from >= this.pages ? 0 : from;
    let taken = this.#takeIn(start, this.pages, max, visit);
    if (taken < max && this.#dirty > 0 && start > 0) taken += this.#takeIn(0, start, max - taken, visit);
    if (this.#runCount > 0) visit(this.#runFirst, this.#runCount);
    this.#runCount = 0;
    return taken;
  }

  /** `take` within pages [a, b), no wrap. */
  #takeIn(a: number, b: number, max: number, visit: TakeVisitor): number {
    const words = this.#words;
    const wLast = (b - 1) >>> 5;
    let taken = 0;
    for (let w = a >>> 5; taken < max;) {
      w = this.#nextWord(w, wLast);
      if (w < 0) break;
      const base = w * 32;
      let mask = -1;
      if (base < a) mask &= -1 << (a - base);
      if (b - base < 32) mask &= (1 << (b - base)) - 1;
      const old = words[w]!;
      let avail = old & mask;
      if (avail === -1 && max - taken >= 32) {
        // A run of whole dirty words (the bulk stage's first pass): one visit for all of them.
        let run = 0;
        do {
          words[w] = 0;
          this.#summary[w >>> 5] &= ~(1 << (w & 31));
          run += 32;
          w++;
        } while (w < wLast && words[w] === -1 && max - taken - run >= 32);
        this.#extend(base, run, visit);
        taken += run;
        continue;
      } else {
        let took = 0;
        while (avail !== 0 && taken < max) {
          const k = 31 - Math.clz32(avail & -avail);
          avail &= avail - 1;
          took |= 1 << k;
          this.#extend(base + k, 1, visit);
          taken++;
        }
        words[w] = old & ~took;
      }
      if (words[w] === 0) this.#summary[w >>> 5] &= ~(1 << (w & 31));
      w++;
    }
    this.#dirty -= taken;
    return taken;
  }

  #extend(page: number, count: number, visit: TakeVisitor): void {
    if (this.#runCount > 0 && page === this.#runFirst + this.#runCount) {
      this.#runCount += count;
      return;
    }
    if (this.#runCount > 0) visit(this.#runFirst, this.#runCount);
    this.#runFirst = page;
    this.#runCount = count;
  }

  /** The first word in [w, wLast] that holds a dirty bit, or -1; clears summary bits of empty words met. */
  #nextWord(w: number, wLast: number): number {
    const words = this.#words;
    const summary = this.#summary;
    if (w > wLast) return -1;
    if (words[w] !== 0) return w;
    for (let next = w + 1; next <= wLast;) {
      const s = next >>> 5;
      let bits = summary[s]! & (-1 << (next & 31));
      while (bits !== 0) {
        const k = 31 - Math.clz32(bits & -bits);
        bits &= bits - 1;
        const candidate = s * 32 + k;
        if (candidate > wLast) return -1;
        if (words[candidate] !== 0) return candidate;
        summary[s] = summary[s]! & ~(1 << k);
      }
      next = (s + 1) * 32;
    }
    return -1;
  }
}
