// An iommufd opened on a host (`host.openIommufd()`): the raw ioctl over the host's user memory
// (0 or -errno, as the syscall), the typed dirty-tracking calls, and the object calls (IOAS,
// HWPT, bind a device fd of this host, attach, map, unmap). The iommufd itself runs behind an
// IommufdTransport (its own thread by default); this side keeps, per bound device, the HWPT log
// its DMA marks, rebuilt from the iommufd's descriptors after every call that may change it.
import { VfioError } from '../errors.js';
import { GET_DIRTY_BITMAP_BYTES, IOMMU_HWPT_DIRTY_TRACKING_ENABLE, IOMMU_HWPT_GET_DIRTY_BITMAP, IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR, IOMMU_HWPT_SET_DIRTY_TRACKING, SET_DIRTY_TRACKING_BYTES } from '../iommufd/abi.js';
import { HwptLog } from '../iommufd/hwpt-log.js';
import { getDirtyBitmapArguments, type GetDirtyBitmapRequest } from '../iommufd/ioctl.js';
import type { Mapping } from '../iommufd/iommufd.js';
import type { ServiceAnswer } from '../iommufd/service.js';
import { encodeGetDirtyBitmap, encodeSetDirtyTracking } from '../iommufd/structs.js';
import { IommuTracker, type IommuDirtyCalls } from '../trackers/iommu-tracker.js';
import { ERRNO } from '../uapi/errno.js';
import { idArgument } from '../uapi/typed-args.js';
import type { DeviceSlot } from './fd-table.js';
import type { IommufdTransport } from './iommufd-transport.js';
import type { TransportKind } from './transport.js';

/** A device fd bound to an iommufd: its id there, the HWPT it is attached to and that HWPT's log. */
export interface IommuBinding {
  readonly devId: number;
  hwptId: number | null;
  /** What the device's DMA marks besides its own log; null when unattached or without the capability. */
  log: HwptLog | null;
  /** A DMA through the IOMMU (iommufd thread): rejects EFAULT where unmapped, marks the HWPT log on a write. */
  dma(iova: bigint, length: bigint, write: boolean): Promise<void>;
}

/** What the handle needs of its host. */
export interface IommufdHostSide {
  readonly memory: SharedArrayBuffer;
  slotOf(fd: number): DeviceSlot;
  alloc(bytes: number, align?: number): number;
  free(at: number): void;
}

function unwrap<T>(a: ServiceAnswer<T>): T {
  if ('errno' in a) throw new VfioError(a.errno, a.message);
  return a.value;
}

export class IommufdHandle implements IommuDirtyCalls {
  readonly #transport: IommufdTransport;
  readonly #host: IommufdHostSide;
  readonly #bound = new Map<number, DeviceSlot>();

  constructor(transport: IommufdTransport, host: IommufdHostSide) {
    this.#transport = transport;
    this.#host = host;
  }

  /** Where the iommufd runs: its own worker thread, or the host's thread. */
  get transport(): TransportKind {
    return this.#transport.kind;
  }

  /** ioctl(iommufd, request, argPointer) on the host's user memory: 0, or -errno (the Linux number). */
  async ioctl(request: number, argPointer: bigint | number): Promise<number> {
    const a = await this.#transport.call('ioctl', request, argPointer);
    return 'errno' in a ? -ERRNO[a.errno] : 0;
  }

