// The iommufd object model (contract §7), reduced to what dirty tracking needs: IO address spaces
// (IOAS) holding mappings, devices bound to the iommufd, and hardware page tables (HWPT) allocated
// on an IOAS, with or without the dirty-tracking capability, that devices attach to. Every object
// has an id from one space (as the kernel's xarray, starting at 1), so an IOAS or device id given
// where a HWPT is expected is simply not found.
//
// Mappings carry no host memory (DMA in dmalog acts on IOVA only); what matters is which IOVA is
// mapped and at which page-table granule. Each HWPT with the capability keeps a HwptLog that a
// DMA write of any device attached to it marks, while tracking is enabled.
import { type BitmapWindow, type Contract } from '../bitmap/iova-bitmap.js';
import { U64_MAX } from '../uapi/abi.js';
import { DmalogError, VfioError } from '../errors.js';
import { IOMMU_PAGE_2M, IOMMU_PAGE_4K } from './abi.js';
import { HwptLog, type HwptLogDescriptor } from './hwpt-log.js';
import { sortRanges } from '../util/ranges.js';

export interface IommufdOptions {
  /** Whether the IOMMU behind a bound device can track dirty pages, unless bindDevice says (default true). */
  dirtyTracking?: boolean;
  /** Largest log of one mapping in one HWPT, in bytes (default 256 MiB: 8 TiB at 4 KiB). */
  maxLogBytes?: number;
}

export interface Mapping { iova: bigint; length: bigint; huge: boolean }

interface Ioas { kind: 'ioas'; id: number; mappings: Mapping[]; hwpts: Set<HwPageTable> }
interface BoundDevice { kind: 'device'; id: number; name: string; dirtyTracking: boolean; hwpt: HwPageTable | null }

/** A paging HWPT: the page table of one IOAS as one IOMMU sees it, and its dirty bits. */
export class HwPageTable {
  readonly kind = 'hwpt';
  /** Devices attached to it. */
  readonly devices = new Set<number>();

  constructor(
    readonly id: number,
    readonly ioasId: number,
    /** Allocated with IOMMU_HWPT_ALLOC_DIRTY_TRACKING. */
    readonly dirtyTracking: boolean,
    /** Null without the capability: such a page table has no dirty bits. */
    readonly log: HwptLog | null,
  ) {}

  get tracking(): boolean {
    return this.log?.tracking ?? false;
  }

  /** The checked SET (ioctl.ts): enable (clearing stale bits) or disable. */
  setDirtyTracking(enable: boolean): void {
    this.#needLog().setTracking(enable);
  }

  /** The checked GET (ioctl.ts): dirty granules meeting the window into the user bitmap; bits set. */
  readDirty(window: BitmapWindow, memory: SharedArrayBuffer, bitmapAt: number, clear: boolean, contract?: Contract): number {
    return this.#needLog().read(window, memory, bitmapAt, clear, contract);
  }

  #needLog(): HwptLog {
    if (!this.log) throw new VfioError('EOPNOTSUPP', `HWPT ${this.id} has no dirty-tracking capability`);
    return this.log;
  }
}

type IommufdObject = Ioas | BoundDevice | HwPageTable;

export class Iommufd {
  readonly #objects = new Map<number, IommufdObject>();
  #nextId = 1;
  readonly #defaultCapability: boolean;
  readonly #maxLogBytes: number;

  constructor(options: IommufdOptions = {}) {
    const capability = options.dirtyTracking ?? true;
    const maxLogBytes = options.maxLogBytes ?? 256 << 20;
    if (typeof capability !== 'boolean') throw new DmalogError('DMALOG_BAD_OPTION', 'options.dirtyTracking must be a boolean');
    if (!Number.isSafeInteger(maxLogBytes) || maxLogBytes <= 0) throw new DmalogError('DMALOG_BAD_OPTION', 'options.maxLogBytes must be a positive integer');
    this.#defaultCapability = capability;
    this.#maxLogBytes = maxLogBytes;
  }

  #add<T extends IommufdObject>(make: (id: number) => T): T {
    const object = make(this.#nextId++);
    this.#objects.set(object.id, object);
    return object;
  }

