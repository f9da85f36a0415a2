// The guest's physical memory map, as a PC machine lays it out (pure data, no buffers).
//
// Guest RAM is one linear block (QEMU's RAMBlock, indexed by `offset`, what migration sends);
// the guest sees it through sections at guest-physical addresses (= IOVA, no vIOMMU):
//
//   [0, 640 KiB)            ram-low   offset 0
//   [640 KiB, 768 KiB)      VGA window (MMIO): RAM offsets under it are not addressable
//   [768 KiB, lowEnd)       ram-low   offset 768 KiB
//   [lowEnd, 4 GiB)         PCI hole (lowEnd = min(RAM, max-ram-below-4g = 3 GiB))
//   [4 GiB, 4 GiB + high)   ram-high  offset lowEnd (only when RAM > lowEnd)
//   [barBase, ...)          one 64-bit BAR per device, barBase = 1 GiB-aligned end of RAM
//
// Example: 4 GiB RAM → ram-low [0, 0xa0000) and [0xc0000, 0xc0000000), ram-high
// [0x100000000, 0x140000000) at offset 0xc0000000, BARs from 0x140000000.
import { DmalogError } from '../errors.js';
import type { LoggingRange } from '../uapi/structs.js';
import { ceilDiv } from '../util/bits.js';
import { IOMMU_PAGE_2M } from '../iommufd/abi.js';

export type SectionKind = 'ram' | 'bar';

export interface MemorySection {
  name: string;
  kind: SectionKind;
  iova: bigint;
  length: bigint;
  /** Byte offset into guest RAM of the section's first byte; -1 for a BAR (not RAM). */
  offset: number;
}

export interface MemoryMap {
  ramBytes: number;
  pageSize: number;
  /** Every section in IOVA order. */
  sections: MemorySection[];
  /** The RAM sections only (what a sync reports and the writers may touch). */
  ram: MemorySection[];
  /** Guest-addressable RAM pages: the sum of the RAM sections' pages. */
  addressablePages: number;
}

export interface MemoryMapOptions {
  ramBytes: number;
  pageSize: number;
  /** One BAR per device, in device order: [name, bytes]. */
  bars?: Array<[string, number]>;
  /** Where RAM below 4 GiB ends at most (QEMU's max-ram-below-4g; default 3 GiB). */
  maxRamBelow4g?: number;
}

export const GiB = 1 << 30;
export const FOUR_GIB = 4n << 30n;
export const VGA_WINDOW = { iova: 0xa_0000n, length: 0x2_0000n } as const;
/** Where RAM below 4 GiB ends at most by default: [3 GiB, 4 GiB) is the 32-bit PCI hole. */
export const LOW_RAM_LIMIT = 3 * GiB;
/** The smallest guest: room for the legacy area below 1 MiB plus some RAM above it. */
export const MIN_RAM_BYTES = 2 << 20;

