// The schedulers: seeded random, PCT (probabilistic concurrency testing, Burckhardt et al. 2010)
// with depth d, and DFS over every schedule with at most `bound` preemptions. Pure logic over
// executions (execution.ts), in one thread.
//
// DFS reduction: sleep sets (Godefroid 1996), restricted so that they stay sound under the
// preemption bound. At a node whose last actor c could go on, c is explored first; in the
// subtrees of the preempting siblings q explored after it, c sleeps until an actor takes a step
// that does not commute with c's next step (memory.ts `dependent`: the same bytes with a write
// among them, or two op events the oracle orders). A schedule S = n·q·X·c·Y pruned that way, c's
// step commuting with q·X, is equivalent to S' = n·c·q·X·Y, which costs no more preemptions: S
// pays one at n, S' at most one (c → q), and taking c's step out of X·c·Y merges two switches
// into at most one. So S' is within the bound whenever S is, and was explored (or pruned in turn
// for a cheaper one). Plain sleep sets also put preempting siblings to sleep; with a bound that
// loses schedules (Musuvathi and Qadeer 2007): the first version of this search missed 2 of 23
// final states of restart-mark at bound 2. The tests compare this search with `reduction: 'none'`
// on every bundled scenario: same verdicts, same final states.
import { createPrng } from '../util/prng.js';
import { actorBodies } from './actors.js';
import { defaultChoice, Execution, type Chooser, type Decision, type ExecutionResult } from './execution.js';
import { dependent, type Access } from './memory.js';
import { checkHistory, type Violation } from './oracle.js';
import type { World } from './world.js';

export type Mode = 'dfs' | 'random' | 'pct';
export type Reduction = 'sleep-sets' | 'none';

export interface Run {
  exec: ExecutionResult;
  violations: Violation[];
}

export function runOnce(world: World, chooser: Chooser): Run {
  const exec = new Execution(world, actorBodies(world), chooser).run();
  return { exec, violations: exec.aborted ? [] : checkHistory(world, exec.ops) };
}

export interface SearchResult {
  /** Complete executions run (each checked by the oracle). */
  schedules: number;
  /** Executions a DFS abandoned as equivalent to one explored (sleep sets). */
  pruned: number;
  /** DFS only: every schedule within the bound was run or pruned as equivalent. */
  exhausted: boolean;
  /** The first execution that broke a rule. */
  failure: Run | null;
  /** Executions that broke a rule (more than one only with keepGoing). */
  violating: number;
  /** Memory hash of every distinct final state (when asked for: `collectStates`). */
  states?: Set<string>;
}

export interface SearchOptions {
  /** Stop after this many schedules (DFS: not exhausted then). */
  budget: number;
  collectStates?: boolean;
  /** Keep searching past a violation (to compare searches). */
  keepGoing?: boolean;
  /** Called with every complete execution. */
  onRun?: (run: Run) => void;
  /** Called every PROGRESS_EVERY executions (run or pruned), for progress on long searches. */
  onProgress?: (p: SearchProgress) => void;
}

/** Where a search stands. */
export interface SearchProgress {
  schedules: number;
  pruned: number;
  violating: number;
}

/** Executions between two onProgress calls: cheap to count, often enough for a status line. */
export const PROGRESS_EVERY = 256;

function tick(result: SearchResult, opts: SearchOptions): void {
  if (opts.onProgress && (result.schedules + result.pruned) % PROGRESS_EVERY === 0) {
    opts.onProgress({ schedules: result.schedules, pruned: result.pruned, violating: result.violating });
  }
}

interface Node {
  enabled: readonly number[];
  current: number;
  pending: readonly (Access | null)[];
  preemptions: number;
  sleep: Set<number>;
  explored: Set<number>;
  choice: number;
}

/** One schedule run to its end: counted, its final state kept, its first violation kept; true when the search stops here. */
function counted(result: SearchResult, world: World, run: Run, opts: SearchOptions): boolean {
  result.schedules++;
  opts.onRun?.(run);
  result.states?.add(`${world.memoryHash()} ${run.violations.map((v) => v.rule).join(',')}`);
  if (run.violations.length === 0) return false;
  result.violating++;
  result.failure ??= run;
  return !opts.keepGoing;
}

function costOf(n: Node, c: number): number {
  return n.enabled.includes(n.current) && c !== n.current ? 1 : 0;
}

function allowed(n: Node, c: number, bound: number): boolean {
  return n.enabled.includes(c) && !n.sleep.has(c) && !n.explored.has(c) && n.preemptions + costOf(n, c) <= bound;
}

