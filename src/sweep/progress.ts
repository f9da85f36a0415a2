// The sweep's progress on stderr: points done of the share, rate, ETA and outcomes. On a terminal
// one line rewritten in place; otherwise (a log, CI) a line every `every` points and the last one,
// so that a long sweep leaves a short trace.
import type { SweepProgress } from './sweep.js';

/** 42 s, 3 m 05 s, 2 h 10 m. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} m ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} m`;
}

/** Points per second so far, and the time the rest would take at that rate (null before the first point). */
export function eta(p: Pick<SweepProgress, 'done' | 'toRun' | 'elapsedMs'>): { perSecond: number; remainingMs: number } | null {
  if (p.done === 0 || p.elapsedMs <= 0) return null;
  const perSecond = p.done / (p.elapsedMs / 1000);
  return { perSecond, remainingMs: ((p.toRun - p.done) / perSecond) * 1000 };
}

export function progressText(p: SweepProgress): string {
  const e = eta(p);
  const c = p.counts;
  const failed = c.failed + c.mismatch + c.error;
  const rate = e === null ? '' : ` · ${e.perSecond >= 1 ? e.perSecond.toFixed(1) : (e.perSecond * 60).toFixed(1)} points/${e.perSecond >= 1 ? 's' : 'min'} · ETA ${formatDuration(e.remainingMs)}`;
  const skipped = p.skipped > 0 ? ` (+${p.skipped} done before)` : '';
  return `sweep: ${p.done}/${p.toRun} points${skipped} · ${formatDuration(p.elapsedMs)}${rate} · converged ${c.converged}, not converged ${c['not-converged']}, failed ${failed}`;
}

export interface ProgressSink {
  update(p: SweepProgress): void;
  end(): void;
}

/** How often a terminal's line is redrawn between points (the elapsed time and ETA move on). */
const REDRAW_MS = 1000;

/**
 * Live on a TTY (redrawn every second, so a long point does not freeze the line); else a line
 * every `every` points and one for the last point.
 */
export function createSweepProgress(out: NodeJS.WriteStream, every: number): ProgressSink {
  const live = out.isTTY === true;
  let last: SweepProgress | null = null;
  let at = 0;
  let timer: NodeJS.Timeout | null = null;
  const draw = () => {
    if (last === null) return;
    const text = progressText({ ...last, elapsedMs: last.elapsedMs + (performance.now() - at) });
    out.write(`\r\x1b[K${text.slice(0, Math.max(20, (out.columns || 120) - 1))}`);
  };
  return {
    update(p) {
      last = p;
      at = performance.now();
      if (live) {
        draw();
        timer ??= setInterval(draw, REDRAW_MS).unref();
      } else if (p.done > 0 && (p.done % every === 0 || p.done === p.toRun)) {
        out.write(`${progressText(p)}\n`);
      }
    },
    end() {
      if (timer !== null) clearInterval(timer);
      if (live && last !== null) {
        // The last state as it was, not redrawn later.
        at = performance.now();
        draw();
        out.write('\n');
      }
    },
  };
}
