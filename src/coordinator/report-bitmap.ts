// One user bitmap shared by every tracker of a report set, with the lifecycle that enforces the
// seed contract's rule: the user zeroes the bitmap between report sets (contract §6).
//   zeroed → collecting → complete → consumed → (zero) → zeroed
import { reportBitCount } from '../bitmap/iova-bitmap.js';
import { DmalogError, ZeroingViolation } from '../errors.js';
import { bitmapBytes } from '../uapi/user-memory.js';
import { ceilDiv } from '../util/bits.js';
import { SharedAccess } from '../util/shared-access.js';
import type { ReportWindow } from '../trackers/tracker.js';

export type BitmapState = 'zeroed' | 'collecting' | 'complete' | 'consumed';

/** The zeroing is one of SharedAccess's accesses (src/util/shared-access.ts). */
export class ReportBitmap extends SharedAccess {
  readonly at: number;
  readonly capacityBytes: number;
  #state: BitmapState = 'zeroed';
  #window: ReportWindow | null = null;
  readonly #bytes: Uint8Array;

  /** `at`, `capacityBytes`: where the bitmap lives in user memory (allocated by the caller). */
  constructor(memory: SharedArrayBuffer, at: number, capacityBytes: number) {
    super();
    this.at = at;
    this.capacityBytes = capacityBytes;
    this.#bytes = new Uint8Array(memory, at, capacityBytes);
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
    if (verify) {
      let first = -1;
      let count = 0;
      for (let i = 0; i < need; i++) if (this.#bytes[i] !== 0) { if (first < 0) first = i; count++; }
      if (count > 0) throw new ZeroingViolation(first, count);
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
      let b = bytes[i]!;
      while (b !== 0) {
        const k = 31 - Math.clz32(b & -b);
        b &= b - 1;
        const bit = i * 8 + k;
        if (bit < bits) visit(bit);
      }
    }
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
