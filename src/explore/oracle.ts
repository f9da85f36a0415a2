// The oracle: contract §2 and §6 as a check on one execution's history (when each op was invoked
// and answered, in steps) and the report sets' bitmaps at the end.
//
// - reported: a write whose dmaWrite resolved before a REPORT of its tracker was issued, on a page
//   of that REPORT's window, is in that REPORT's set or an earlier one that had not completed
//   before the write began. Broken, the page is `late` (a later set has it) or `lost` (none has:
//   the §6 invariant, a page written before the last REPORT in no report set at or after it).
// - invented: every bit of a set is explained by a write to its granule begun before the set
//   completed, on a tracker reporting in that set, or by a recovery mark of that set.
// - zeroing: a set's bitmap is zeroed (when it starts stale) and every zeroing of it ends before
//   its first REPORT or mark is issued (the user zeroes between sets, never during one).
import type { OpRecord } from './execution.js';
import { granuleOf, type Scenario } from './scenario.js';
import type { World } from './world.js';

export type Rule = 'late' | 'lost' | 'invented' | 'zeroing';

export interface Violation {
  rule: Rule;
  message: string;
}

function opName(s: Scenario, r: OpRecord): string {
  return `${s.actors[r.actor]!.name}#${r.index}`;
}

/** Pages [first, last] a write of `page` makes dirty once its granules are reported. */
function reportedSpan(s: Scenario, page: number): [number, number] {
  const P = s.pageSize;
  const T = granuleOf(s);
  const start = Math.floor((page * P) / T) * T;
  const end = Math.ceil(((page + 1) * P) / T) * T;
  return [Math.floor(start / P), Math.ceil(end / P) - 1];
}

export function checkHistory(world: World, ops: OpRecord[][]): Violation[] {
  const s = world.scenario;
  const all = ops.flat();
  const writes = all.filter((r) => r.op.do === 'write');
  const setOps = (i: number) => all.filter((r) => (r.op.do === 'report' || r.op.do === 'mark') && r.op.set === i);
  const bits = s.sets.map((_, i) => new Set(world.setPages(i)));
  const completion = s.sets.map((_, i) => Math.max(-1, ...setOps(i).map((r) => r.response)));
  const violations: Violation[] = [];

  for (const w of writes) {
    if (w.op.do !== 'write') continue;
    const { page, tracker } = w.op;
    for (const r of all) {
      if (r.op.do !== 'report' || r.op.tracker !== tracker || !(w.response < r.invoke)) continue;
      const reportSet = r.op.set;
      const set = s.sets[reportSet]!;
      if (page < set.firstPage || page >= set.firstPage + set.pages) continue;
      const holds = (i: number) => bits[i]!.has(page) && completion[i]! > w.invoke;
      let ok = false;
      for (let i = 0; i <= reportSet; i++) if (holds(i)) ok = true;
      if (ok) continue;
      const later = s.sets.map((_, i) => i).filter((i) => i > reportSet && holds(i));
      violations.push({
        rule: later.length > 0 ? 'late' : 'lost',
        message: `${opName(s, w)} (page ${page}) resolved at step ${w.response}, before ${opName(s, r)} (REPORT of tracker ${tracker}, set ${reportSet}) was issued at step ${r.invoke}, ` +
          (later.length > 0 ? `but page ${page} shows up only in set ${later[0]} (one report set late or more)` : `and page ${page} is in no report set at or after the write: lost`),
      });
      break;
    }
  }

  s.sets.forEach((_, i) => {
    const reporting = new Set(setOps(i).flatMap((r) => (r.op.do === 'report' ? [r.op.tracker] : [])));
    const marked = new Set(setOps(i).flatMap((r) => r.marked));
    for (const page of bits[i]!) {
      if (marked.has(page)) continue;
      const explained = writes.some((w) => {
        if (w.op.do !== 'write' || !reporting.has(w.op.tracker) || w.invoke < 0 || !(w.invoke < completion[i]!)) return false;
        const [first, last] = reportedSpan(s, w.op.page);
        return page >= first && page <= last;
      });
      if (!explained) violations.push({ rule: 'invented', message: `set ${i} has page ${page} set, and no write to its granule nor recovery mark of set ${i} explains it` });
    }
  });

  s.sets.forEach((set, i) => {
    const zeros = all.filter((r) => r.op.do === 'zero' && r.op.set === i);
    if (set.stale && zeros.length === 0) violations.push({ rule: 'zeroing', message: `set ${i}'s bitmap starts stale and nothing zeroes it before the set` });
    for (const z of zeros) {
      for (const r of setOps(i)) {
        if (!(z.response < r.invoke)) {
          violations.push({ rule: 'zeroing', message: `${opName(s, z)} (zero set ${i}) ended at step ${z.response}, not before ${opName(s, r)} of that set was issued at step ${r.invoke}` });
        }
      }
    }
  });
  return violations;
}
