// Reading a V8 .cpuprofile (what `node --cpu-prof` writes, one per thread): self time per sample,
// sorted into work and the rest — idle waiting, V8's own "(program)" time, garbage collection —
// and the work by function, at a location a mapper chooses (src/*.ts through the source maps).
// Pure: the profile comes in as parsed JSON, the mapper as a function.

export interface CallFrame { functionName: string; url: string; lineNumber: number; columnNumber: number }
export interface ProfileNode { id: number; callFrame: CallFrame; children?: number[] }
export interface CpuProfile { nodes: ProfileNode[]; startTime: number; endTime: number; samples?: number[]; timeDeltas?: number[] }

/**
 * Where a sample's time went:
 *   work     JavaScript (ours, node's, libraries') and the builtins it calls;
 *   idle     waiting for something to do: the event loop's "(idle)", a piscina pool thread
 *            blocked in `Atomics.wait` between tasks (its atomicsWaitLoop), an `Atomics.wait`;
 *   program  V8's "(program)": native work outside any JavaScript frame (compiling, the embedder);
 *   gc       "(garbage collector)".
 */
export type TimeKind = 'work' | 'idle' | 'program' | 'gc';
export const TIME_KINDS: readonly TimeKind[] = ['work', 'idle', 'program', 'gc'];

/** What a frame's self time counts as (see TimeKind). */
export function kindOf(frame: CallFrame): TimeKind {
  const name = frame.functionName;
  if (frame.url === '') {
    if (name === '(idle)') return 'idle';
    if (name === '(program)') return 'program';
    if (name === '(garbage collector)') return 'gc';
    // Atomics.wait as a builtin frame (V8 shows it when the waiting caller is not inlined).
    if (name === 'wait' || name === 'Atomics.wait') return 'idle';
    return 'work';
  }
  // piscina's worker between tasks: `Atomics.wait` on its shared state, inlined into this loop.
  if (name === 'atomicsWaitLoop' && frame.url.includes('/piscina/')) return 'idle';
  return 'work';
}

export interface FunctionTime {
  name: string;
  /** Where it is, as the mapper says (`src/dma/engine.ts:43`), '' for a native frame. */
  where: string;
  kind: TimeKind;
  selfMs: number;
  /** Share of the thread's work (for work) or of its whole sampled time (for the rest). */
  share: number;
}

export interface ThreadSummary {
  /** The name the thread's file was given (`main`, `tracker-nic0`, `dma-pool-1`). */
  thread: string;
  file: string;
  totalMs: number;
  /** Milliseconds of each kind; they add up to totalMs. */
  byKind: Record<TimeKind, number>;
  /** The idle frames by name (what the thread waited in). */
  idle: FunctionTime[];
  /** The top functions by self time, work only. */
  top: FunctionTime[];
}

/** A frame's location → text (`src/x.ts:12`); the default prints the url as it is. */
export type LocationMapper = (frame: CallFrame) => string;

const rawLocation: LocationMapper = (f) => (f.url ? `${f.url}:${f.lineNumber + 1}` : '');

/** Self time per node id, in microseconds: timeDeltas[i] is the time before sample i, charged to it. */
export function selfTimes(profile: CpuProfile): Map<number, number> {
  const selfUs = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) selfUs.set(samples[i]!, (selfUs.get(samples[i]!) ?? 0) + Math.max(0, deltas[i] ?? 0));
  return selfUs;
}

export function summarizeProfile(profile: CpuProfile, options: { thread: string; file: string; top?: number; where?: LocationMapper }): ThreadSummary {
  const where = options.where ?? rawLocation;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const byKind: Record<TimeKind, number> = { work: 0, idle: 0, program: 0, gc: 0 };
  const byFunction = new Map<string, FunctionTime>();
  for (const [id, us] of selfTimes(profile)) {
    const frame = byId.get(id)?.callFrame;
    if (!frame || frame.functionName === '(root)') continue;
    const kind = kindOf(frame);
    const ms = us / 1000;
    byKind[kind] += ms;
    const name = frame.functionName || '(anonymous)';
    const at = where(frame);
    const key = `${kind}\0${name}\0${at}`;
    const entry = byFunction.get(key) ?? { name, where: at, kind, selfMs: 0, share: 0 };
    entry.selfMs += ms;
    byFunction.set(key, entry);
  }
  const totalMs = TIME_KINDS.reduce((n, k) => n + byKind[k], 0);
  const all = [...byFunction.values()].sort((a, b) => b.selfMs - a.selfMs);
  for (const f of all) f.share = f.kind === 'work' ? (byKind.work > 0 ? f.selfMs / byKind.work : 0) : (totalMs > 0 ? f.selfMs / totalMs : 0);
  return {
    thread: options.thread, file: options.file, totalMs, byKind,
    idle: all.filter((f) => f.kind === 'idle'),
    top: all.filter((f) => f.kind === 'work').slice(0, options.top ?? 12),
  };
}

const pct = (part: number, whole: number) => `${whole > 0 ? (part * 100 / whole).toFixed(1) : '0.0'} %`;
const msText = (ms: number) => `${ms.toFixed(0)} ms`;

/**
 * `-- tracker-nic0 (tracker-nic0.cpuprofile): 2494 ms sampled: work 60 ms (2.4 %), idle 2401 ms
 * (96.3 %: (idle) 2401 ms), program 5 ms, gc 7 ms`, then the top work functions with their share
 * of the work.
 */
export function formatSummary(s: ThreadSummary): string {
  const idleParts = s.idle.map((f) => `${f.name} ${msText(f.selfMs)}`).join(', ');
  const lines = [
    `-- ${s.thread} (${s.file}): ${msText(s.totalMs)} sampled: work ${msText(s.byKind.work)} (${pct(s.byKind.work, s.totalMs)}), ` +
    `idle ${msText(s.byKind.idle)} (${pct(s.byKind.idle, s.totalMs)}${idleParts ? `: ${idleParts}` : ''}), ` +
    `program ${msText(s.byKind.program)}, gc ${msText(s.byKind.gc)}`,
  ];
  if (s.top.length > 0) lines.push('   self time of work, % of the work:');
  for (const t of s.top) lines.push(`   ${t.selfMs.toFixed(1).padStart(9)} ms  ${(t.share * 100).toFixed(1).padStart(5)} %  ${t.name}${t.where ? `  ${t.where}` : ''}`);
  return lines.join('\n');
}
