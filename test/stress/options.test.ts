// Every stress option at the edge (fillStressOptions, no thread started): each bound accepts its
// lowest and highest value and refuses one past either with DMALOG_BAD_OPTION naming the option.
import test from 'ava';
import { DmalogError } from '../../src/errors.js';
import { fillStressOptions, type StressOptions } from '../../src/stress/options.js';

function refusal(o: unknown): string {
  try {
    fillStressOptions(o as StressOptions);
    return 'ok';
  } catch (error) {
    return error instanceof DmalogError ? `${error.code} ${error.message}` : `not a DmalogError: ${String(error)}`;
  }
}

// [option, lowest, highest, below the lowest, above the highest]; guestPages is varied with one window (a multiple of 4 pages).
const BOUNDS: Array<[keyof StressOptions, unknown, unknown, unknown, unknown]> = [
  ['trackers', 1, 64, 0, 65],
  ['queues', 1, 64, 0, 65],
  ['reportSets', 1, Number.MAX_SAFE_INTEGER, 0, Number.MAX_SAFE_INTEGER + 2],
  ['seconds', Number.MIN_VALUE, Number.MAX_SAFE_INTEGER, 0, Infinity],
  ['faultRate', 0, 1, -Number.EPSILON, 1 + Number.EPSILON],
  ['seed', 0n, (1n << 64n) - 1n, -1n, 1n << 64n],
  ['guestPages', 4, 1 << 22, 0, (1 << 22) + 4],
  ['burstWrites', 1, 1 << 24, 0, (1 << 24) + 1],
  ['writesPerSet', 0, Number.MAX_SAFE_INTEGER, -1, Number.MAX_SAFE_INTEGER + 2],
  ['windows', 1, 64, 0, 65],
  ['iommuTrackers', 0, 64, -1, 65],
  ['threads', 1, 32, 0, 33],
  ['progressIntervalMs', 1, Number.MAX_SAFE_INTEGER, 0, Number.MAX_SAFE_INTEGER + 2],
];

for (const [name, lowest, highest, below, above] of BOUNDS) {
  test(`${name}: ${String(lowest)} .. ${String(highest)}, one past either is DMALOG_BAD_OPTION`, (t) => {
    // guestPages must stay a multiple of windows × 4 pages: vary one with the other at its least.
    // iommuTrackers may reach trackers: vary it with 64 of them.
    const base: StressOptions = name === 'windows' ? { guestPages: 64 * 4 * 16 } : name === 'guestPages' ? { windows: 1 } : name === 'iommuTrackers' ? { trackers: 64 } : {};
    for (const v of [lowest, highest]) {
      t.is(refusal({ ...base, [name]: v }), 'ok', `${name} = ${String(v)}`);
      t.is((fillStressOptions({ ...base, [name]: v }) as unknown as Record<string, unknown>)[name], v);
    }
    for (const v of [below, above]) t.regex(refusal({ ...base, [name]: v }), new RegExp(`^DMALOG_BAD_OPTION ${name}: `), `${name} = ${String(v)}`);
  });
}

test('choices, types and how fields relate are DMALOG_BAD_OPTION naming the option', (t) => {
  const cases: Array<[StressOptions | Record<string, unknown>, string]> = [
    [{ profiles: [] }, 'profiles'],
    [{ profiles: ['none'] }, 'profiles[0]'],
    [{ workload: 'bogus' }, 'workload'],
    [{ contract: 'relaxed' }, 'contract'],
    [{ policy: 'retry' }, 'policy'],
    [{ kill: 1 }, 'kill'],
    [{ trackers: 2.5 }, 'trackers'],
    [{ seed: 5 }, 'seed'],
    [{ onProgress: 'x' }, 'onProgress'],
    [{ bogus: 1 }, 'bogus'],
    [{ reportSets: 3, seconds: 1 }, 'reportSets'],
    [{ guestPages: 12 }, 'guestPages'],
    [{ trackers: 2, iommuTrackers: 3 }, 'iommuTrackers'],
    [{ workload: 'shared-words', guestPages: 8, windows: 1, trackers: 9 }, 'guestPages'],
  ];
  for (const [o, name] of cases) t.true(refusal(o).startsWith(`DMALOG_BAD_OPTION ${name}: `), `${JSON.stringify(o, (_k, v) => (typeof v === 'bigint' ? String(v) : v))} → ${refusal(o)}`);
});

test('defaults fill what is left out; seconds defaults to 10 only without reportSets', (t) => {
  const o = fillStressOptions({ seed: 1n });
  t.like(o, { trackers: 4, queues: 2, reportSets: null, seconds: 10, workload: 'uniform', contract: 'atomic', faultRate: 0, kill: false, policy: 'restart', seed: 1n, guestPages: 16384, windows: 2, threads: undefined });
  t.deepEqual(o.profiles, ['mlx5', 'pds']);
  t.like(fillStressOptions({ reportSets: 5 }), { reportSets: 5, seconds: null });
});
