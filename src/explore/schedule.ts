// A schedule as a printed string: the actor taking each step, run-length encoded, e.g.
// `wa:3,wb:6,dev:9`. Past its end a replay goes on as `defaultChoice` does (the last actor while
// it can, else the first enabled), so a schedule is printed up to its last other choice.
import { DmalogError } from '../errors.js';

export function formatSchedule(choices: readonly number[], names: readonly string[]): string {
  const runs: string[] = [];
  for (let i = 0; i < choices.length;) {
    let j = i;
    while (j < choices.length && choices[j] === choices[i]) j++;
    runs.push(j - i === 1 ? names[choices[i]!]! : `${names[choices[i]!]!}:${j - i}`);
    i = j;
  }
  return runs.join(',');
}

export function parseSchedule(text: string, names: readonly string[]): number[] {
  const out: number[] = [];
  if (text.trim() === '') return out;
  for (const part of text.split(',')) {
    const m = /^([a-z][a-z0-9]*)(?::(\d+))?$/.exec(part.trim());
    if (!m) throw new DmalogError('DMALOG_BAD_OPTION', `--replay: '${part}' is not actor or actor:count`);
    const actor = names.indexOf(m[1]!);
    if (actor < 0) throw new DmalogError('DMALOG_BAD_OPTION', `--replay: no actor '${m[1]}' (actors: ${names.join(', ')})`);
    const count = m[2] === undefined ? 1 : Number(m[2]);
    if (!Number.isSafeInteger(count) || count < 1 || count > 100_000) throw new DmalogError('DMALOG_BAD_OPTION', `--replay: '${part}' needs a count within 1..100000`);
    for (let i = 0; i < count; i++) out.push(actor);
  }
  return out;
}

/** The choices an execution made, without the trailing ones a replay makes by itself. */
export function trimDefaults(choices: readonly number[], defaults: readonly boolean[]): number[] {
  let n = choices.length;
  while (n > 0 && defaults[n - 1]) n--;
  return choices.slice(0, n);
}
