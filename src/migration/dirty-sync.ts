// One sync of the migration (QEMU's bitmap sync, contract §8): for every RAM section, one report
// set — one REPORT per tracker into one zeroed bitmap — merged into the RAM dirty bitmap. When
// the container has no dirty tracking for its devices (a device without logging, migration
// forced on), every RAM section also counts dirty in full on every sync.
import type { Coordinator, Recovery } from '../coordinator/coordinator.js';
import type { ReportBitmap } from '../coordinator/report-bitmap.js';
import type { Errno } from '../uapi/errno.js';
import type { MemoryMap } from './memory-map.js';
import type { RamDirtyBitmap } from './ram-bitmap.js';

/** The pseudo-tracker name under which all-dirty syncs are counted. */
export const ALL_DIRTY = 'all-dirty';
/** The pseudo-tracker name for pages the coordinator marked after a restart (recovery debt). */
export const RECOVERY_MARKS = 'recovery-marks';

export interface SyncOutcome {
  /** Pages each tracker reported, summed over the sections (bits it set), plus the pseudo-trackers. */
  reported: Record<string, number>;
  /** RAM pages that were clean before this sync and are dirty after it. */
  freshPages: number;
  /** Trackers whose REPORT failed and how the coordinator recovered them. */
  recoveries: Array<{ tracker: string; errno: Errno; recovery: Recovery }>;
}

export class DirtySync {
  readonly #coordinator: Coordinator;
  readonly #map: MemoryMap;
  readonly #ram: RamDirtyBitmap;
  readonly #bitmap: ReportBitmap;
  readonly #allDirty: boolean;

  constructor(coordinator: Coordinator, map: MemoryMap, ram: RamDirtyBitmap, allDirty: boolean) {
    this.#coordinator = coordinator;
    this.#map = map;
    this.#ram = ram;
    this.#allDirty = allDirty;
    const largest = map.ram.reduce((m, s) => (s.length > m ? s.length : m), 0n);
    this.#bitmap = coordinator.createBitmap({ length: largest, pageSize: BigInt(map.pageSize) });
  }

  /** Rejects like Coordinator.reportSet (policy fail: a ReportSetError carrying `outcomes`). */
  async run(): Promise<SyncOutcome> {
    const out: SyncOutcome = { reported: {}, freshPages: 0, recoveries: [] };
    const pageSize = BigInt(this.#map.pageSize);
    for (const section of this.#map.ram) {
      // merge() drains the bitmap (zeroing only the words that were set); a set that failed
      // before its merge leaves it to be zeroed whole.
      const set = await this.#coordinator.reportSet({ iova: section.iova, length: section.length, pageSize }, this.#bitmap, { zero: this.#bitmap.state !== 'zeroed' });
      for (const o of set.outcomes) {
        out.reported[o.name] = (out.reported[o.name] ?? 0) + o.pagesReported;
        if (o.errno !== null) out.recoveries.push({ tracker: o.name, errno: o.errno, recovery: o.recovery });
        if (o.markedBytes > 0n) out.reported[RECOVERY_MARKS] = (out.reported[RECOVERY_MARKS] ?? 0) + Number(o.markedBytes / pageSize);
      }
      out.freshPages += this.#ram.merge(section, this.#bitmap);
      if (this.#allDirty) {
        out.freshPages += this.#ram.markRange(section.offset, Number(section.length));
        out.reported[ALL_DIRTY] = (out.reported[ALL_DIRTY] ?? 0) + Number(section.length / pageSize);
      }
    }
    return out;
  }
}
