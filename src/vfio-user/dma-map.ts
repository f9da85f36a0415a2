// A session's DMA regions: the client's memory as the device may reach it, by iova. A region
// mapped with an fd is reached by positioned reads and writes on that fd (at DMA_MAP.offset +
// iova − addr); one mapped without an fd only by DMA_READ/DMA_WRITE messages. The table owns the
// fds: whatever leaves it is handed back to be closed.
import { U64_MAX } from '../uapi/abi.js';
import type { Checked } from '../util/result.js';
import { DMA_MAP_FLAG_READ, DMA_MAP_FLAG_WRITE, DMA_UNMAP_FLAG_ALL, DMA_UNMAP_FLAG_GET_DIRTY_BITMAP } from './protocol.js';

export interface DmaRegion {
  iova: bigint;
  size: bigint;
  /** Byte offset of the region in the fd's file. */
  offset: bigint;
  flags: number;
  fd: number | null;
}

export class DmaMap {
  /** In the order they were mapped (the sample device picks its slots in that order). */
  #regions: DmaRegion[] = [];

  get regions(): readonly DmaRegion[] {
    return this.#regions;
  }

  /**
   * Map a region. Flags other than READ|WRITE, a size of 0, an end past 2^64 or an overlap with
   * another region: EINVAL. The same region mapped again is accepted (its new fd replaces none:
   * it comes back in `unused` to be closed).
   */
  map(r: DmaRegion): Checked<{ unused: number | null }> {
    if ((r.flags & ~(DMA_MAP_FLAG_READ | DMA_MAP_FLAG_WRITE)) !== 0 || r.size === 0n || r.iova + r.size - 1n > U64_MAX) return { errno: 'EINVAL' };
    const same = this.#regions.find((q) => q.iova === r.iova && q.size === r.size && q.offset === r.offset && q.flags === r.flags);
    if (same) return { unused: r.fd };
    if (this.#regions.some((q) => q.iova < r.iova + r.size && r.iova < q.iova + q.size)) return { errno: 'EINVAL' };
    this.#regions.push({ ...r });
    return { unused: null };
  }

  /** What an UNMAP would remove (nothing changes): ENOENT for a range that is not one region, EINVAL for bad flags. */
  find(addr: bigint, size: bigint, flags: number): Checked<{ removed: DmaRegion[] }> {
    const known = DMA_UNMAP_FLAG_ALL | DMA_UNMAP_FLAG_GET_DIRTY_BITMAP;
    if ((flags & ~known) !== 0 || flags === known) return { errno: 'EINVAL' };
    if ((flags & DMA_UNMAP_FLAG_ALL) !== 0) {
      if (addr !== 0n || size !== 0n) return { errno: 'EINVAL' };
      return { removed: [...this.#regions] };
    }
    const r = this.#regions.find((q) => q.iova === addr && q.size === size);
    return r ? { removed: [r] } : { errno: 'ENOENT' };
  }

  /** Remove what `find` found; returns the fds to close. */
  remove(regions: readonly DmaRegion[]): number[] {
    this.#regions = this.#regions.filter((q) => !regions.includes(q));
    return regions.flatMap((r) => (r.fd === null ? [] : [r.fd]));
  }

  /** The region holding all of [iova, iova + length), or null. */
  lookup(iova: bigint, length: bigint): DmaRegion | null {
    return this.#regions.find((q) => iova >= q.iova && iova + length <= q.iova + q.size) ?? null;
  }

  /** Empty the table; returns every fd it held. */
  clear(): number[] {
    return this.remove([...this.#regions]);
  }
}
