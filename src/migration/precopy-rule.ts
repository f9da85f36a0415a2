// QEMU's pre-copy decisions (migration_iteration_run) on the virtual clock of 100 ms rate
// windows, as plain functions of numbers: when to sync, when to switch over, and how far the
// copier gets before the next decision. migration.ts runs them against real bitmaps and threads;
// docs/migration-loop.md walks through the loop step by step.

/** QEMU's rate-limit window (BUFFER_DELAY). */
export const WINDOW_MS = 100;

/**
 * Sync now (QEMU: the estimate is low enough to ask for the exact pending, which syncs first)?
 * The estimate is unsent dirty RAM + device state. QEMU's estimate leaves out the state a device
 * sends at stop-copy, so an empty bitmap always leads it to a sync; dmalog counts the state here
 * too, and so syncs on an empty bitmap explicitly: otherwise state above the threshold would
 * leave nothing to send and nothing to decide, and the loop would idle forever.
 */
export function syncDue(dirtyBytes: number, stateBytes: number, thresholdBytes: number): boolean {
  return dirtyBytes === 0 || dirtyBytes + stateBytes <= thresholdBytes;
}

export type AfterSync = 'switchover' | 'iteration-cap' | 'time-cap' | 'continue';

/** What follows a pre-copy sync whose exact pending (dirty RAM + device state) is `pendingBytes`. */
export function afterSync(pendingBytes: number, thresholdBytes: number, iterations: number, maxIterations: number, timeUp: boolean): AfterSync {
  if (pendingBytes <= thresholdBytes) return 'switchover';
  if (iterations >= maxIterations) return 'iteration-cap';
  return timeUp ? 'time-cap' : 'continue';
}

/**
 * The threshold in effect: QEMU computes it (bandwidth × downtime-limit) at the end of each rate
 * window from the bandwidth measured there, and starts at 0, so no switchover happens in the
 * first window (the bulk stage's first 100 ms) unless nothing at all is pending.
 */
export function thresholdIn(windowIndex: number, thresholdBytes: number): number {
  return windowIndex === 0 ? 0 : thresholdBytes;
}

/** One stretch of copying between two decision points. */
export interface Segment {
  /** Pages sent in it. */
  pages: number;
  /** Its length in ms: the guest's writers run this long alongside. */
  ms: number;
  /** True when it ends at the window's end (the budget is spent), false when the bitmap empties first. */
  endsWindow: boolean;
}

/**
 * The rate windows: a budget of bandwidth × 100 ms per window, time advancing with the bytes sent
 * (t = window start + bytes sent in the window / bandwidth). A budget leftover below a page carries
 * into the next window while there is still something to send.
 */
export class RateWindows {
  readonly bytesPerMs: number;
  readonly pageSize: number;
  /** Window index (0 = the first window) and its start time. */
  index = 0;
  startMs = 0;
  #sent = 0;
  #budget: number;

  constructor(bandwidth: number, pageSize: number) {
    this.bytesPerMs = bandwidth / 1000;
    this.pageSize = pageSize;
    this.#budget = this.bytesPerMs * WINDOW_MS;
  }

  get nowMs(): number {
    return this.startMs + this.#sent / this.bytesPerMs;
  }

  /** The next segment from now, with `dirtyPages` unsent: until the budget is spent or the bitmap empties. */
  plan(dirtyPages: number): Segment {
    const allowed = Math.floor((this.#budget - this.#sent) / this.pageSize);
    if (dirtyPages < allowed) return { pages: dirtyPages, ms: dirtyPages * this.pageSize / this.bytesPerMs, endsWindow: false };
    return { pages: allowed, ms: this.startMs + WINDOW_MS - this.nowMs, endsWindow: true };
  }

  /** The segment `s` was sent; at a window's end the next window begins. */
  advance(s: Segment, dirtyLeft: number): void {
    this.#sent += s.pages * this.pageSize;
    if (!s.endsWindow) return;
    const leftover = this.#budget - this.#sent;
    this.index++;
    this.startMs = this.index * WINDOW_MS;
    this.#sent = 0;
    this.#budget = this.bytesPerMs * WINDOW_MS + (dirtyLeft > 0 ? leftover : 0);
  }
}