export function buildMemoryMap(options: MemoryMapOptions): MemoryMap {
  const { ramBytes, pageSize } = options;
  if (!Number.isSafeInteger(ramBytes) || ramBytes < MIN_RAM_BYTES) throw new DmalogError('DMALOG_BAD_OPTION', `guest RAM must be at least ${MIN_RAM_BYTES} bytes`);
  if (ramBytes % pageSize !== 0) throw new DmalogError('DMALOG_BAD_OPTION', `guest RAM must be a multiple of the page size ${pageSize}`);
  const limit = options.maxRamBelow4g ?? LOW_RAM_LIMIT;
  if (limit < MIN_RAM_BYTES || limit > LOW_RAM_LIMIT || limit % pageSize !== 0) throw new DmalogError('DMALOG_BAD_OPTION', `max-ram-below-4g must be a page multiple within ${MIN_RAM_BYTES}..${LOW_RAM_LIMIT}`);
  const lowEnd = Math.min(ramBytes, limit);
  const vgaEnd = Number(VGA_WINDOW.iova + VGA_WINDOW.length);
  const sections: MemorySection[] = [
    { name: 'ram-low', kind: 'ram', iova: 0n, length: VGA_WINDOW.iova, offset: 0 },
    { name: 'ram-low', kind: 'ram', iova: BigInt(vgaEnd), length: BigInt(lowEnd - vgaEnd), offset: vgaEnd },
  ];
  const highBytes = ramBytes - lowEnd;
  if (highBytes > 0) sections.push({ name: 'ram-high', kind: 'ram', iova: FOUR_GIB, length: BigInt(highBytes), offset: lowEnd });
  const ramTop = highBytes > 0 ? FOUR_GIB + BigInt(highBytes) : FOUR_GIB;
  let barAt = alignUp(ramTop, BigInt(GiB));
  for (const [name, bytes] of options.bars ?? []) {
    // A BAR is a power of two in size and naturally aligned.
    const size = BigInt(bytes);
    barAt = alignUp(barAt, size);
    sections.push({ name: `bar:${name}`, kind: 'bar', iova: barAt, length: size, offset: -1 });
    barAt += size;
  }
  const ram = sections.filter((s) => s.kind === 'ram');
  const addressablePages = ram.reduce((n, s) => n + Number(s.length) / pageSize, 0);
  return { ramBytes, pageSize, sections, ram, addressablePages };
}

/**
 * QEMU's device-logging ranges: the span of RAM below 4 GiB, the span above it, and the span of
 * the devices' 64-bit BARs; empty ones left out. Holes inside a span are tracked too.
 */
export function trackingRanges(map: MemoryMap): LoggingRange[] {
  const spans: LoggingRange[] = [];
  const low = map.sections.filter((s) => s.kind === 'ram' && s.iova < FOUR_GIB);
  const high = map.sections.filter((s) => s.kind === 'ram' && s.iova >= FOUR_GIB);
  const bars = map.sections.filter((s) => s.kind === 'bar');
  for (const group of [low, high, bars]) {
    if (group.length === 0) continue;
    const first = group[0]!;
    const last = group[group.length - 1]!;
    spans.push({ iova: first.iova, length: last.iova + last.length - first.iova });
  }
  return spans;
}

/** The IOVA of guest-addressable RAM page `k` (0 ≤ k < addressablePages), in section order. */
export function addressablePageIova(map: MemoryMap, k: number): bigint {
  let rest = k;
  for (const s of map.ram) {
    const pages = Number(s.length) / map.pageSize;
    if (rest < pages) return s.iova + BigInt(rest * map.pageSize);
    rest -= pages;
  }
  throw new DmalogError('DMALOG_BAD_OPTION', `page ${k} is past the ${map.addressablePages} addressable pages`);
}

/** The RAM offset behind `iova`, or -1 when no RAM section holds it. */
export function iovaToRamOffset(map: MemoryMap, iova: bigint): number {
  for (const s of map.ram) {
    if (iova >= s.iova && iova < s.iova + s.length) return s.offset + Number(iova - s.iova);
  }
  return -1;
}

function alignUp(v: bigint, to: bigint): bigint {
  return ceilDiv(v, to) * to;
}

/** [iova, iova + length) as 4 KiB-mapped head and tail around a 2 MiB-aligned middle mapped huge. */
export function hugeSplit(iova: bigint, length: bigint): Array<{ iova: bigint; length: bigint; huge: boolean }> {
  const end = iova + length;
  const from = (iova + IOMMU_PAGE_2M - 1n) / IOMMU_PAGE_2M * IOMMU_PAGE_2M;
  const to = end / IOMMU_PAGE_2M * IOMMU_PAGE_2M;
  if (to <= from) return [{ iova, length, huge: false }];
  const parts = [{ iova, length: from - iova, huge: false }, { iova: from, length: to - from, huge: true }, { iova: to, length: end - to, huge: false }];
  return parts.filter((p) => p.length > 0n);
}