  /** IOMMU_IOAS_ALLOC. */
  async allocIoas(): Promise<number> {
    return unwrap(await this.#transport.call('allocIoas'));
  }

  /**
   * VFIO_DEVICE_BIND_IOMMUFD for a device fd of this host; its IOMMU's capability is the device's
   * `iommuDirty` option. A device bound already (through any fd) → EINVAL.
   */
  async bind(fd: number): Promise<number> {
    const slot = this.#host.slotOf(fd);
    if (slot.iommu) throw new VfioError('EINVAL', `${slot.config.name} is already bound to an iommufd`);
    const devId = unwrap(await this.#transport.call('bindDevice', slot.config.name, slot.config.iommuDirty));
    slot.iommu = { devId, hwptId: null, log: null, dma: async (iova, length, write) => { unwrap(await this.#transport.call('dma', devId, iova, length, write)); } };
    this.#bound.set(devId, slot);
    return devId;
  }

  /** IOMMU_GET_HW_INFO: whether the device's IOMMU can track dirty pages. */
  async hwInfo(devId: number): Promise<{ dirtyTracking: boolean }> {
    return unwrap(await this.#transport.call('hwInfo', devId));
  }

  /** IOMMU_HWPT_ALLOC, with the dirty-tracking capability when asked (EOPNOTSUPP if the IOMMU lacks it). */
  async allocHwpt(devId: number, ioasId: number, options: { dirtyTracking?: boolean } = {}): Promise<number> {
    const dirty = options.dirtyTracking ?? false;
    if (typeof dirty !== 'boolean') throw new VfioError('EINVAL', 'dirtyTracking must be a boolean');
    return this.#changing(this.#transport.call('allocHwpt', devId, ioasId, dirty));
  }

  async attach(devId: number, hwptId: number): Promise<void> {
    await this.#changing(this.#transport.call('attach', devId, hwptId));
  }

  async detach(devId: number): Promise<void> {
    await this.#changing(this.#transport.call('detach', devId));
  }

  /** IOMMU_IOAS_MAP at a fixed IOVA, 2 MiB page-table granules when `huge`. */
  async map(ioasId: number, iova: bigint, length: bigint, options: { huge?: boolean } = {}): Promise<void> {
    const huge = options.huge ?? false;
    if (typeof huge !== 'boolean') throw new VfioError('EINVAL', 'huge must be a boolean');
    await this.#changing(this.#transport.call('map', ioasId, iova, length, huge));
  }

  async unmap(ioasId: number, iova: bigint, length: bigint): Promise<void> {
    await this.#changing(this.#transport.call('unmap', ioasId, iova, length));
  }

  async mappings(ioasId: number): Promise<Mapping[]> {
    return unwrap(await this.#transport.call('mappings', ioasId));
  }

  async hasDirtyCapability(hwptId: number): Promise<boolean> {
    return unwrap(await this.#transport.call('hasDirtyCapability', hwptId));
  }

  /** IOMMU_HWPT_SET_DIRTY_TRACKING through the raw path; rejects with VfioError. */
  async setDirtyTracking(hwptId: number, enable: boolean): Promise<void> {
    const id = idArgument('hwptId', hwptId);
    await this.#typed(SET_DIRTY_TRACKING_BYTES, IOMMU_HWPT_SET_DIRTY_TRACKING, (view, at) => encodeSetDirtyTracking(view, at, {
      size: SET_DIRTY_TRACKING_BYTES, flags: enable ? IOMMU_HWPT_DIRTY_TRACKING_ENABLE : 0, hwptId: id, reserved: 0,
    }));
  }

  /** IOMMU_HWPT_GET_DIRTY_BITMAP through the raw path; resolves the bits it set, rejects with VfioError. */
  async getDirtyBitmap(req: GetDirtyBitmapRequest): Promise<number> {
    const args = getDirtyBitmapArguments(req);
    return this.#typed(GET_DIRTY_BITMAP_BYTES, IOMMU_HWPT_GET_DIRTY_BITMAP, (view, at) => encodeGetDirtyBitmap(view, at, {
      size: GET_DIRTY_BITMAP_BYTES, hwptId: args.hwptId, flags: args.noClear ? IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR : 0,
      reserved: 0, ...args.window, data: args.bitmap,
    }));
  }

  /** The HWPT's dirty tracking as a DirtyTracker for report sets. */
  tracker(hwptId: number, name?: string): IommuTracker {
    return new IommuTracker({ calls: this, hwptId, ...(name === undefined ? {} : { name }) });
  }

  /** Unbind every device and end the iommufd; idempotent. */
  async close(): Promise<void> {
    for (const slot of this.#bound.values()) slot.iommu = null;
    this.#bound.clear();
    await this.#transport.terminate();
  }

  // A struct of its own per call: the iommufd reads it on its own thread, after this call's await,
  // when a concurrent call would already have overwritten a shared scratch.
  async #typed(bytes: number, request: number, encode: (view: DataView, at: number) => void): Promise<number> {
    const at = this.#host.alloc(bytes);
    try {
      encode(new DataView(this.#host.memory), at);
      return unwrap(await this.#transport.call('ioctl', request, at));
    } finally {
      this.#host.free(at);
    }
  }

  /** Run a call that may change which HWPT log a bound device's DMA marks, then pick the logs up again. */
  async #changing<T>(call: Promise<ServiceAnswer<T>>): Promise<T> {
    const value = unwrap(await call);
    const views = unwrap(await this.#transport.call('logs'));
    for (const v of views) {
      const slot = this.#bound.get(v.devId);
      if (!slot?.iommu) continue;
      slot.iommu.hwptId = v.hwptId;
      slot.iommu.log = v.log ? new HwptLog(v.log) : null;
    }
    return value;
  }
}
