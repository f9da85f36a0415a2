// What a migration run produces: plain JSON-safe data (IOVAs as hex strings), read by the text
// summary, the HTML report and --json.
import type { Errno } from '../uapi/errno.js';
import type { MemoryCheck } from './memory-check.js';

export type MigrationStatus = 'completed' | 'failed' | 'blocked';

/** Why a migration did not converge. */
export type NotConvergedCode =
  /** No device dirty tracking: every sync marks all RAM dirty. */
  | 'all-dirty'
  /** Device DMA alone dirties faster than the bandwidth allows (auto-converge cannot slow it). */
  | 'device-dirty-rate'
  /** vCPUs dirty faster than the bandwidth allows (and auto-converge is off or maxed out). */
  | 'vcpu-dirty-rate'
  /** Pending bytes stayed above the threshold for no single dominant writer, or the devices' state alone is above it. */
  | 'pending-above-threshold';

export interface Failure {
  /** DMALOG_MIGRATION_BLOCKED (setup refused) or DMALOG_MIGRATION_FAILED (a step failed). */
  code: 'DMALOG_MIGRATION_BLOCKED' | 'DMALOG_MIGRATION_FAILED';
  stage: 'probe' | 'start' | 'sync';
  errno: Errno;
  /** The tracker (device) that caused it. */
  tracker: string;
  /** START failures: trackers stopped again by the rollback. */
  rolledBack?: string[];
  message: string;
}

export interface IterationStats {
  /** 1-based sync count (QEMU's dirty-sync-count). */
  iteration: number;
  phase: 'precopy' | 'final';
  /** Simulated time of the sync. */
  atMs: number;
  /** RAM bytes sent since the previous sync. */
  sentBytes: number;
  /** Pages each tracker reported in this sync. */
  reported: Record<string, number>;
  /** RAM pages newly dirty after this sync. */
  freshPages: number;
  /** Dirty RAM + device state right after this sync. */
  pendingBytes: number;
  thresholdBytes: number;
  /** vCPU throttle in effect after this sync. */
  throttlePct: number;
  recoveries: Array<{ tracker: string; errno: Errno; recovery: string }>;
}

export interface TimelinePoint {
  atMs: number;
  /** Cumulative bytes sent (RAM, then device state at the end). */
  sentBytes: number;
  /** Dirty RAM pages not yet sent, in bytes. */
  dirtyBytes: number;
}

export interface MigrationResult {
  status: MigrationStatus;
  seed: string;
  scenario: {
    ramBytes: number;
    pageSize: number;
    /** How guest memory was simulated: every byte, or one write version per page. */
    memory: 'bytes' | 'versions';
    vcpus: number;
    devices: Array<{ name: string; profile: string; logging: boolean; workload: string }>;
    bandwidth: number;
    downtimeLimitMs: number;
    linkSpeed: number;
    autoConverge: boolean;
    enableMigration: 'auto' | 'on';
    iommu: 'auto' | 'on' | 'off';
    /** Guest RAM's host pages: the IOPTE size iommufd maps it with (4 KiB, or 2 MiB where aligned). */
    ramBacking: 'small' | 'huge';
    policy: 'fail' | 'restart';
  };
  /** How device DMA was tracked: device logging, IOMMU dirty tracking, or all RAM dirty on every sync. */
  tracking: 'device-logging' | 'iommu' | 'all-dirty' | 'none';
  /** START ranges (hex) and the page size each tracker chose. */
  ranges: Array<{ iova: string; length: string }>;
  pageSizes: Record<string, number>;
  trackers: string[];
  totalTimeMs: number;
  downtimeMs: number;
  iterations: number;
  windows: number;
  bytesSent: { ram: number; deviceState: number; total: number };
  converged: boolean;
  notConverged: { code: NotConvergedCode; message: string } | null;
  throttlePct: number;
  iterationStats: IterationStats[];
  timeline: TimelinePoint[];
  recovery: { reportErrors: number; restarts: number; retired: number };
  failure: Failure | null;
  check: MemoryCheck | null;
  /** Writes cut short by a device restart, their mark in doubt: the migration marked them dirty. */
  unloggedWrites: number;
  /**
   * Requested faults whose sync never came (the run converged, was capped or failed first): none
   * of them was injected, so the run did not test what they asked for.
   */
  faultsNotInjected: Array<{ device: string; iteration: number; kind: 'report-error' | 'tracker-error' }>;
  /** The test-only switch lost this page (IOVA, hex), if it was armed and found one. */
  droppedPage: string | null;
}
