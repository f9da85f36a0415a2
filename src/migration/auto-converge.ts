// Auto-converge as QEMU does it (contract §8): at each sync after the first, when the guest dirtied
// more than half of what was sent since the previous sync, count it; on every second such sync,
// throttle the vCPUs (20 %, then +10 % per step, at most 99 %). Only vCPUs slow down: device DMA
// is not throttled, so a device-driven dirty rate can still keep the migration from converging.

export const THROTTLE_INITIAL_PCT = 20;
export const THROTTLE_INCREMENT_PCT = 10;
export const THROTTLE_MAX_PCT = 99;
/** Dirtied bytes above this share of sent bytes count as "dirty rate too high". */
export const THROTTLE_TRIGGER_PCT = 50;
/** How many "too high" syncs trigger one throttle step. */
const HIGH_SYNCS_PER_STEP = 2;

export class AutoConverge {
  readonly enabled: boolean;
  #throttlePct = 0;
  #highSyncs = 0;

  constructor(enabled: boolean) {
    this.enabled = enabled;
  }

  /** vCPU throttle in percent (0 = full speed). */
  get throttlePct(): number {
    return this.#throttlePct;
  }

  /** Fraction of its nominal rate a vCPU runs at. */
  get vcpuSpeed(): number {
    return 1 - this.#throttlePct / 100;
  }

  /** Feed one sync's period; returns true when it stepped the throttle up. */
  afterSync(dirtiedBytes: number, sentBytes: number): boolean {
    if (!this.enabled) return false;
    if (dirtiedBytes <= sentBytes * (THROTTLE_TRIGGER_PCT / 100)) return false;
    if (++this.#highSyncs < HIGH_SYNCS_PER_STEP) return false;
    this.#highSyncs = 0;
    this.#throttlePct = this.#throttlePct === 0
      ? THROTTLE_INITIAL_PCT
      : Math.min(THROTTLE_MAX_PCT, this.#throttlePct + THROTTLE_INCREMENT_PCT);
    return true;
  }
}
