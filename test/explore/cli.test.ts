// `dmalog explore` as a user runs it: exit codes 0 / 1 / 2, the printed replay line replaying to
// the same memory, JSON scenario files, and one line for every kind of bad input.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { SIX_ACTORS } from '../helpers/explore.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const dir = mkdtempSync(path.join(os.tmpdir(), 'dmalog-explore-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

function dmalog(args: string[]) {
  const r = spawnSync(process.execPath, [MAIN, 'explore', ...args], { encoding: 'utf8', timeout: 110_000, env: { ...process.env, DMALOG_LOG_LEVEL: 'silent' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('--help shows every option with its default', (t) => {
  const r = dmalog(['--help']);
  t.is(r.code, 0);
  for (const text of ['--scenario', '(default all)', '--mode', 'dfs', 'random', 'pct', '--preemptions', '(default 2)', '--schedules', '(default 1000)', '--depth', '(default 3)', '--seed', '--reduction', 'sleep-sets', '--replay', '--json', 'Exit codes: 0']) {
    t.true(r.stdout.includes(text), text);
  }
});

test('a violation: exit 1 with a trace and a replay line; the replay line gives exit 1 and the same memory every time', (t) => {
  const r = dmalog(['--scenario', 'summary-race-shortcut']);
  t.is(r.code, 1, r.stderr);
  t.regex(r.stdout, /VIOLATION \(lost\): wb#0 \(page 2\)/);
  t.regex(r.stdout, /^ {3}6 {2}wb {5}or {12}t0\.log\[0\] +0x00000004 +0x00000002 → 0x00000006 +returned 0x00000002$/m);
  const line = /^replay: dmalog explore (.*)$/m.exec(r.stdout)![1]!;
  t.is(line, '--scenario summary-race-shortcut --replay wa:3,wb:4,dev');
  const hashes = [1, 2].map(() => {
    const again = dmalog(line.split(' '));
    t.is(again.code, 1);
    t.regex(again.stdout, /VIOLATION \(lost\)/);
    return /memory after the schedule: ([0-9a-f]{8})/.exec(again.stdout)![1];
  });
  t.is(hashes[0], hashes[1]);
  // Today's write path, same actors: exhausted at bound 2, exit 0.
  const today = dmalog(['--scenario', 'summary-race']);
  t.is(today.code, 0);
  t.regex(today.stdout, /bound exhausted/);
});

test('--scenario all: every bundled scenario gives the verdict it expects, exit 0', (t) => {
  const r = dmalog(['--json']);
  t.is(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { scenarios: Array<{ scenario: string; verdict: string }>; unexpected: string[] };
  t.deepEqual(out.unexpected, []);
  t.deepEqual(out.scenarios.map((s) => `${s.scenario} ${s.verdict}`), [
    'summary-race holds', 'summary-race-shortcut violation', 'report-set-atomic holds', 'report-set-plain violation',
    'read-clear-load-store violation', 'granule-edge holds', 'restart-mark holds',
  ]);
});

test('a search running past 2 s says where it stands on stderr; stdout keeps only the JSON; a DFS budget leaves the bound NOT exhausted', (t) => {
  const file = path.join(dir, 'six-actors.json');
  writeFileSync(file, JSON.stringify(SIX_ACTORS));
  const r = dmalog(['--scenario', file, '--schedules', '30000', '--json']);
  t.is(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { schedules: number; exhausted: boolean; verdict: string };
  t.is(out.schedules, 30000);
  t.false(out.exhausted);
  t.is(out.verdict, 'holds');
  t.regex(r.stderr, /^explore six-actors: [\d,]+ schedules run, [\d,]+ pruned, 0 violating, \d+ s$/m);
  // A quick run prints nothing there.
  t.is(dmalog(['--scenario', 'summary-race']).stderr, '');
});

test('a JSON scenario file runs like a bundled one (pct, seeded)', (t) => {
  const file = path.join(dir, 'two-writers.json');
  writeFileSync(file, JSON.stringify({
    name: 'two-writers-plain', contract: 'plain', trackers: 2, pages: 32, sets: [{ firstPage: 0, pages: 32 }],
    actors: [
      { name: 'w0', ops: [{ do: 'write', tracker: 0, page: 4 }] },
      { name: 'w1', ops: [{ do: 'write', tracker: 1, page: 5 }] },
      { name: 'r0', ops: [{ do: 'report', tracker: 0, set: 0, after: ['w0'] }] },
      { name: 'r1', ops: [{ do: 'report', tracker: 1, set: 0, after: ['w1'] }] },
    ],
  }));
  const r = dmalog(['--scenario', file, '--json']);
  t.is(r.code, 1, r.stderr);
  const report = JSON.parse(r.stdout) as { verdict: string; counterexample: { replay: string; preemptions: number } };
  t.is(report.verdict, 'violation');
  t.is(report.counterexample.preemptions, 1);
  t.true(report.counterexample.replay.startsWith(`dmalog explore --scenario ${file} --replay `));
  const atomic = path.join(dir, 'two-writers-atomic.json');
  writeFileSync(atomic, JSON.stringify({ name: 'a', pages: 32, sets: [{ firstPage: 0, pages: 32 }], actors: [
    { name: 'w0', ops: [{ do: 'write', tracker: 0, page: 4 }] },
    { name: 'r0', ops: [{ do: 'report', tracker: 0, set: 0 }] },
  ] }));
  const p = dmalog(['--scenario', atomic, '--mode', 'pct', '--seed', '5', '--schedules', '200']);
  t.is(p.code, 0, p.stderr);
  t.regex(p.stderr, /seed 5/);
  t.regex(p.stdout, /pct, seed 5: 200 schedules run/);
});

const badSchema = path.join(dir, 'bad-schema.json');
writeFileSync(badSchema, JSON.stringify({ name: 'x', sets: [{ firstPage: 0, pages: 8 }], actors: [{ name: 'w', ops: [{ do: 'write', tracker: 0, page: 99 }] }] }));
const notJson = path.join(dir, 'not.json');
writeFileSync(notJson, '{ "name": ');

const BAD: Array<[string, string[], string]> = [
  ['unknown scenario', ['--scenario', 'nope'], "no bundled scenario 'nope'"],
  ['unknown mode', ['--mode', 'bfs'], "--mode: 'bfs'"],
  ['bound out of range', ['--preemptions', '11'], "--preemptions: '11'"],
  ['bad seed', ['--mode', 'random', '--seed', 'x'], "--seed: 'x'"],
  ['schedule naming no actor', ['--scenario', 'summary-race', '--replay', 'wa:3,zz'], "no actor 'zz'"],
  ['schedule naming an actor that is done', ['--scenario', 'summary-race', '--replay', 'wa:9'], "actor 'wa' is done"],
  ['replay without a scenario', ['--replay', 'wa'], '--replay needs one --scenario'],
  ['file failing the schema', ['--scenario', badSchema], 'page: the tracked span has 64 pages'],
  ['file not JSON', ['--scenario', notJson], 'not JSON'],
  ['missing file', ['--scenario', path.join(dir, 'missing.json')], 'missing.json'],
  ['unknown option', ['--frobnicate'], '--frobnicate'],
];

for (const [what, args, text] of BAD) {
  test(`bad input, ${what}: one line naming it, exit 2`, (t) => {
    const r = dmalog(args);
    t.is(r.code, 2, r.stderr);
    t.is(r.stdout, '');
    t.is(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
    t.true(r.stderr.includes(text), r.stderr);
    t.true(r.stderr.includes('dmalog explore --help'), r.stderr);
  });
}
