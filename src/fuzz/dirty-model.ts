// An iommufd lane's own model of one dirty-tracking HWPT: which page-table granules were written
// since they were last cleared, and what a GET must therefore set. Plain sets of granule starts,
// no bitmaps: nothing here shares code with src/iommufd, so the two can disagree.

export interface ModelMapping { iova: bigint; length: bigint; huge: boolean }

/** Whether `mappings` hold [iova, iova + length) without a hole (else a DMA write faults). */
export function covers(mappings: readonly ModelMapping[], iova: bigint, length: bigint): boolean {
  let at = iova;
  const end = iova + length;
  for (const m of [...mappings].sort((a, b) => (a.iova < b.iova ? -1 : 1))) {
    if (m.iova + m.length <= at) continue;
    if (m.iova > at) return false;
    at = m.iova + m.length;
    if (at >= end) return true;
  }
  return false;
}

const GRANULE_4K = 4096n;
const GRANULE_2M = 2n << 20n;

export class DirtyModel {
  tracking = false;
  /** Start IOVA of each dirty granule → its end. */
  readonly #dirty = new Map<bigint, bigint>();

  constructor(readonly mappings: readonly ModelMapping[]) {}

  /** A DMA write that went through: every granule it touches, at its mapping's granule, while tracking. */
  write(iova: bigint, length: bigint): void {
    if (!this.tracking) return;
    const end = iova + length;
    for (const m of this.mappings) {
      const mEnd = m.iova + m.length;
      if (mEnd <= iova || m.iova >= end) continue;
      const g = m.huge ? GRANULE_2M : GRANULE_4K;
      const from = iova > m.iova ? iova : m.iova;
      const to = end < mEnd ? end : mEnd;
      for (let s = (from / g) * g; s < to; s += g) this.#dirty.set(s, s + g);
    }
  }

  /** SET ENABLE starts from a clean log; disabling keeps what is logged. */
  setTracking(enable: boolean): void {
    if (enable) this.#dirty.clear();
    this.tracking = enable;
  }

  /**
   * The bits a GET of [iova, iova + length) at `bitPage` per bit must set (indexes, ascending),
   * and, unless `noClear`, forget the granules wholly inside the window (partial ones stay).
   */
  get(iova: bigint, length: bigint, bitPage: bigint, noClear: boolean): Set<number> {
    const end = iova + length;
    const bits = new Set<number>();
    for (const [s, e] of this.#dirty) {
      if (e <= iova || s >= end) continue;
      const first = ((s > iova ? s : iova) - iova) / bitPage;
      const last = ((e < end ? e : end) - iova - 1n) / bitPage;
      for (let n = first; n <= last; n++) bits.add(Number(n));
      if (!noClear && s >= iova && e <= end) this.#dirty.delete(s);
    }
    return bits;
  }

  /** Dirty granules now (for failure messages). */
  get size(): number {
    return this.#dirty.size;
  }
}
