// What the coordinator knows of a tracker: the four DMA-logging verbs, nothing about threads,
// profiles or logs. A device (device-tracker.ts) is one kind and the vCPUs' dirty log
// (cpu-tracker.ts) another; the IOMMU's dirty tracking of a HWPT (iommu-tracker.ts) a third, all into the same bitmap.
import type { LoggingRange } from '../uapi/structs.js';

export type TrackerKind = 'device' | 'iommu' | 'cpu';

export interface ReportWindow { iova: bigint; length: bigint; pageSize: bigint }

export interface DirtyTracker {
  readonly name: string;
  readonly kind: TrackerKind;
  /** true when the tracker supports logging (PROBE returned 0). */
  probe(): Promise<boolean>;
  /** Start logging; resolves the page size the tracker chose. Rejects with VfioError. */
  startLogging(req: { pageSize: bigint; ranges: LoggingRange[] }): Promise<bigint>;
  stopLogging(): Promise<void>;
  /** Read-and-clear the window into the bitmap at user address `bitmap`; resolves bits set. */
  report(req: ReportWindow & { bitmap: number }): Promise<number>;
}
