// An in-thread DirtyTracker for coordinator tests: a set of dirty 4 KiB pages, scripted failures,
// and a shared event list that records the order of every call the coordinator makes.
import { IovaBitmap } from '../../src/bitmap/iova-bitmap.js';
import type { DirtyTracker, ReportWindow } from '../../src/trackers/tracker.js';
import { VfioError } from '../../src/errors.js';
import type { Errno } from '../../src/uapi/errno.js';
import type { LoggingRange } from '../../src/uapi/structs.js';

export class FakeTracker implements DirtyTracker {
  readonly kind = 'device' as const;
  readonly dirty = new Set<bigint>();
  logging = false;
  /** The next REPORT rejects with this errno (after reporting nothing). */
  failReport: Errno | null = null;
  /** Every START from now on rejects with this errno. */
  failStart: Errno | null = null;
  /** Called inside startLogging, before it resolves. */
  onStart: (() => void) | null = null;

  constructor(readonly name: string, readonly memory: SharedArrayBuffer, readonly events: string[]) {}

  async probe(): Promise<boolean> {
    return true;
  }

  async startLogging(_req: { pageSize: bigint; ranges: LoggingRange[] }): Promise<bigint> {
    this.events.push(`start ${this.name}`);
    if (this.failStart) throw new VfioError(this.failStart);
    this.onStart?.();
    this.logging = true;
    this.dirty.clear();
    return 4096n;
  }

  async stopLogging(): Promise<void> {
    this.events.push(`stop ${this.name}`);
    this.logging = false;
  }

  async report(req: ReportWindow & { bitmap: number }): Promise<number> {
    this.events.push(`report ${this.name}`);
    if (this.failReport) {
      const errno = this.failReport;
      this.failReport = null;
      throw new VfioError(errno);
    }
    const bitmap = new IovaBitmap(this.memory, req.bitmap, req);
    for (const iova of [...this.dirty].sort((a, b) => (a < b ? -1 : 1))) {
      if (iova < req.iova || iova >= req.iova + req.length) continue;
      bitmap.set(iova, 4096n);
      this.dirty.delete(iova);
    }
    bitmap.flush();
    return bitmap.bitsSet;
  }
}
