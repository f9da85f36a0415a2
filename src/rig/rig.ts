// A rig: everything one run needs to drive DMA logging end to end, made in one place — the host
// with its devices (tracker threads, or in this thread), the DMA engine pool, each device's
// tracker bound to a log generation in the run's control cells, trackers of other kinds beside
// them, and the coordinator over all of them. Stress, migration and fuzz runs each build one.
//
// `close()` ends everything the rig started, in the reverse order of starting, and so does a
// createRig that fails half-way: a live tracker or pool thread would keep the process alive.
import { Coordinator, type RecoveryPolicy } from '../coordinator/coordinator.js';
import { DmaPool } from '../dma/pool.js';
import { CONTROL_FIRST_LOG_GEN, controlCells } from '../dma/types.js';
import { DmalogError } from '../errors.js';
import { createHost, type Host } from '../host/host.js';
import type { HostOptions } from '../host/options.js';
import type { DeviceTracker } from '../trackers/device-tracker.js';
import type { DirtyTracker } from '../trackers/tracker.js';
import type { Logger } from 'pino';

export type HostFactory = (options: HostOptions) => Promise<Host>;

/** A tracker the rig made beside the devices; `close` (when it has one) ends what it started. */
export type ExtraTracker = DirtyTracker & { close?: () => Promise<void> | void };

export interface RigCoordinatorOptions {
  policy?: RecoveryPolicy;
  verifyZeroed?: boolean;
  logger?: Logger;
  /**
   * `all` (default): the coordinator is made with the rig, over the extra trackers then every
   * device. `after-probe`: the run picks its trackers once PROBE has answered (a container's
   * choice between device logging and the alternatives) and calls `rig.coordinate(trackers)`.
   */
  trackers?: 'all' | 'after-probe';
}

export interface RigOptions {
  /** The host: devices, contract, user memory, transport (`worker` or `in-thread`), ... */
  host: HostOptions;
  /** Makes the host (default createHost; tests pass one that wraps a real host to misbehave). */
  createHost?: HostFactory;
  /** The DMA engine pool; null for a run that drives DMA through the host alone (fuzz). */
  dma?: { threads?: number | undefined } | null;
  /** The coordinator; null for a run that calls the trackers itself (fuzz). */
  coordinator?: RigCoordinatorOptions | null;
  /**
   * Trackers of other kinds, made once the host exists (the vCPUs' dirty log, an IOMMU tracker on
   * one of the host's HWPTs). The coordinator knows them before the devices; close() closes them.
   */
  extraTrackers?: (host: Host) => ExtraTracker[] | Promise<ExtraTracker[]>;
}

export interface Rig {
  readonly host: Host;
  /** null when made without one (`dma: null`). */
  readonly pool: DmaPool | null;
  /** Every device of the host in option order, its log generation at CONTROL_FIRST_LOG_GEN + i. */
  readonly devices: DeviceTracker[];
  readonly extraTrackers: ExtraTracker[];
  /** null until `coordinate` for `trackers: 'after-probe'`, and always without a coordinator. */
  readonly coordinator: Coordinator | null;
  /** The run's control cells: report-set epochs and every device's log generation (dma/types.ts). */
  readonly cells: Int32Array;
  /** Make the coordinator over `trackers` with the rig's coordinator options (once). */
  coordinate(trackers: DirtyTracker[]): Coordinator;
  /** End the coordinator (stopping logging), the pool, the extra trackers and the host; idempotent. */
  close(): Promise<void>;
}

export async function createRig(options: RigOptions): Promise<Rig> {
  const host = await (options.createHost ?? createHost)(options.host);
  const rig = new RigImpl(host, options.coordinator ?? null);
  try {
    rig.start();
    // Extra trackers (an iommufd's thread) boot before the pool's threads do: a pool of 32 threads
    // booting at once on a small machine would hold a tracker's start past its deadline.
    rig.extraTrackers.push(...await (options.extraTrackers?.(host) ?? []));
    rig.startPool(options);
    if (options.coordinator && (options.coordinator.trackers ?? 'all') === 'all') rig.coordinate([...rig.extraTrackers, ...rig.devices]);
    return rig;
  } catch (error) {
    await rig.close();
    throw error;
  }
}

class RigImpl implements Rig {
  readonly host: Host;
  pool: DmaPool | null = null;
  devices: DeviceTracker[] = [];
  readonly extraTrackers: ExtraTracker[] = [];
  coordinator: Coordinator | null = null;
  cells: Int32Array = controlCells(0);
  readonly #coordinatorOptions: RigCoordinatorOptions | null;
  #closed: Promise<void> | null = null;

  constructor(host: Host, coordinatorOptions: RigCoordinatorOptions | null) {
    this.host = host;
    this.#coordinatorOptions = coordinatorOptions;
  }

  /** The devices' log generations: what needs no await. */
  start(): void {
    this.devices = this.host.deviceNames.map((name) => this.host.device(name));
    this.cells = controlCells(this.devices.length);
    this.devices.forEach((d, i) => d.bindLogGeneration(this.cells, CONTROL_FIRST_LOG_GEN + i));
  }

  /** The DMA pool, once every tracker thread is up. */
  startPool(options: RigOptions): void {
    if (options.dma) this.pool = new DmaPool({ threads: options.dma.threads });
  }

  coordinate(trackers: DirtyTracker[]): Coordinator {
    if (this.#coordinatorOptions === null) throw new DmalogError('DMALOG_STATE', 'rig made without a coordinator');
    if (this.coordinator !== null) throw new DmalogError('DMALOG_STATE', 'rig already has its coordinator');
    if (this.#closed) throw new DmalogError('DMALOG_CLOSED', 'rig is closed');
    const { policy, verifyZeroed, logger } = this.#coordinatorOptions;
    this.coordinator = new Coordinator({
      trackers, memory: this.host.memory, allocate: (bytes) => this.host.alloc(bytes),
      ...(policy !== undefined && { policy }), ...(verifyZeroed !== undefined && { verifyZeroed }),
      // The host's logger by default: recovery lines carry the same bound context as the devices'.
      logger: logger ?? this.host.logger.child({ component: 'coordinator' }),
    });
    return this.coordinator;
  }

  close(): Promise<void> {
    this.#closed ??= (async () => {
      // Each step runs whatever the one before did: a coordinator whose STOP failed must not keep
      // the pool or the tracker threads alive. A failed STOP is not reported (the host is ended
      // next, and the logs with it); the first other failure is.
      await this.coordinator?.close().catch(() => {});
      const steps: Array<() => Promise<unknown> | unknown> = [
        () => this.pool?.close(),
        ...this.extraTrackers.map((t) => () => t.close?.()),
        () => this.host.close(),
      ];
      let failure: { error: unknown } | null = null;
      for (const step of steps) {
        try {
          await step();
        } catch (error) {
          failure ??= { error };
        }
      }
      if (failure) throw failure.error;
    })();
    return this.#closed;
  }
}
