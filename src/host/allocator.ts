// The allocator of user memory behind `host.alloc` / `host.free`. It hands memory out from the
// top down, leaving low addresses to raw ABI users who lay their structs out by hand, and it can
// free: first fit scanning the free blocks from the top, coalescing a freed block with its free
// neighbours. An allocation also owns its alignment padding up to the end of the block it came
// from, so that without frees the addresses are those of a bump allocator from the top.
import { DmalogError, VfioError } from '../errors.js';
import { isPowerOfTwo } from '../util/bits.js';

interface Block { at: number; end: number }

export class UserAllocator {
  readonly size: number;
  /** Free blocks, sorted by address, never adjacent (coalesced). */
  readonly #free: Block[];
  /** Live allocations: start → end of the extent they own. */
  readonly #live = new Map<number, number>();

  constructor(size: number) {
    this.size = size;
    this.#free = [{ at: 0, end: size }];
  }

  /** `bytes` of user memory aligned to `align` (a power of two); ENOMEM when no free block fits. */
  alloc(bytes: number, align = 8): number {
    if (!Number.isSafeInteger(bytes) || bytes <= 0) throw new DmalogError('DMALOG_BAD_OPTION', `alloc: bytes must be a positive integer (got ${String(bytes)})`);
    if (!Number.isSafeInteger(align) || align <= 0 || !isPowerOfTwo(BigInt(align))) {
      throw new DmalogError('DMALOG_BAD_OPTION', `alloc: align must be a power of two (got ${String(align)})`);
    }
    for (let i = this.#free.length - 1; i >= 0; i--) {
      const block = this.#free[i]!;
      const at = Math.floor((block.end - bytes) / align) * align;
      if (at < block.at) continue;
      this.#live.set(at, block.end);
      if (at === block.at) this.#free.splice(i, 1);
      else block.end = at;
      return at;
    }
    throw new VfioError('ENOMEM', `user memory has no room for ${bytes} bytes`);
  }

  /** Give back what `alloc` returned; anything else (a second free, a foreign pointer) is refused. */
  free(at: number): void {
    const end = this.#live.get(at);
    if (end === undefined) throw new DmalogError('DMALOG_BAD_OPTION', `free: ${String(at)} is not a live allocation (freed twice, or never allocated)`);
    this.#live.delete(at);
    // First free block past the freed one; merge with it and with the one before when adjacent.
    let i = this.#free.findIndex((b) => b.at > at);
    if (i < 0) i = this.#free.length;
    const before = this.#free[i - 1];
    const after = this.#free[i];
    if (before && before.end === at && after && after.at === end) {
      before.end = after.end;
      this.#free.splice(i, 1);
    } else if (before && before.end === at) {
      before.end = end;
    } else if (after && after.at === end) {
      after.at = at;
    } else {
      this.#free.splice(i, 0, { at, end });
    }
  }

  /** Bytes free in total (tests, tools). */
  get freeBytes(): number {
    return this.#free.reduce((n, b) => n + b.end - b.at, 0);
  }

  /** The largest single allocation that would fit at alignment 1. */
  get largestFree(): number {
    return this.#free.reduce((n, b) => Math.max(n, b.end - b.at), 0);
  }
}
