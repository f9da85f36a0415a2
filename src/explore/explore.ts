// `dmalog explore` without the command line: run one scenario under a scheduler, check every
// execution with the oracle, shrink the first counterexample and print it step by step.
import { opLabel, type Scenario } from './scenario.js';
import { dfs, pctSearch, randomSearch, runOnce, type Mode, type Reduction, type Run, type SearchProgress, type SearchResult } from './search.js';
import { formatSchedule, parseSchedule, trimDefaults } from './schedule.js';
import { replayChooser, shrink } from './shrink.js';
import type { TraceStep } from './execution.js';
import type { Violation } from './oracle.js';
import { World } from './world.js';

export interface ExploreOptions {
  mode: Mode;
  /** DFS: most preemptions per schedule. */
  preemptions: number;
  /** random and PCT: schedules to run; DFS: stop (not exhausted) after this many. */
  schedules: number;
  seed: bigint;
  /** PCT depth d. */
  depth: number;
  reduction: Reduction;
  /** Run only this schedule (a printed one). */
  replay?: string;
  /** Go on past the first violation (DFS: to exhaust the bound, counting violating schedules). */
  keepGoing?: boolean;
}

export const EXPLORE_DEFAULTS = { mode: 'dfs', preemptions: 2, schedules: 1000, dfsBudget: 1_000_000, depth: 3, reduction: 'sleep-sets' } as const;

export interface TraceLine {
  step: number;
  actor: string;
  operation: string;
  array: string | null;
  index: number | null;
  /** Bytes of the element accessed. */
  width: number | null;
  operand: number | null;
  before: number | null;
  after: number | null;
  returned: number | null;
  preempts: boolean;
}

export interface Counterexample {
  violations: Violation[];
  schedule: string;
  preemptions: number;
  steps: number;
  /** Before shrinking. */
  foundPreemptions: number;
  foundSteps: number;
  trace: TraceLine[];
  replay: string;
}

export interface ExploreReport {
  scenario: string;
  description: string;
  mode: Mode | 'replay';
  preemptions: number | null;
  seed: string | null;
  schedules: number;
  pruned: number;
  exhausted: boolean;
  /** Schedules that broke a rule (1 unless keepGoing). */
  violating: number;
  ms: number;
  verdict: 'holds' | 'violation';
  counterexample: Counterexample | null;
  /** Replay only: hash of the memory the schedule ends in, and every step. */
  memoryHash?: string;
  trace?: TraceLine[];
}

const OP_NAMES: Record<string, string> = { load: 'load', store: 'store', or: 'or', and: 'and', add: 'add', exchange: 'exchange', 'atomic-load': 'Atomics.load', 'atomic-store': 'Atomics.store', fill: 'fill', scan: 'scan' };

export function traceLines(world: World, trace: readonly TraceStep[]): TraceLine[] {
  const s = world.scenario;
  return trace.map((t, i) => {
    const actor = s.actors[t.actor]!;
    const base = { step: i + 1, actor: actor.name, preempts: t.preempted };
    if (t.access.buffer === null) {
      const op = actor.ops[t.access.operand]!;
      const label = t.access.kind === 'begin' ? `begin #${t.access.operand} ${opLabel(op)}` : `end #${t.access.operand}${op.do === 'write' ? ' (dmaWrite resolved)' : ''}`;
      return { ...base, operation: label, array: null, index: null, width: null, operand: null, before: null, after: null, returned: null };
    }
    const where = world.locate(t.access);
    const writes = t.access.kind !== 'load' && t.access.kind !== 'atomic-load' && t.access.kind !== 'scan';
    // Values as unsigned words (the Int32Array views give 0xffffffff as -1).
    const u = (v: number) => v >>> 0;
    return {
      ...base,
      operation: OP_NAMES[t.access.kind]! + (t.access.width === 1 && t.access.kind !== 'fill' && t.access.kind !== 'scan' ? '8' : ''),
      array: where.name,
      index: where.index,
      width: t.access.width,
      // A scan's operand is its length in bytes; before and after say whether any byte was non-zero.
      operand: writes || t.access.kind === 'scan' ? u(t.access.operand) : null,
      before: u(t.before),
      after: u(t.after),
      returned: t.access.kind === 'store' || t.access.kind === 'atomic-store' || t.access.kind === 'fill' ? null : u(t.result),
    };
  });
}

function hex(v: number, width: number): string {
  return `0x${(v >>> 0).toString(16).padStart(width * 2, '0')}`;
}

export function formatTrace(lines: readonly TraceLine[]): string {
  const out = ['step  actor  operation'];
  for (const l of lines) {
    let text: string;
    if (l.array === null) {
      text = l.operation;
    } else {
      const w = l.width!;
      const operand = l.operand === null ? '' : l.operation === 'fill' ? ` ${l.operand}` : l.operation === 'scan' ? ` ${l.operand} bytes` : ` ${hex(l.operand, w)}`;
      const returned = l.returned === null ? '' : `  returned ${hex(l.returned, w)}`;
      text = `${l.operation.padEnd(13)} ${`${l.array}[${l.operation === 'fill' ? 'all' : l.index}]`.padEnd(22)}${operand.padEnd(12)} ${hex(l.before!, w)} → ${hex(l.after!, w)}${returned}`;
    }
    out.push(`${String(l.step).padStart(4)}  ${l.actor.padEnd(6)} ${text}${l.preempts ? '   ← preempts' : ''}`);
  }
  return out.join('\n');
}

