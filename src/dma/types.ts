// What crosses into a DMA engine thread, and the named slots of the shared control cells that
// engines read with Atomics (report-set epochs, log generations).
import type { DirtyLogDescriptor } from '../device/dirty-log.js';
import type { HwptLogDescriptor } from '../iommufd/hwpt-log.js';
import type { WorkloadSpec } from '../workload/workload.js';

/** Slots of the control Int32Array. */
export const CONTROL_SETS_BEGUN = 0;
export const CONTROL_SETS_COMPLETED = 1;
/** Slot of device i's log generation is CONTROL_FIRST_LOG_GEN + i. */
export const CONTROL_FIRST_LOG_GEN = 2;

export function controlCells(devices: number): Int32Array {
  return new Int32Array(new SharedArrayBuffer((CONTROL_FIRST_LOG_GEN + devices) * Int32Array.BYTES_PER_ELEMENT));
}

/** The report-set epochs (and the log generations of the targets that have one) a burst reads. */
export interface BurstControl {
  cells: SharedArrayBuffer;
}

/**
 * A log one write marks: a DirtyLog (a device's own, or the vCPUs'), or the dirty log of the HWPT the device is attached
 * to (what its IOMMU sets). `gen`: the slot of the log's generation in `control.cells` and the
 * generation the log belongs to. The owner bumps it before the log stops: a burst that sees it
 * change stops there, since its later marks would land in a log nobody reads. A HWPT log has
 * none: disabling tracking makes its marks no-ops, and enabling again starts it clean. It has a
 * mapping epoch instead (its descriptor's `epoch`): a map or unmap since the descriptor was taken
 * makes the burst stale the same way, as its marks may go to a mapping's log that is gone.
 */
export type LogTarget =
  | { kind: 'log'; log: DirtyLogDescriptor; gen?: { slot: number; value: number } }
  | { kind: 'hwpt'; log: HwptLogDescriptor; gen?: { slot: number; value: number } };

export interface BurstTask {
  /**
   * Guest memory: the IOVA span [guestIova, guestIova + pages × pageBytes). Layout `bytes`
   * (default): the pages' bytes, a write stores its stamp in the first word of its page.
   * Layout `versions`: one u32 write version per page, a write adds 1 to it (atomically, so
   * writers in different threads bumping the same page lose no write).
   */
  guest: SharedArrayBuffer;
  layout?: 'bytes' | 'versions';
  guestIova: bigint;
  /** Bytes one write covers (a guest page; default 4096). */
  pageBytes?: number;
  /** Every log that watches the device's writes (none when nothing logs them). */
  logs: readonly LogTarget[];
  workload: WorkloadSpec;
  seed: bigint | number;
  /** Index of this burst within `workload.stream`. */
  burstId: number;
  /** Pages the stream wrote before this burst: where a ring burst continues (generatePages' ringAt). */
  ringAt?: number;
  count: number;
  control?: BurstControl;
}

export interface BurstResult {
  /** Writes whose data was stored. */
  attempted: number;
  /** Writes certainly logged in every target: marked before any target's generation changed (0 without targets). */
  logged: number;
  /** Log bits marked, per target in task order (a write marks one per granule it touches inside a tracked range or mapping). */
  granules: number[];
  /** Report sets completed when the burst began: none of its writes can be in an earlier set. */
  setsCompletedAtStart: number;
  /** Report sets begun when the burst ended: every later set began after all its writes. */
  setsBegunAtEnd: number;
  /** The burst stopped early (or never began) because a target's generation or a HWPT's mapping epoch changed. */
  stale: boolean;
}
