// IOMMU dirty tracking as a DirtyTracker (kind 'iommu'), so a report set can read a HWPT into the
// same bitmap as device trackers (contract §6, §7). It goes through the typed ioctl layer, so the
// coordinator's calls meet exactly the checks a raw caller does.
//
// The IOMMU logs every mapped IOVA, not just the START ranges, and at its page-table granule
// (4 KiB, or 2 MiB in a huge mapping): the report window clips what it reports. START answers
// 4 KiB, the smallest granule it logs at.
import type { DirtyTracker, ReportWindow } from './tracker.js';
import type { LoggingRange } from '../uapi/structs.js';
import { IOMMU_PAGE_4K } from '../iommufd/abi.js';
import type { GetDirtyBitmapRequest } from '../iommufd/ioctl.js';

/**
 * The typed iommufd calls the tracker needs: IommufdCalls (same thread, synchronous) or the
 * host's iommufd handle (its own thread). Failures throw or reject with VfioError.
 */
export interface IommuDirtyCalls {
  hasDirtyCapability(hwptId: number): boolean | Promise<boolean>;
  setDirtyTracking(hwptId: number, enable: boolean): void | Promise<void>;
  getDirtyBitmap(req: GetDirtyBitmapRequest): number | Promise<number>;
}

export interface IommuTrackerOptions {
  calls: IommuDirtyCalls;
  hwptId: number;
  name?: string;
}

export class IommuTracker implements DirtyTracker {
  readonly kind = 'iommu' as const;
  readonly name: string;
  readonly hwptId: number;
  readonly #calls: IommuDirtyCalls;

  constructor(options: IommuTrackerOptions) {
    this.#calls = options.calls;
    this.hwptId = options.hwptId;
    this.name = options.name ?? `hwpt-${options.hwptId}`;
  }

  /** true when the HWPT was allocated with the dirty-tracking capability. */
  async probe(): Promise<boolean> {
    return this.#calls.hasDirtyCapability(this.hwptId);
  }

  /** Enable dirty tracking (from a clean log); the ranges are not needed, the IOMMU sees every mapping. */
  async startLogging(_req: { pageSize: bigint; ranges: LoggingRange[] }): Promise<bigint> {
    await this.#calls.setDirtyTracking(this.hwptId, true);
    return IOMMU_PAGE_4K;
  }

  async stopLogging(): Promise<void> {
    await this.#calls.setDirtyTracking(this.hwptId, false);
  }

  /** A clearing GET of the window into the bitmap at user address `bitmap`; resolves bits set. */
  async report(req: ReportWindow & { bitmap: number }): Promise<number> {
    return this.#calls.getDirtyBitmap({ hwptId: this.hwptId, iova: req.iova, length: req.length, pageSize: req.pageSize, bitmap: req.bitmap });
  }
}
