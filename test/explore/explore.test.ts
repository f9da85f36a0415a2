// dmalog explore on dmalog's own code. Which code is which: scenarios with variant mark 'climb'
// and readClear 'exchange' (the default) run DirtyLog's own methods, today's code; mark
// 'shortcut' runs VariantDirtyLog's copy of the write path before commit 7ede066 (the summary race,
// fixed by that commit), readClear 'load-store' its read-and-clear as a load then a store (wrong on
// purpose). The summary race is found in the old path, shrunk, and kept here as a pinned schedule;
// today's path passes exhaustively at bound 2 on the same actors; the plain bitmap contract and the
// load-then-store read-and-clear are caught with shrunk counterexamples; the atomic contract
// passes; printed schedules replay to identical memory.
import test from 'ava';
import { explore, type ExploreOptions } from '../../src/explore/explore.js';
import { parseScenario } from '../../src/explore/scenario.js';
import { BUNDLED, bundled } from '../../src/explore/scenarios.js';
import { formatSchedule, parseSchedule, trimDefaults } from '../../src/explore/schedule.js';
import { dfs, pctSearch, randomSearch, runOnce } from '../../src/explore/search.js';
import { replayChooser } from '../../src/explore/shrink.js';
import { World } from '../../src/explore/world.js';
import { SIX_ACTORS } from '../helpers/explore.js';

const DFS2: ExploreOptions = { mode: 'dfs', preemptions: 2, schedules: 1_000_000, seed: 1n, depth: 3, reduction: 'sleep-sets' };

function scenario(name: string) {
  const s = bundled(name);
  if (!s) throw new Error(`no scenario ${name}`);
  return s;
}

/** Replay a printed schedule strictly on a fresh world: the run, its memory hash and the set bitmaps. */
function replay(name: string, schedule: string, override: Partial<ReturnType<typeof scenario>> = {}) {
  const s = { ...scenario(name), ...override };
  const world = new World(s);
  const run = runOnce(world, replayChooser(parseSchedule(schedule, s.actors.map((a) => a.name)), false));
  return { run, hash: world.memoryHash(), pages: s.sets.map((_, i) => world.setPages(i)) };
}

// The regression schedule: wa ORs page 1 into the empty log word 0 and is preempted before its
// summary bit; wb writes page 2 into the same word and resolves; the REPORT runs; wa finishes.
const SUMMARY_RACE = 'wa:3,wb:4,dev';

