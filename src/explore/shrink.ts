// Shrinking a failing schedule: fewest preemptions first, then the fewest steps, then the
// shortest printed schedule; a candidate is kept only when it is better in that order.
// Greedy deletion over the choice list (each candidate replayed leniently: a choice naming an
// actor that cannot step is skipped), then, for fewer preemptions, a DFS at each lower bound.
import { defaultChoice, type Chooser } from './execution.js';
import { trimDefaults } from './schedule.js';
import { dfs, runOnce, type Run } from './search.js';
import type { World } from './world.js';

/** Replay `choices`; lenient: skip a choice of an actor that cannot take the step (else an error). */
export function replayChooser(choices: readonly number[], lenient: boolean): Chooser {
  let k = 0;
  return (d) => {
    while (k < choices.length) {
      const c = choices[k++]!;
      if (!lenient || d.enabled.includes(c)) return c;
    }
    return defaultChoice(d);
  };
}

/** Fewest preemptions, then fewest steps (the trace to read), then the shortest printed schedule. */
function key(run: Run): [number, number, number] {
  return [run.exec.preemptions, run.exec.choices.length, trimDefaults(run.exec.choices, run.exec.defaults).length];
}

function better(a: Run, b: Run): boolean {
  const x = key(a);
  const y = key(b);
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i]! < y[i]!;
  return false;
}

export interface Shrunk {
  run: Run;
  /** Executions tried while shrinking. */
  tries: number;
}

export function shrink(world: World, failing: Run, budget = 5000): Shrunk {
  let best = failing;
  let tries = 0;
  const attempt = (choices: number[]): boolean => {
    if (tries >= budget) return false;
    tries++;
    const run = runOnce(world, replayChooser(choices, true));
    // The same rule broken, not just any: a shrink must keep the bug it was given.
    if (run.violations.some((v) => v.rule === failing.violations[0]!.rule) && better(run, best)) {
      best = run;
      return true;
    }
    return false;
  };
  const greedy = () => {
    let improved = true;
    while (improved && tries < budget) {
      improved = false;
      const list = trimDefaults(best.exec.choices, best.exec.defaults);
      // Drop whole runs of one actor, then single choices, then make a choice repeat the one before.
      const candidates: number[][] = [];
      for (let i = 0; i < list.length;) {
        let j = i;
        while (j < list.length && list[j] === list[i]) j++;
        candidates.push([...list.slice(0, i), ...list.slice(j)]);
        i = j;
      }
      for (let i = 0; i < list.length; i++) candidates.push([...list.slice(0, i), ...list.slice(i + 1)]);
      for (let i = 1; i < list.length; i++) if (list[i] !== list[i - 1]) candidates.push([...list.slice(0, i), list[i - 1]!, ...list.slice(i + 1)]);
      for (const c of candidates) if (attempt(c)) { improved = true; break; }
    }
  };
  greedy();
  for (let bound = 0; bound < best.exec.preemptions && tries < budget; bound++) {
    const found = dfs(world, bound, 'sleep-sets', { budget: Math.max(1, budget - tries) });
    tries += found.schedules + found.pruned;
    const f = found.failure;
    if (f && f.violations.some((v) => v.rule === failing.violations[0]!.rule)) {
      best = f;
      greedy();
      break;
    }
  }
  return { run: best, tries };
}
