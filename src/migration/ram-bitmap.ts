// The RAM dirty bitmap of the migration (QEMU's per-RAMBlock bitmap): one bit per guest RAM
// page, indexed by RAM offset / page size. Report sets are merged into it section by section;
// the copier takes pages out of it (clearing the bit before copying, so a write racing the copy
// is caught by the next sync). Only the migration thread touches it.
import { IovaBitmap } from '../bitmap/iova-bitmap.js';
import type { ReportBitmap } from '../coordinator/report-bitmap.js';
import { ceilDiv, popcount32 } from '../util/bits.js';
import type { MemorySection } from './memory-map.js';

export class RamDirtyBitmap {
  readonly pages: number;
  readonly pageSize: number;
  readonly #words: Uint32Array;
  readonly #buffer: SharedArrayBuffer;
  #dirty = 0;

  constructor(ramBytes: number, pageSize: number) {
    this.pages = ramBytes / pageSize;
    this.pageSize = pageSize;
    this.#buffer = new SharedArrayBuffer(ceilDiv(this.pages, 32) * 4);
    this.#words = new Uint32Array(this.#buffer);
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
    const before = this.#dirty;
    const writer = new IovaBitmap(this.#buffer, 0, { iova: 0n, length: BigInt(this.pages * this.pageSize), pageSize: BigInt(this.pageSize) });
    writer.set(BigInt(offset), BigInt(length));
    writer.flush();
    this.#recount();
    return this.#dirty - before;
  }

  markAll(): number {
    return this.markRange(0, this.pages * this.pageSize);
  }

  /** OR a completed report set for RAM section `section` in; returns pages newly dirty. */
  merge(section: MemorySection, report: ReportBitmap): number {
    const base = section.offset / this.pageSize;
    let fresh = 0;
    report.consume((bit) => {
      const page = base + bit;
      const w = page >>> 5;
      const m = 1 << (page & 31);
      if ((this.#words[w]! & m) === 0) { this.#words[w] = (this.#words[w]! | m) >>> 0; fresh++; }
    });
    this.#dirty += fresh;
    return fresh;
  }

  /** Take the next dirty page at or after `from` (wrapping), clearing its bit; -1 when clean. */
  takeNext(from: number): number {
    if (this.#dirty === 0) return -1;
    const words = this.#words;
    const n = words.length;
    const startWord = (from >>> 5) % n;
    for (let i = 0; i <= n; i++) {
      const w = (startWord + i) % n;
      let v = words[w]!;
      // The first word visited ignores bits below `from`; the wrap-around revisit takes them.
      if (i === 0) v &= ~((1 << (from & 31)) - 1);
      if (v === 0) continue;
      const k = 31 - Math.clz32(v & -v);
      words[w] = (words[w]! & ~(1 << k)) >>> 0;
      this.#dirty--;
      return (w << 5) + k;
    }
    return -1;
  }

  #recount(): void {
    let n = 0;
    for (let i = 0; i < this.#words.length; i++) n += popcount32(this.#words[i]!);
    this.#dirty = n;
  }
}