test('summary race: the explorer finds it in the pre-7ede066 write path (mark shortcut), shrunk to 1 preemption', (t) => {
  const r = explore(scenario('summary-race-shortcut'), DFS2);
  t.is(r.verdict, 'violation');
  const c = r.counterexample!;
  t.is(c.violations[0]!.rule, 'lost');
  t.regex(c.violations[0]!.message, /^wb#0 \(page 2\) resolved at step 7, before dev#0/);
  t.is(c.preemptions, 1);
  t.is(c.schedule, SUMMARY_RACE);
  t.is(c.replay, `dmalog explore --scenario summary-race-shortcut --replay ${SUMMARY_RACE}`);
  // The trace: wa's OR returned 0 (it made the word non-zero), wb's returned wa's bit and wb skipped the climb.
  const ors = c.trace.filter((l) => l.operation === 'or' && l.array === 't0.log');
  t.deepEqual(ors.map((l) => [l.actor, l.returned, l.after]), [['wa', 0, 0b10], ['wb', 0b10, 0b110]]);
  const wbSteps = c.trace.filter((l) => l.actor === 'wb').map((l) => l.operation);
  t.deepEqual(wbSteps, ['begin #0 write page 2 (tracker 0)', 'store', 'or', 'end #0 (dmaWrite resolved)']);
  t.true(c.trace.find((l) => l.actor === 'wb')!.preempts);
});

test('summary race, pinned schedule: the shortcut loses page 2, today\'s write path reports both pages', (t) => {
  const old = replay('summary-race-shortcut', SUMMARY_RACE);
  t.deepEqual(old.pages, [[]]);
  // Only wb's write resolved before the REPORT was issued; wa's resolved after it.
  t.deepEqual(old.run.violations.map((v) => v.message.slice(0, 17)), ['wb#0 (page 2) res']);
  t.is(old.run.violations[0]!.rule, 'lost');
  // The same interleaving on today's code: wb's write there takes two steps more (its own climb).
  const today = replay('summary-race', 'wa:3,wb:6,dev');
  t.deepEqual(today.run.violations, []);
  t.deepEqual(today.pages, [[1, 2]]);
  t.is(today.run.exec.preemptions, 1);
});

test('summary race, today\'s write path: passes exhaustively at bound 2', (t) => {
  const r = explore(scenario('summary-race'), DFS2);
  t.is(r.verdict, 'holds');
  t.true(r.exhausted);
  t.true(r.schedules > 100, `${r.schedules}`);
  t.is(r.violating, 0);
});

test('report set into one bitmap word: the atomic contract passes exhaustively, the plain one loses a tracker\'s bit', (t) => {
  const atomic = explore(scenario('report-set-atomic'), DFS2);
  t.is(atomic.verdict, 'holds');
  t.true(atomic.exhausted);
  const plain = explore(scenario('report-set-plain'), DFS2);
  t.is(plain.verdict, 'violation');
  const c = plain.counterexample!;
  t.is(c.preemptions, 1);
  t.is(c.violations[0]!.rule, 'lost');
  // r0 loaded the bitmap word before r1's bit went in, and stored its own over it.
  const bitmap = c.trace.filter((l) => l.array === 'set0.bitmap');
  const r0Load = bitmap.findIndex((l) => l.actor === 'r0' && l.operation === 'load');
  const r1Store = bitmap.findIndex((l) => l.actor === 'r1' && l.operation === 'store');
  const r0Store = bitmap.findIndex((l) => l.actor === 'r0' && l.operation === 'store');
  t.true(r0Load >= 0 && r0Load < r1Store && r1Store < r0Store, JSON.stringify(bitmap));
  t.is(bitmap[r0Store]!.before! & 0b110, 0b100);
  t.is(bitmap[r0Store]!.after! & 0b110, 0b010);
});

test('read-and-clear as load-then-store (wrong on purpose) is caught, shrunk from 2 preemptions to 1', (t) => {
  const r = explore(scenario('read-clear-load-store'), DFS2);
  t.is(r.verdict, 'violation');
  const c = r.counterexample!;
  t.is(c.foundPreemptions, 2);
  t.is(c.preemptions, 1);
  const log = c.trace.filter((l) => l.array === 't0.log').map((l) => `${l.actor} ${l.operation}`);
  t.deepEqual(log.slice(0, 4), ['wa or', 'dev load', 'wb or', 'dev store']);
  // The same actors with the exchange (today's code) hold on that very schedule: page 2 lands
  // after the word was taken, and the next REPORT has it.
  const fixed = replay('read-clear-load-store', c.schedule, { variant: { mark: 'climb', readClear: 'exchange' } });
  t.deepEqual(fixed.run.violations, []);
  t.deepEqual(fixed.pages, [[1], [2]]);
});

// Off the bundled shapes (test/helpers/explore.ts): under the plain contract a tracker's bit is
// overwritten; the shrinker once traded steps for a shorter printed schedule (61 steps became 66):
// it must never make a counterexample longer.

test('six actors, plain contract: caught, and the shrunk counterexample has no more preemptions or steps than the one found', (t) => {
  const r = explore(parseScenario({ ...SIX_ACTORS, contract: 'plain' }), DFS2);
  t.is(r.verdict, 'violation');
  const c = r.counterexample!;
  t.is(c.violations[0]!.rule, 'lost');
  t.true(c.preemptions <= c.foundPreemptions, `${c.preemptions} > ${c.foundPreemptions}`);
  t.true(c.steps <= c.foundSteps, `${c.steps} steps > ${c.foundSteps}`);
  t.is(c.steps, c.trace.length);
  // The same schedule under the atomic contract loses nothing.
  const world = new World(parseScenario({ ...SIX_ACTORS }));
  const names = SIX_ACTORS.actors.map((a) => a.name);
  const atomic = runOnce(world, replayChooser(parseSchedule(c.schedule, names), false));
  t.deepEqual(atomic.violations, []);
});

test('a printed schedule replays to the same steps and the same memory', (t) => {
  for (const name of ['restart-mark', 'report-set-plain', 'granule-edge']) {
    const s = scenario(name);
    const world = new World(s);
    // Some schedule with preemptions: the 40th a DFS runs.
    let picked: number[] = [];
    let hash = '';
    let n = 0;
    dfs(world, 2, 'sleep-sets', { budget: 40, keepGoing: true, onRun: (run) => { if (++n === 40) { picked = trimDefaults(run.exec.choices, run.exec.defaults); hash = world.memoryHash(); } } });
    t.true(picked.length > 0);
    const printed = formatSchedule(picked, s.actors.map((a) => a.name));
    const a = replay(name, printed);
    const b = replay(name, printed);
    t.is(a.hash, hash as string, name);
    t.is(b.hash, hash, name);
    t.deepEqual(a.run.exec.trace.map((x) => [x.actor, x.access.kind, x.before, x.after]), b.run.exec.trace.map((x) => [x.actor, x.access.kind, x.before, x.after]));
  }
});

// The reduction is checked against the unreduced search: same verdict, same set of final states.
for (const s of BUNDLED) {
  test(`${s.name}: sleep-set DFS and unreduced DFS at bound 2 reach the same final states`, (t) => {
    const world = new World(s);
    const reduced = dfs(world, 2, 'sleep-sets', { budget: 1e7, keepGoing: true, collectStates: true });
    const full = dfs(world, 2, 'none', { budget: 1e7, keepGoing: true, collectStates: true });
    t.true(reduced.exhausted && full.exhausted);
    t.deepEqual([...reduced.states!].sort(), [...full.states!].sort());
    t.is(reduced.violating > 0, full.violating > 0);
    t.is(reduced.violating > 0, s.expect === 'violation');
    t.true(reduced.schedules < full.schedules, `${reduced.schedules} vs ${full.schedules}`);
  });
}

test('random and PCT are deterministic by seed, and PCT finds the summary race', (t) => {
  const world = new World(scenario('summary-race-shortcut'));
  const first = (seed: bigint) => {
    const r = pctSearch(world, seed, 3, { budget: 2000 });
    return [r.schedules, r.failure ? formatSchedule(r.failure.exec.choices, ['wa', 'wb', 'dev']) : null];
  };
  t.deepEqual(first(7n), first(7n));
  t.not(first(7n)[1], null);
  const rand = (seed: bigint) => {
    const r = randomSearch(world, seed, { budget: 50, keepGoing: true, collectStates: true });
    return [r.violating, [...r.states!].sort()];
  };
  t.deepEqual(rand(9n), rand(9n));
});

test('a scenario file is checked by the schema: unknown fields, bad references and spans are refused', (t) => {
  const ok = { name: 'x', sets: [{ firstPage: 0, pages: 8 }], pages: 8, actors: [{ name: 'w', ops: [{ do: 'write', tracker: 0, page: 1 }] }] };
  t.is(parseScenario(ok).contract, 'atomic');
  const bad: Array<[unknown, RegExp]> = [
    [{ ...ok, bogus: 1 }, /bogus: unknown field/],
    [{ ...ok, actors: [{ name: 'w', ops: [{ do: 'write', tracker: 1, page: 1 }] }] }, /tracker: there are 1 trackers/],
    [{ ...ok, actors: [{ name: 'w', ops: [{ do: 'write', tracker: 0, page: 8 }] }] }, /page: the tracked span has 8 pages/],
    [{ ...ok, sets: [{ firstPage: 4, pages: 8 }] }, /sets\[0\]: window \[4, 12\) leaves/],
    [{ ...ok, actors: [{ name: 'w', ops: [{ do: 'write', tracker: 0, page: 1, after: ['nobody'] }] }] }, /no actor 'nobody'/],
    [{ ...ok, actors: [{ name: 'w', ops: [{ do: 'frob' }] }] }, /actors\[0\]\.ops\[0\]/],
    [{ ...ok, granule: 3000 }, /granule/],
  ];
  for (const [input, message] of bad) t.throws(() => parseScenario(input), { message }, JSON.stringify(input));
});

test('the zeroing rule: a zero racing a REPORT of its set, and a stale bitmap nobody zeroes, are violations', (t) => {
  const racing = parseScenario({
    name: 'zero-race', pages: 32, sets: [{ firstPage: 0, pages: 32, stale: true }],
    actors: [
      { name: 'w', ops: [{ do: 'write', tracker: 0, page: 3 }] },
      { name: 'coord', ops: [{ do: 'zero', set: 0 }] },
      { name: 'dev', ops: [{ do: 'report', tracker: 0, set: 0 }] },
    ],
  });
  const r = explore(racing, DFS2);
  t.is(r.verdict, 'violation');
  t.is(r.counterexample!.violations[0]!.rule, 'zeroing');
  // Ordered by `after`, the same actors hold exhaustively.
  const ordered = parseScenario({ ...racing, actors: [racing.actors[0], racing.actors[1], { name: 'dev', ops: [{ do: 'report', tracker: 0, set: 0, after: ['coord'] }] }] });
  const o = explore(ordered, DFS2);
  t.is(o.verdict, 'holds');
  t.true(o.exhausted);
  const never = parseScenario({ ...racing, actors: [racing.actors[0], racing.actors[2]] });
  const n = explore(never, { ...DFS2, preemptions: 0 });
  t.deepEqual([...new Set(n.counterexample!.violations.map((v) => v.rule))].sort(), ['invented', 'zeroing']);
});

test('a page reported only by a later set is late, not lost', (t) => {
  // With the shortcut, wb's page 2 misses set 0 and turns up in set 1 once wa finishes its climb.
  const s = parseScenario({
    name: 'late', variant: { mark: 'shortcut' }, sets: [{ firstPage: 0, pages: 64 }, { firstPage: 0, pages: 64 }],
    actors: [
      { name: 'wa', ops: [{ do: 'write', tracker: 0, page: 1 }] },
      { name: 'wb', ops: [{ do: 'write', tracker: 0, page: 2 }] },
      { name: 'dev', ops: [{ do: 'report', tracker: 0, set: 0 }, { do: 'report', tracker: 0, set: 1, after: ['wa'] }] },
    ],
  });
  const world = new World(s);
  const run = runOnce(world, replayChooser(parseSchedule(SUMMARY_RACE, ['wa', 'wb', 'dev']), false));
  t.deepEqual(run.violations.map((v) => v.rule), ['late']);
  t.regex(run.violations[0]!.message, /^wb#0 \(page 2\).*shows up only in set 1/);
  t.deepEqual([world.setPages(0), world.setPages(1)], [[], [1, 2]]);
});

test('every bundled scenario runs exhaustively at bound 2 and gives the verdict it expects', (t) => {
  for (const s of BUNDLED) {
    const r = explore(s, { ...DFS2, keepGoing: true });
    t.true(r.exhausted, s.name);
    t.is(r.verdict, s.expect ?? 'holds', s.name);
    t.is(r.violating > 0, s.expect === 'violation', s.name);
  }
});

test('scenario bounds: the lowest and highest accepted, one past either refused naming the field', (t) => {
  const base = { name: 'b', pages: 8, sets: [{ firstPage: 0, pages: 1 }], actors: [{ name: 'w', ops: [{ do: 'write', tracker: 0, page: 0 }] }] };
  const actor = (i: number) => ({ name: `a${i}`, ops: [{ do: 'write', tracker: 0, page: 0 }] });
  const write = { do: 'write', tracker: 0, page: 0 };
  const rows: Array<[string, (v: number) => unknown, number, number, number, number]> = [
    ['pages', (v) => ({ ...base, pages: v }), 1, 4096, 0, 4097],
    ['trackers', (v) => ({ ...base, trackers: v }), 1, 4, 0, 5],
    ['pageSize', (v) => ({ ...base, pageSize: v }), 512, 1 << 21, 256, 1 << 22],
    ['sets', (v) => ({ ...base, sets: Array.from({ length: v }, () => ({ firstPage: 0, pages: 1 })) }), 1, 4, 0, 5],
    ['actors', (v) => ({ ...base, actors: Array.from({ length: v }, (_, i) => actor(i)) }), 1, 6, 0, 7],
    ['actors[0].ops', (v) => ({ ...base, actors: [{ name: 'w', ops: Array.from({ length: v }, () => write) }] }), 1, 8, 0, 9],
  ];
  for (const [name, make, lo, hi, below, above] of rows) {
    for (const v of [lo, hi]) t.notThrows(() => parseScenario(make(v)), `${name} = ${v}`);
    for (const v of [below, above]) t.throws(() => parseScenario(make(v)), { message: new RegExp(`^${name.replace(/[[\].]/g, '\\$&')}: `) }, `${name} = ${v}`);
  }
});