/** The first choice DFS makes at a node: the actor going on if it may, else the lowest allowed. */
function firstChoice(n: Node, bound: number): number {
  if (allowed(n, n.current, bound)) return n.current;
  return n.enabled.find((c) => allowed(n, c, bound)) ?? -1;
}

export function dfs(world: World, bound: number, reduction: Reduction, opts: SearchOptions): SearchResult {
  const stack: Node[] = [];
  const result: SearchResult = { schedules: 0, pruned: 0, exhausted: false, failure: null, violating: 0, ...(opts.collectStates ? { states: new Set<string>() } : {}) };
  for (;;) {
    let depth = 0;
    const chooser: Chooser = (d: Decision) => {
      if (depth < stack.length) return stack[depth++]!.choice;
      const parent = stack[stack.length - 1];
      const sleep = new Set<number>();
      if (reduction === 'sleep-sets' && parent) {
        const taken = parent.pending[parent.choice]!;
        // Of the siblings explored before, only the actor that could go on at no cost sleeps (see above).
        const asleep = [...parent.sleep, ...(parent.explored.has(parent.current) ? [parent.current] : [])];
        for (const p of asleep) {
          const next = parent.pending[p];
          if (p !== parent.choice && next && !dependent(next, taken)) sleep.add(p);
        }
      }
      const node: Node = { enabled: d.enabled, current: d.current, pending: d.pending, preemptions: d.preemptions, sleep, explored: new Set(), choice: -1 };
      node.choice = firstChoice(node, bound);
      if (node.choice < 0) return -1;
      stack.push(node);
      depth++;
      return node.choice;
    };
    const run = runOnce(world, chooser);
    if (run.exec.aborted) {
      result.pruned++;
    } else {
      if (counted(result, world, run, opts)) return result;
    }
    tick(result, opts);
    // Backtrack to the deepest node with a choice left.
    while (stack.length > 0) {
      const n = stack[stack.length - 1]!;
      n.explored.add(n.choice);
      const next = n.enabled.find((c) => allowed(n, c, bound)) ?? -1;
      if (next >= 0) {
        n.choice = next;
        break;
      }
      stack.pop();
    }
    if (stack.length === 0) {
      result.exhausted = true;
      return result;
    }
    if (result.schedules >= opts.budget) return result;
  }
}

/** Seeded random: every step, any enabled actor, uniformly. */
export function randomSearch(world: World, seed: bigint, opts: SearchOptions): SearchResult {
  const prng = createPrng(seed);
  return sample(world, opts, () => (d) => d.enabled[prng.int(0, d.enabled.length - 1)]!);
}

/**
 * PCT with depth d: actors get distinct random priorities above d; at d - 1 random steps (of the
 * steps an execution takes, measured by a first run) the actor about to step drops to priority
 * 1 .. d-1; at every step the enabled actor of highest priority runs. A bug needing d ordering
 * constraints is found by each run with probability ≥ 1 / (n · k^(d-1)).
 */
export function pctSearch(world: World, seed: bigint, depth: number, opts: SearchOptions): SearchResult {
  const prng = createPrng(seed);
  const n = world.scenario.actors.length;
  const steps = Math.max(1, runOnce(world, defaultChoice).exec.choices.length);
  return sample(world, opts, () => {
    const priority = Array.from({ length: n }, (_, i) => depth + i);
    for (let i = n - 1; i > 0; i--) {
      const j = prng.int(0, i);
      [priority[i], priority[j]] = [priority[j]!, priority[i]!];
    }
    const changes = new Map<number, number>();
    for (let k = 1; k < depth; k++) changes.set(prng.int(0, steps - 1), depth - k);
    return (d) => {
      const best = () => d.enabled.reduce((a, b) => (priority[b]! > priority[a]! ? b : a));
      const drop = changes.get(d.step);
      if (drop !== undefined) priority[best()] = drop;
      return best();
    };
  });
}

function sample(world: World, opts: SearchOptions, chooserFor: () => Chooser): SearchResult {
  const result: SearchResult = { schedules: 0, pruned: 0, exhausted: false, failure: null, violating: 0, ...(opts.collectStates ? { states: new Set<string>() } : {}) };
  while (result.schedules < opts.budget) {
    const run = runOnce(world, chooserFor());
    if (counted(result, world, run, opts)) break;
    tick(result, opts);
  }
  return result;
}
