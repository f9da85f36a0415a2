// One iommufd as its own thread runs it (workers/iommufd.ts), or the host's thread in the
// in-thread mode: the object model (iommufd.ts) and the two dirty-tracking ioctls (ioctl.ts) over
// the host's user memory. Every method answers a value or `{ errno, message }`, never throws, so
// an errno crosses the thread hop intact (a thrown VfioError would arrive as a bare Error).
//
// The HWPT logs live in SharedArrayBuffers: after any call that may change which log a device's
// DMA marks (attach, detach, map, unmap, alloc), the host asks for `logs()` again.
import type { Contract } from '../bitmap/iova-bitmap.js';
import { VfioError } from '../errors.js';
import type { Errno } from '../uapi/errno.js';
import { UserMemory } from '../uapi/user-memory.js';
import { failed } from '../util/result.js';
import type { HwptLogDescriptor } from './hwpt-log.js';
import { iommufdCall } from './ioctl.js';
import { Iommufd, type Mapping } from './iommufd.js';

export interface IommufdInit {
  userMemory: SharedArrayBuffer;
  contract: Contract;
  /** Largest log of one mapping in one HWPT, in bytes. */
  maxLogBytes: number;
}

/** Posted by an iommufd thread once it has loaded. */
export const IOMMUFD_READY = 'dmalog:iommufd-ready' as const;

export type ServiceAnswer<T> = { value: T } | { errno: Errno; message: string };

/** What the host's DMA path needs of each bound device: the log of the HWPT it is attached to. */
export interface DeviceLogView { devId: number; hwptId: number | null; log: HwptLogDescriptor | null }

function answer<T>(body: () => T): ServiceAnswer<T> {
  try {
    return { value: body() };
  } catch (error) {
    if (error instanceof VfioError) return { errno: error.errno, message: error.message };
    throw error;
  }
}

export class IommufdService {
  readonly #iommufd: Iommufd;
  readonly #memory: UserMemory;
  readonly #contract: Contract;
  readonly #devices = new Set<number>();

  constructor(init: IommufdInit) {
    this.#iommufd = new Iommufd({ maxLogBytes: init.maxLogBytes });
    this.#memory = new UserMemory(init.userMemory);
    this.#contract = init.contract;
  }

  /** One raw ioctl: the bits a GET set (0 for SET), or the errno. */
  ioctl(request: number, argPointer: bigint | number): ServiceAnswer<number> {
    const r = iommufdCall(this.#iommufd, this.#memory, request, argPointer, this.#contract);
    return failed(r) ? { errno: r.errno, message: `iommufd ioctl 0x${request.toString(16)}` } : { value: r };
  }

  allocIoas(): ServiceAnswer<number> {
    return answer(() => this.#iommufd.allocIoas());
  }

  bindDevice(name: string, dirtyTracking: boolean): ServiceAnswer<number> {
    return answer(() => {
      const id = this.#iommufd.bindDevice(name, { dirtyTracking });
      this.#devices.add(id);
      return id;
    });
  }

  /** IOMMU_GET_HW_INFO: whether the device's IOMMU can track dirty pages. */
  hwInfo(devId: number): ServiceAnswer<{ dirtyTracking: boolean }> {
    return answer(() => this.#iommufd.hwInfo(devId));
  }

  allocHwpt(devId: number, ioasId: number, dirtyTracking: boolean): ServiceAnswer<number> {
    return answer(() => this.#iommufd.allocHwpt(devId, ioasId, { dirtyTracking }));
  }

  /** Whether `hwptId` names a paging HWPT with the dirty-tracking capability (false for any other id). */
  hasDirtyCapability(hwptId: number): ServiceAnswer<boolean> {
    return { value: this.#iommufd.pagingHwpt(hwptId)?.dirtyTracking ?? false };
  }

  attach(devId: number, hwptId: number): ServiceAnswer<0> {
    return answer(() => { this.#iommufd.attach(devId, hwptId); return 0 as const; });
  }

  detach(devId: number): ServiceAnswer<0> {
    return answer(() => { this.#iommufd.detach(devId); return 0 as const; });
  }

  map(ioasId: number, iova: bigint, length: bigint, huge: boolean): ServiceAnswer<0> {
    return answer(() => { this.#iommufd.map(ioasId, iova, length, { huge }); return 0 as const; });
  }

  unmap(ioasId: number, iova: bigint, length: bigint): ServiceAnswer<0> {
    return answer(() => { this.#iommufd.unmap(ioasId, iova, length); return 0 as const; });
  }

  mappings(ioasId: number): ServiceAnswer<Mapping[]> {
    return answer(() => this.#iommufd.mappings(ioasId));
  }

  /**
   * A DMA by bound device `devId` (host.dmaWrite / dmaRead): through the HWPT it is attached to,
   * EFAULT unless [iova, iova + length) is all mapped in its IOAS, a write then marked in the
   * HWPT's log. Run here, in order with map and unmap, so no write slips past an unmap. A device
   * attached to no HWPT is let through untranslated (contract §7).
   */
  dma(devId: number, iova: bigint, length: bigint, write: boolean): ServiceAnswer<0> {
    return answer(() => {
      if (this.#iommufd.attachedHwpt(devId) === null) return 0 as const;
      if (write) this.#iommufd.dmaWrite(devId, iova, length);
      else this.#iommufd.dmaRead(devId, iova, length);
      return 0 as const;
    });
  }

  /** Every bound device's HWPT and that HWPT's current log descriptor (null without the capability). */
  logs(): ServiceAnswer<DeviceLogView[]> {
    return answer(() => [...this.#devices].map((devId) => {
      const hwptId = this.#iommufd.attachedHwpt(devId);
      return { devId, hwptId, log: hwptId === null ? null : this.#iommufd.logDescriptor(hwptId) };
    }));
  }
}

/** The service's methods a transport carries. */
export type IommufdMethod = Exclude<keyof IommufdService, symbol>;
