// Progress of long runs, on stderr (stdout stays for results and --json). Two kinds of output:
//   line    what stays in the history (one per sync): printed whole, on its own line, never cut;
//   status  where a long step stands (first pass, memory check, calls so far), with its rate and
//           ETA: on a terminal rewritten in place below the history (and cut to the terminal's
//           width, since a wrapped line cannot be rewritten); elsewhere printed as plain lines,
//           the first and last of each phase always, the ones between at most every `everyMs`.
// The formatting is pure (meter, formatEta) and the clock injectable, so tests need no terminal.

/** What a long step reports: `done` of `total` units of work in its `phase`. */
export interface PhaseEvent {
  phase: string;
  done: number;
  total: number;
  /** `bytes` prints sizes (MiB, GiB); anything else is a count with that noun (`pages`, `calls`). */
  unit?: string;
}

/** Where progress goes: a stream, or anything with `write` (tests pass a string sink). */
export interface ProgressSink {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressOptions {
  /** Milliseconds since some origin (default performance.now). */
  now?: () => number;
  /** Off a terminal, the least time between two status lines of the same phase (default 10 s). */
  everyMs?: number;
}

export interface Progress {
  /** True on a terminal: status lines are rewritten in place. */
  readonly live: boolean;
  /** A line that stays in the history (a sync): whole, on its own line. */
  line(text: string): void;
  /** The current status of `key` (a phase); `last` marks its final state (always printed). */
  status(text: string, key?: string, last?: boolean): void;
  /** A phase event rendered as `phase: done/total (p %)  rate/s  ETA t`. */
  phase(event: PhaseEvent): void;
  /** Ends a status line left on a terminal, so what follows starts on its own line. */
  end(): void;
}

const MiB = 2 ** 20;
const GiB = 2 ** 30;

function amount(n: number, unit: string | undefined): string {
  if (unit === 'bytes') return n >= GiB ? `${(n / GiB).toFixed(2)} GiB` : `${(n / MiB).toFixed(1)} MiB`;
  return Math.round(n).toLocaleString('en-US');
}

/** `9 s`, `2 min 05 s`, `1 h 02 min`: a duration to wait, rounded up to the second. */
export function formatEta(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  const s = Math.ceil(ms / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor(s / 60) % 60).padStart(2, '0')} min`;
}

/**
 * `12,000/50,000 pages (24 %)  3,000 pages/s  ETA 13 s`, `elapsedMs` after the phase's first
 * event, which had `doneAtFirst` done; once done, `... (100 %)  3,000 pages/s  took 17 s`. Rate
 * and ETA come from the average since that first event, and are left out until there is
 * something to average.
 */
export function meter(done: number, total: number, elapsedMs: number, unit?: string, doneAtFirst = 0): string {
  const noun = unit === undefined || unit === 'bytes' ? '' : ` ${unit}`;
  const pct = total > 0 ? Math.min(100, Math.floor(done * 100 / total)) : 100;
  let text = `${amount(done, unit)}/${amount(total, unit)}${noun} (${pct} %)`;
  if (elapsedMs >= 200 && done > doneAtFirst) {
    const perSecond = (done - doneAtFirst) * 1000 / elapsedMs;
    text += `  ${amount(perSecond, unit)}${noun}/s`;
    text += done >= total ? `  took ${formatEta(elapsedMs)}` : `  ETA ${formatEta((total - done) / perSecond * 1000)}`;
  } else if (done >= total && elapsedMs > 0) {
    text += `  took ${formatEta(elapsedMs)}`;
  }
  return text;
}

export function createProgress(out: ProgressSink, options: ProgressOptions = {}): Progress {
  const live = out.isTTY === true;
  const now = options.now ?? (() => performance.now());
  const everyMs = options.everyMs ?? 10_000;
  /** The status line on the terminal now ('' = none). */
  let shown = '';
  /** Off a terminal: when each phase last printed. */
  const printed = new Map<string, number>();
  /** Each phase's first event: when it came and what it had done (the rate is measured from it). */
  const began = new Map<string, { at: number; done: number }>();
  const width = () => Math.max(20, (out.columns || 120) - 1);
  const clear = () => { if (shown !== '') { out.write('\r\x1b[K'); } };
  const line = (text: string): void => {
    if (live) {
      clear();
      out.write(`${text}\n`);
      if (shown !== '') out.write(shown);
    } else {
      out.write(`${text}\n`);
    }
  };
  const status = (text: string, key = '', last = false): void => {
    if (live) {
      shown = text.slice(0, width());
      out.write(`\r\x1b[K${shown}`);
      return;
    }
    const t = now();
    const at = printed.get(key);
    if (at === undefined || last || t - at >= everyMs) {
      printed.set(key, t);
      out.write(`${text}\n`);
    }
  };
  const phase = (e: PhaseEvent): void => {
    const t = now();
    if (!began.has(e.phase)) began.set(e.phase, { at: t, done: e.done });
    const first = began.get(e.phase)!;
    const last = e.done >= e.total;
    status(`${e.phase}: ${meter(e.done, e.total, t - first.at, e.unit, first.done)}`, e.phase, last);
    if (last) {
      began.delete(e.phase);
      printed.delete(e.phase);
      // A finished phase stays in the history on a terminal too.
      if (live) { out.write('\n'); shown = ''; }
    }
  };
  const end = (): void => {
    if (live && shown !== '') out.write('\n');
    shown = '';
  };
  return { live, line, status, phase, end };
}
