// The sweep's progress on stderr: points done of the share, rate, ETA and outcomes, as a status
// line of the CLI's progress (src/cli/progress.ts): on a terminal rewritten in place, and redrawn
// every second so that a long point does not freeze it; elsewhere (a log, CI) the first line, one
// at most every 10 s and the last. The rate is per minute below a point a second: the CLI's meter
// rounds rates to whole units, and a sweep of big guests would read "0 points/s".
import { createProgress, formatEta, type ProgressSink } from '../cli/progress.js';
import type { SweepProgress } from './sweep.js';

/** Points per second so far, and the time the rest would take at that rate (null before the first point). */
export function eta(p: Pick<SweepProgress, 'done' | 'toRun' | 'elapsedMs'>): { perSecond: number; remainingMs: number } | null {
  if (p.done === 0 || p.elapsedMs <= 0) return null;
  const perSecond = p.done / (p.elapsedMs / 1000);
  return { perSecond, remainingMs: ((p.toRun - p.done) / perSecond) * 1000 };
}

export function progressText(p: SweepProgress): string {
  const e = eta(p);
  const c = p.counts;
  // The final summary's words: "failed" is a migration that failed; points without a result
  // (errors) and memory mismatches are named apart, once there are any.
  const more = `${c.mismatch > 0 ? `, memory differs ${c.mismatch}` : ''}${c.error > 0 ? `, error ${c.error}` : ''}`;
  const perMinute = e !== null && e.perSecond < 1;
  const rate = e === null ? '' : ` · ${(perMinute ? e.perSecond * 60 : e.perSecond).toFixed(1)} points/${perMinute ? 'min' : 's'} · ETA ${formatEta(e.remainingMs)}`;
  const skipped = p.skipped > 0 ? ` (+${p.skipped} done before)` : '';
  return `sweep: ${p.done}/${p.toRun} points${skipped} · ${formatEta(p.elapsedMs)}${rate} · converged ${c.converged}, not converged ${c['not-converged']}, failed ${c.failed}${more}`;
}

export interface SweepProgressSink {
  update(p: SweepProgress): void;
  end(): void;
}

/** How often a terminal's line is redrawn between points (the elapsed time and ETA move on). */
const REDRAW_MS = 1000;

export function createSweepProgress(out: ProgressSink, options: { now?: () => number; everyMs?: number } = {}): SweepProgressSink {
  const progress = createProgress(out, options);
  const now = options.now ?? (() => performance.now());
  let last: SweepProgress | null = null;
  let at = 0;
  let timer: NodeJS.Timeout | null = null;
  const draw = () => {
    if (last !== null) progress.status(progressText({ ...last, elapsedMs: last.elapsedMs + (now() - at) }), 'sweep');
  };
  return {
    update(p) {
      last = p;
      at = now();
      progress.status(progressText(p), 'sweep', p.done === p.toRun);
      if (progress.live) timer ??= setInterval(draw, REDRAW_MS).unref();
    },
    end() {
      if (timer !== null) clearInterval(timer);
      progress.end();
    },
  };
}
