// A migration's log lines, bound to where the run stands: every line from the host on (the
// devices' PROBE/START/REPORT/STOP, the coordinator's recoveries, the run's own) carries
// `{ sync, simMs }` — the sync it belongs to (0 during setup) and the simulated time — the same
// figures as the result's iterationStats, so a log line can be matched with the report.
import type { Logger } from 'pino';
import type { Host } from '../host/host.js';
import type { Failure, IterationStats, MigrationResult } from './result.js';

export class RunLog {
  readonly #host: Host;
  readonly #log: Logger;

  constructor(host: Host) {
    this.#host = host;
    this.#log = host.logger.child({ component: 'migration' });
    host.bindLogContext({ sync: 0, simMs: 0 });
  }

  /** Sync `sync` begins at `simMs`: its REPORTs and recoveries are logged with it. */
  beginSync(sync: number, simMs: number): void {
    this.#host.bindLogContext({ sync, simMs });
  }

  /** One line per sync with the figures the report's table shows. */
  synced(s: IterationStats): void {
    this.#log.info({ phase: s.phase, sentBytes: s.sentBytes, reported: s.reported, pendingBytes: s.pendingBytes, thresholdBytes: s.thresholdBytes, throttlePct: s.throttlePct, recoveries: s.recoveries.length },
      `sync ${s.iteration} (${s.phase}): pending ${s.pendingBytes} bytes, switchover at ≤ ${s.thresholdBytes}`);
  }

  /** The stop-and-copy is done: what follows (STOP, the memory check) is at the end time. */
  switchedOver(r: MigrationResult): void {
    this.#host.bindLogContext({ sync: r.iterations, simMs: r.totalTimeMs });
    this.#log.info({ converged: r.converged, downtimeMs: r.downtimeMs, totalTimeMs: r.totalTimeMs }, r.converged ? 'switchover: converged' : 'switchover: forced (not converged)');
  }

  failed(f: Failure): void {
    this.#log.warn({ code: f.code, stage: f.stage, errno: f.errno, tracker: f.tracker }, f.message);
  }

  /** The end check: a mismatch is an error, the one outcome a reader must not miss. */
  checked(r: MigrationResult): void {
    const c = r.check;
    if (c === null) return;
    if (c.identical) this.#log.info({ pagesCompared: c.pagesCompared }, 'memory identical');
    else this.#log.error({ pagesCompared: c.pagesCompared, differingPages: c.differingPages, firstDiffering: c.firstDiffering }, 'memory differs');
  }
}