  #get<K extends IommufdObject['kind']>(id: number, kind: K, what: string): Extract<IommufdObject, { kind: K }> {
    const object = this.#objects.get(id);
    if (!object || object.kind !== kind) throw new VfioError('ENOENT', `no ${what} with id ${String(id)}`);
    return object as Extract<IommufdObject, { kind: K }>;
  }

  /** IOMMU_IOAS_ALLOC: an empty IO address space. */
  allocIoas(): number {
    return this.#add((id): Ioas => ({ kind: 'ioas', id, mappings: [], hwpts: new Set() })).id;
  }

  /** VFIO_DEVICE_BIND_IOMMUFD: the device's id on this iommufd. */
  bindDevice(name: string, options: { dirtyTracking?: boolean } = {}): number {
    if (typeof name !== 'string' || name === '') throw new VfioError('EINVAL', 'a device needs a name');
    const dirtyTracking = options.dirtyTracking ?? this.#defaultCapability;
    if (typeof dirtyTracking !== 'boolean') throw new VfioError('EINVAL', 'dirtyTracking must be a boolean');
    return this.#add((id): BoundDevice => ({ kind: 'device', id, name, dirtyTracking, hwpt: null })).id;
  }

  /** IOMMU_GET_HW_INFO, the one capability that matters here (IOMMU_HW_CAP_DIRTY_TRACKING). */
  hwInfo(devId: number): { dirtyTracking: boolean } {
    return { dirtyTracking: this.#get(devId, 'device', 'device').dirtyTracking };
  }

  /**
   * IOMMU_HWPT_ALLOC: a paging HWPT on `ioasId` for the IOMMU behind `devId` (not attached yet).
   * Asking for dirty tracking on an IOMMU without the capability → EOPNOTSUPP.
   */
  allocHwpt(devId: number, ioasId: number, options: { dirtyTracking?: boolean } = {}): number {
    const device = this.#get(devId, 'device', 'device');
    const ioas = this.#get(ioasId, 'ioas', 'IOAS');
    const dirtyTracking = options.dirtyTracking ?? false;
    if (typeof dirtyTracking !== 'boolean') throw new VfioError('EINVAL', 'dirtyTracking must be a boolean');
    if (dirtyTracking && !device.dirtyTracking) throw new VfioError('EOPNOTSUPP', `the IOMMU of ${device.name} cannot track dirty pages`);
    let log: HwptLog | null = null;
    if (dirtyTracking) {
      log = new HwptLog();
      for (const m of ioas.mappings) {
        const errno = log.addMapping(m.iova, m.length, granuleOf(m), this.#maxLogBytes);
        if (errno) throw new VfioError(errno, 'the HWPT dirty log does not fit');
      }
    }
    const hwpt = this.#add((id) => new HwPageTable(id, ioasId, dirtyTracking, log));
    ioas.hwpts.add(hwpt);
    return hwpt.id;
  }

  /** The paging HWPT `id` names, or null (what the ioctl checks may see). */
  pagingHwpt(id: number): HwPageTable | null {
    const object = this.#objects.get(id);
    return object?.kind === 'hwpt' ? object : null;
  }

  /** The HWPT's dirty log for other threads (DMA engines); null without the capability. */
  logDescriptor(hwptId: number): HwptLogDescriptor | null {
    return this.#get(hwptId, 'hwpt', 'HWPT').log?.descriptor ?? null;
  }

  /** VFIO_DEVICE_ATTACH_IOMMUFD_PT. Already attached → EINVAL; a dirty HWPT on an IOMMU that cannot → EINVAL. */
  attach(devId: number, hwptId: number): void {
    const device = this.#get(devId, 'device', 'device');
    const hwpt = this.#get(hwptId, 'hwpt', 'HWPT');
    if (device.hwpt) throw new VfioError('EINVAL', `${device.name} is already attached to HWPT ${device.hwpt.id}`);
    if (hwpt.dirtyTracking && !device.dirtyTracking) throw new VfioError('EINVAL', `the IOMMU of ${device.name} cannot use a dirty-tracking HWPT`);
    device.hwpt = hwpt;
    hwpt.devices.add(devId);
  }

  /** VFIO_DEVICE_DETACH_IOMMUFD_PT. Not attached → EINVAL. */
  detach(devId: number): void {
    const device = this.#get(devId, 'device', 'device');
    if (!device.hwpt) throw new VfioError('EINVAL', `${device.name} is not attached`);
    device.hwpt.devices.delete(devId);
    device.hwpt = null;
  }

  /** The HWPT `devId` is attached to, or null. */
  attachedHwpt(devId: number): number | null {
    return this.#get(devId, 'device', 'device').hwpt?.id ?? null;
  }

  /**
   * IOMMU_IOAS_MAP at a fixed IOVA: 4 KiB aligned, or 2 MiB aligned when `huge`. Overlapping an
   * existing mapping → EINVAL (the kernel says EEXIST, which dmalog's errno set leaves out).
   */
  map(ioasId: number, iova: bigint, length: bigint, options: { huge?: boolean } = {}): void {
    const ioas = this.#get(ioasId, 'ioas', 'IOAS');
    const huge = options.huge ?? false;
    if (typeof huge !== 'boolean') throw new VfioError('EINVAL', 'huge must be a boolean');
    checkSpan(iova, length);
    const granule = huge ? IOMMU_PAGE_2M : IOMMU_PAGE_4K;
    if (iova % granule !== 0n || length % granule !== 0n) {
      throw new VfioError('EINVAL', `a ${huge ? 'huge' : ''} mapping must be aligned to ${granule} bytes`);
    }
    if (ioas.mappings.some((m) => iova < m.iova + m.length && m.iova < iova + length)) {
      throw new VfioError('EINVAL', `[0x${iova.toString(16)}, +0x${length.toString(16)}) overlaps a mapping`);
    }
    const logged: HwPageTable[] = [];
    for (const hwpt of ioas.hwpts) {
      if (!hwpt.log) continue;
      const errno = hwpt.log.addMapping(iova, length, granule, this.#maxLogBytes);
      if (errno) {
        for (const done of logged) done.log!.removeMapping(iova);
        throw new VfioError(errno, `the dirty log of HWPT ${hwpt.id} for this mapping does not fit`);
      }
      logged.push(hwpt);
    }
    ioas.mappings = sortRanges([...ioas.mappings, { iova, length, huge }]);
  }

  /**
   * IOMMU_IOAS_UNMAP of [iova, iova + length): every mapping wholly inside goes, with its dirty
   * bits. A mapping only partly inside → EINVAL (mappings are not split); none inside → ENOENT.
   */
  unmap(ioasId: number, iova: bigint, length: bigint): void {
    const ioas = this.#get(ioasId, 'ioas', 'IOAS');
    checkSpan(iova, length);
    const end = iova + length;
    const meeting = ioas.mappings.filter((m) => m.iova < end && iova < m.iova + m.length);
    if (meeting.some((m) => m.iova < iova || m.iova + m.length > end)) throw new VfioError('EINVAL', 'an unmap may not split a mapping');
    if (meeting.length === 0) throw new VfioError('ENOENT', 'nothing is mapped there');
    ioas.mappings = ioas.mappings.filter((m) => !meeting.includes(m));
    for (const hwpt of ioas.hwpts) for (const m of meeting) hwpt.log?.removeMapping(m.iova);
  }

  mappings(ioasId: number): Mapping[] {
    return this.#get(ioasId, 'ioas', 'IOAS').mappings.map((m) => ({ ...m }));
  }

  /**
   * The device writes [iova, iova + length) through its IOMMU: the HWPT it is attached to must map
   * all of it, else the write faults (EFAULT) and nothing is logged. Logged when tracking is on;
   * returns the granules marked.
   */
  dmaWrite(devId: number, iova: bigint, length: bigint): number {
    return this.#translate(devId, iova, length).log?.markWrite(iova, length) ?? 0;
  }

  /** The device reads through its IOMMU: the same fault as a write, never logged. */
  dmaRead(devId: number, iova: bigint, length: bigint): void {
    this.#translate(devId, iova, length);
  }

  /** The HWPT a DMA of `devId` goes through, once the IOMMU found all of it mapped; else EFAULT. */
  #translate(devId: number, iova: bigint, length: bigint): HwPageTable {
    const device = this.#get(devId, 'device', 'device');
    checkSpan(iova, length);
    const hwpt = device.hwpt;
    if (!hwpt) throw new VfioError('EFAULT', `${device.name} is attached to no HWPT: its DMA is blocked`);
    const ioas = this.#get(hwpt.ioasId, 'ioas', 'IOAS');
    if (!covers(ioas.mappings, iova, iova + length)) {
      throw new VfioError('EFAULT', `IOMMU fault: [0x${iova.toString(16)}, +0x${length.toString(16)}) is not all mapped`);
    }
    return hwpt;
  }
}

function granuleOf(m: Mapping): bigint {
  return m.huge ? IOMMU_PAGE_2M : IOMMU_PAGE_4K;
}

/**
 * A non-empty span of u64 IOVA: non-bigint or negative → EINVAL, length 0 → EINVAL, the inclusive
 * end `iova + length - 1` past 2^64 - 1 → EOVERFLOW: as the kernel's IOAS checks it, and unlike
 * VFIO's START (`iova + length` must fit in u64), a span may end exactly at 2^64.
 */
function checkSpan(iova: bigint, length: bigint): void {
  if (typeof iova !== 'bigint' || typeof length !== 'bigint' || iova < 0n || length < 0n || iova > U64_MAX) {
    throw new VfioError('EINVAL', 'iova and length must be non-negative u64 bigints');
  }
  if (length === 0n) throw new VfioError('EINVAL', 'a span of length 0');
  if (iova + length - 1n > U64_MAX) throw new VfioError('EOVERFLOW', 'the span ends past 2^64');
}

/** Whether sorted, disjoint mappings cover [from, to) without a hole. */
function covers(mappings: readonly Mapping[], from: bigint, to: bigint): boolean {
  let at = from;
  for (const m of mappings) {
    const end = m.iova + m.length;
    if (end <= at) continue;
    if (m.iova > at) return false;
    at = end;
    if (at >= to) return true;
  }
  return false;
}
