// One user bitmap shared by every tracker of a report set, with the lifecycle that enforces the
// seed contract's rule: the user zeroes the bitmap between report sets (contract §6).
//   zeroed → collecting → complete → consumed → (zero) → zeroed
import { reportBitCount } from '../bitmap/iova-bitmap.js';
import { DmalogError, ZeroingViolation } from '../errors.js';
import { bitmapBytes } from '../uapi/user-memory.js';
import { ceilDiv, popcount32 } from '../util/bits.js';
import { SharedAccess } from '../util/shared-access.js';
import type { ReportWindow } from '../trackers/tracker.js';

export type BitmapState = 'zeroed' | 'collecting' | 'complete' | 'consumed';

/** drain's chunk: 1024 bitmap words, 32 Ki pages (128 MiB of IOVA at 4 KiB pages). */
const DRAIN_CHUNK_BYTES = 4096;

/** Every read and write of the bitmap goes through SharedAccess (src/util/shared-access.ts). */
export class ReportBitmap extends SharedAccess {
  readonly at: number;
  readonly capacityBytes: number;
  #state: BitmapState = 'zeroed';
  #window: ReportWindow | null = null;
  readonly #bytes: Uint8Array;
  /** The bitmap as u32 words when it is 4-byte aligned (every bitmap the coordinator allocates). */
  readonly #words: Int32Array | null;

  /** `at`, `capacityBytes`: where the bitmap lives in user memory (allocated by the caller). */
  constructor(memory: SharedArrayBuffer, at: number, capacityBytes: number) {
    super();
    this.at = at;
    this.capacityBytes = capacityBytes;
    this.#bytes = new Uint8Array(memory, at, capacityBytes);
    this.#words = at % 4 === 0 ? new Int32Array(memory, at, capacityBytes >>> 2) : null;
  }

  get state(): BitmapState {
    return this.#state;
  }

  get window(): ReportWindow | null {
    return this.#window;
  }

  bytesFor(window: ReportWindow): number {
    return Number(bitmapBytes(ceilDiv(window.length, window.pageSize)));
  }

  zero(): void {
    if (this.#state === 'collecting') throw new DmalogError('DMALOG_STATE', 'cannot zero a bitmap while a report set is collecting into it');
    this.fill8(this.#bytes, 0);
    this.#state = 'zeroed';
  }

  /** Enter a report set. Refused unless zeroed since the last one; `verify` also scans for stray bits. */
  begin(window: ReportWindow, verify: boolean): void {
    const need = this.bytesFor(window);
    if (need > this.capacityBytes) throw new DmalogError('DMALOG_BAD_OPTION', `window needs ${need} bitmap bytes, the bitmap has ${this.capacityBytes}`);
    if (this.#state !== 'zeroed') {
      throw new DmalogError('DMALOG_ZEROING_RULE', `report set refused: bitmap is '${this.#state}', not zeroed since the last report set (zero it, or pass { zero: true })`);
    }
    if (verify && !this.isZero8(this.#bytes, 0, need)) {
      let first = -1;
      let count = 0;
      for (let i = 0; i < need; i++) if (this.load8(this.#bytes, i) !== 0) { if (first < 0) first = i; count++; }
      throw new ZeroingViolation(first, count);
    }
    this.#window = window;
    this.#state = 'collecting';
  }

  complete(): void {
    this.#state = 'complete';
  }

  /** Visit each dirty page's bit index of the last report set. */
  forEachDirty(visit: (bit: number) => void): void {
    const window = this.#window;
    if (!window) return;
    const bits = reportBitCount(window.length, window.pageSize);
    const bytes = this.#bytes;
    for (let i = 0, n = ceilDiv(bits, 8); i < n; i++) {
      let b = this.load8(bytes, i);
      while (b !== 0) {
        const k = 31 - Math.clz32(b & -b);
        b &= b - 1;
        const bit = i * 8 + k;
        if (bit < bits) visit(bit);
      }
    }
  }

  /**
   * Read the last set a 32-bit word at a time, zeroing each word read, and leave the bitmap
   * zeroed: `visit(word, bits)` gets every non-zero word (bit k = report bit word·32 + k, bits
   * past the window cleared). Only the words that were set are written, so the next set needs no
   * zeroing of the whole bitmap (32 MiB for a 1 TiB window), and clean 4 KiB chunks are skipped
   * by a memcmp. Returns dirty pages.
   */
  drain(visit: (word: number, bits: number) => void): number {
    if (this.#state !== 'complete') throw new DmalogError('DMALOG_STATE', `nothing to drain: bitmap is '${this.#state}'`);
    const window = this.#window!;
    const bits = reportBitCount(window.length, window.pageSize);
    const words = this.#words;
    const count = ceilDiv(bits, 32);
    let n = 0;
    if (words && count <= words.length) {
      const tail = bits - (count - 1) * 32;
      const tailMask = tail === 32 ? -1 : (1 << tail) - 1;
      const bytes = this.#bytes;
      const usedBytes = count * 4;
      // Chunk by chunk: a clean chunk is one memcmp against zeros (native, many bytes per cycle),
      // and only chunks holding a set bit are read word by word.
      for (let from = 0; from < usedBytes; from += DRAIN_CHUNK_BYTES) {
        const to = Math.min(usedBytes, from + DRAIN_CHUNK_BYTES);
        if (this.isZero8(bytes, from, to)) continue;
        for (let i = from >>> 2, end = to >>> 2; i < end; i++) {
          let v = this.load32(words, i);
          if (v === 0) continue;
          this.store32(words, i, 0);
          if (i === count - 1) v &= tailMask;
          if (v === 0) continue;
          n += popcount32(v);
          visit(i, v);
        }
      }
    } else {
      // Unaligned (a caller's own bitmap): the same words assembled from bytes.
      let word = -1;
      let acc = 0;
      this.forEachDirty((bit) => {
        const w = Math.floor(bit / 32);
        if (w !== word) {
          if (acc !== 0) visit(word, acc);
          word = w;
          acc = 0;
        }
        acc |= 1 << (bit & 31);
        n++;
      });
      if (acc !== 0) visit(word, acc);
      this.fill8(this.#bytes, 0);
    }
    this.#state = 'zeroed';
    return n;
  }

  /** The user has read the set: the bitmap must be zeroed before the next one. Returns dirty pages. */
  consume(visit?: (bit: number) => void): number {
    if (this.#state !== 'complete') throw new DmalogError('DMALOG_STATE', `nothing to consume: bitmap is '${this.#state}'`);
    let n = 0;
    this.forEachDirty((bit) => { n++; visit?.(bit); });
    this.#state = 'consumed';
    return n;
  }
}
