// What crosses into a DMA engine thread, and the named slots of the shared control cells that
// engines read with Atomics (report-set epochs, log generations).
import type { DirtyLogDescriptor } from '../device/dirty-log.js';
import type { WorkloadSpec } from '../workload/workload.js';

/** Slots of the control Int32Array. */
export const CONTROL_SETS_BEGUN = 0;
export const CONTROL_SETS_COMPLETED = 1;
/** Slot of device i's log generation is CONTROL_FIRST_LOG_GEN + i. */
export const CONTROL_FIRST_LOG_GEN = 2;

export function controlCells(devices: number): Int32Array {
  return new Int32Array(new SharedArrayBuffer((CONTROL_FIRST_LOG_GEN + devices) * Int32Array.BYTES_PER_ELEMENT));
}

/**
 * Epochs and log generation a burst reads. The owner of `cells` bumps the log generation when the
 * device's log stops (before the STOP): a burst that sees its generation change stops there, since
 * its later marks would land in a log nobody reads.
 */
export interface BurstControl {
  cells: SharedArrayBuffer;
  logGenSlot: number;
  /** The generation `log` belongs to. */
  logGen: number;
}

export interface BurstTask {
  /** Guest memory: the IOVA span [guestIova, guestIova + guest.byteLength). */
  guest: SharedArrayBuffer;
  guestIova: bigint;
  /** Bytes one write covers (a guest page; default 4096). */
  pageBytes?: number;
  /** The device's log to mark, or null when the device is not logging. */
  log: DirtyLogDescriptor | null;
  workload: WorkloadSpec;
  seed: bigint | number;
  /** Index of this burst within `workload.stream`. */
  burstId: number;
  count: number;
  control?: BurstControl;
}

export interface BurstResult {
  /** Writes whose data was stored. */
  attempted: number;
  /** Writes certainly logged: marked before the log's generation changed. */
  logged: number;
  /** Log bits marked (a write marks one per granule it touches inside a tracked range). */
  granules: number;
  /** Report sets completed when the burst began: none of its writes can be in an earlier set. */
  setsCompletedAtStart: number;
  /** Report sets begun when the burst ended: every later set began after all its writes. */
  setsBegunAtEnd: number;
  /** The burst stopped early because its log's generation changed. */
  stale: boolean;
}