export function replayCommand(scenarioArg: string, schedule: string): string {
  return `dmalog explore --scenario ${scenarioArg} --replay ${schedule === '' ? "''" : schedule}`;
}

function counterexample(world: World, found: Run, scenarioArg: string): Counterexample {
  const { run } = shrink(world, found);
  const names = world.scenario.actors.map((a) => a.name);
  const schedule = formatSchedule(trimDefaults(run.exec.choices, run.exec.defaults), names);
  return {
    violations: run.violations,
    schedule,
    preemptions: run.exec.preemptions,
    steps: run.exec.choices.length,
    foundPreemptions: found.exec.preemptions,
    foundSteps: found.exec.choices.length,
    trace: traceLines(world, run.exec.trace),
    replay: replayCommand(scenarioArg, schedule),
  };
}

/** `scenarioArg`: how the command line named the scenario (a bundled name or a file), for the replay line. */
export function explore(scenario: Scenario, opts: ExploreOptions, scenarioArg = scenario.name, onProgress?: (p: SearchProgress) => void): ExploreReport {
  const world = new World(scenario);
  const began = performance.now();
  const base = { scenario: scenario.name, description: scenario.description };
  if (opts.replay !== undefined) {
    const names = scenario.actors.map((a) => a.name);
    const run = runOnce(world, replayChooser(parseSchedule(opts.replay, names), false));
    const memoryHash = world.memoryHash();
    const schedule = formatSchedule(trimDefaults(run.exec.choices, run.exec.defaults), names);
    return {
      ...base, mode: 'replay', preemptions: null, seed: null, schedules: 1, pruned: 0, exhausted: false, violating: run.violations.length > 0 ? 1 : 0, ms: performance.now() - began,
      verdict: run.violations.length > 0 ? 'violation' : 'holds',
      counterexample: run.violations.length > 0 ? {
        violations: run.violations, schedule, preemptions: run.exec.preemptions, steps: run.exec.choices.length,
        foundPreemptions: run.exec.preemptions, foundSteps: run.exec.choices.length, trace: traceLines(world, run.exec.trace), replay: replayCommand(scenarioArg, schedule),
      } : null,
      memoryHash,
      trace: traceLines(world, run.exec.trace),
    };
  }
  let result: SearchResult;
  const search = { budget: opts.schedules, keepGoing: opts.keepGoing ?? false, ...(onProgress ? { onProgress } : {}) };
  if (opts.mode === 'dfs') result = dfs(world, opts.preemptions, opts.reduction, search);
  else if (opts.mode === 'random') result = randomSearch(world, opts.seed, search);
  else result = pctSearch(world, opts.seed, opts.depth, search);
  const ce = result.failure ? counterexample(world, result.failure, scenarioArg) : null;
  return {
    ...base,
    mode: opts.mode,
    preemptions: opts.mode === 'dfs' ? opts.preemptions : null,
    seed: opts.mode === 'dfs' ? null : String(opts.seed),
    schedules: result.schedules,
    pruned: result.pruned,
    exhausted: result.exhausted,
    violating: result.violating,
    ms: performance.now() - began,
    verdict: ce ? 'violation' : 'holds',
    counterexample: ce,
  };
}

export function formatReport(r: ExploreReport): string {
  const lines: string[] = [];
  const how = r.mode === 'replay' ? 'replay of one schedule' : r.mode === 'dfs' ? `dfs, at most ${r.preemptions} preemption${r.preemptions === 1 ? '' : 's'}` : `${r.mode}, seed ${r.seed}`;
  lines.push(`scenario ${r.scenario}: ${r.description}`);
  const end = r.mode !== 'dfs' ? '' : r.exhausted ? ', bound exhausted' : r.counterexample && r.violating === 1 ? ', stopped at the first violation' : ', bound NOT exhausted';
  const bad = r.violating > 1 ? `, ${r.violating} of them violating` : '';
  lines.push(`${how}: ${r.schedules} schedule${r.schedules === 1 ? '' : 's'} run${bad}${r.pruned > 0 ? `, ${r.pruned} pruned as equivalent` : ''}${end} in ${(r.ms / 1000).toFixed(2)} s`);
  if (r.memoryHash) lines.push(`memory after the schedule: ${r.memoryHash}`);
  const c = r.counterexample;
  if (!c) {
    if (r.trace) lines.push(formatTrace(r.trace));
    lines.push(r.mode === 'replay' ? 'every rule held on this schedule' : 'no violation: every rule held on every schedule run');
    return `${lines.join('\n')}\n`;
  }
  lines.push(`VIOLATION (${c.violations[0]!.rule}): ${c.violations[0]!.message}`);
  for (const v of c.violations.slice(1)) lines.push(`  also (${v.rule}): ${v.message}`);
  const preemptions = (n: number) => `${n} preemption${n === 1 ? '' : 's'}`;
  if (r.mode !== 'replay') lines.push(`counterexample shrunk from ${preemptions(c.foundPreemptions)} and ${c.foundSteps} steps to ${preemptions(c.preemptions)} and ${c.steps} steps:`);
  else lines.push(`${preemptions(c.preemptions)}, ${c.steps} steps:`);
  lines.push(formatTrace(c.trace));
  lines.push(`schedule: ${c.schedule === '' ? '(none: every actor in turn)' : c.schedule}`);
  lines.push(`replay: ${c.replay}`);
  return `${lines.join('\n')}\n`;
}
