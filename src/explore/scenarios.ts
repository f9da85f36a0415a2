// The bundled scenarios: each small enough to explore exhaustively at preemption bound 2 in
// seconds. Those with `expect: 'violation'` run code that is wrong on purpose (an old write path,
// a load-then-store read-and-clear) or a contract known to lose bits (the merged kernel's plain
// `|=`): the explorer must catch each, with a counterexample.
import { parseScenario, type Scenario, type ScenarioInput } from './scenario.js';

const ONE_SET = [{ firstPage: 0, pages: 64 }];

const INPUTS: ScenarioInput[] = [
  {
    name: 'summary-race',
    description: "two writers and one REPORT on one log word, today's write path: every writer climbs every summary level itself (commit 7ede066)",
    sets: ONE_SET,
    actors: [
      { name: 'wa', ops: [{ do: 'write', tracker: 0, page: 1 }] },
      { name: 'wb', ops: [{ do: 'write', tracker: 0, page: 2 }] },
      { name: 'dev', ops: [{ do: 'report', tracker: 0, set: 0 }] },
    ],
    expect: 'holds',
  },
  {
    name: 'summary-race-shortcut',
    description: 'the same race on the write path before commit 7ede066 (DirtyLogVariant mark "shortcut": a log word that had bits needs no summary work)',
    variant: { mark: 'shortcut' },
    sets: ONE_SET,
    actors: [
      { name: 'wa', ops: [{ do: 'write', tracker: 0, page: 1 }] },
      { name: 'wb', ops: [{ do: 'write', tracker: 0, page: 2 }] },
      { name: 'dev', ops: [{ do: 'report', tracker: 0, set: 0 }] },
    ],
    expect: 'violation',
  },
  {
    name: 'report-set-atomic',
    description: "writers racing a report set of two trackers into one bitmap word, seed contract (atomic OR)",
    trackers: 2,
    sets: ONE_SET,
    actors: [
      { name: 'w0', ops: [{ do: 'write', tracker: 0, page: 1 }] },
      { name: 'w1', ops: [{ do: 'write', tracker: 1, page: 2 }] },
      { name: 'r0', ops: [{ do: 'report', tracker: 0, set: 0 }] },
      { name: 'r1', ops: [{ do: 'report', tracker: 1, set: 0 }] },
    ],
    expect: 'holds',
  },
  {
    name: 'report-set-plain',
    description: "the same report set under the merged kernel's contract (plain |= into the bitmap): one REPORT's store overwrites the other's bits",
    contract: 'plain',
    trackers: 2,
    sets: ONE_SET,
    actors: [
      { name: 'w0', ops: [{ do: 'write', tracker: 0, page: 1 }] },
      { name: 'w1', ops: [{ do: 'write', tracker: 1, page: 2 }] },
      { name: 'r0', ops: [{ do: 'report', tracker: 0, set: 0 }] },
      { name: 'r1', ops: [{ do: 'report', tracker: 1, set: 0 }] },
    ],
    expect: 'violation',
  },
  {
    name: 'read-clear-load-store',
    description: 'a read-and-clear done as load-then-store instead of exchange (DirtyLogVariant readClear "load-store", wrong on purpose), racing a write to the same log word',
    variant: { readClear: 'load-store' },
    sets: [{ firstPage: 0, pages: 64 }, { firstPage: 0, pages: 64 }],
    actors: [
      { name: 'wa', ops: [{ do: 'write', tracker: 0, page: 1 }] },
      { name: 'wb', ops: [{ do: 'write', tracker: 0, page: 2 }] },
      { name: 'dev', ops: [{ do: 'report', tracker: 0, set: 0, after: ['wa'] }, { do: 'report', tracker: 0, set: 1 }] },
    ],
    expect: 'violation',
  },
  {
    name: 'granule-edge',
    description: 'a REPORT window whose edge splits a granule (8 KiB granules, 4 KiB pages, window of 3 pages): the granule is reported, kept, and reported again by the next REPORT',
    granule: 8192,
    sets: [{ firstPage: 0, pages: 3 }, { firstPage: 0, pages: 64 }],
    actors: [
      { name: 'wa', ops: [{ do: 'write', tracker: 0, page: 3 }] },
      { name: 'wb', ops: [{ do: 'write', tracker: 0, page: 2 }] },
      { name: 'dev', ops: [{ do: 'report', tracker: 0, set: 0 }, { do: 'report', tracker: 0, set: 1 }] },
    ],
    expect: 'holds',
  },
  {
    name: 'restart-mark',
    description: "the restart policy's marks racing late writes: a REPORT fails halfway, the coordinator restarts the tracker (new log generation) and marks the window, the rest of the span is owed to the next set",
    sets: [{ firstPage: 0, pages: 32 }, { firstPage: 0, pages: 64 }],
    actors: [
      { name: 'wa', ops: [{ do: 'write', tracker: 0, page: 5 }] },
      { name: 'wb', ops: [{ do: 'write', tracker: 0, page: 40 }] },
      {
        name: 'coord',
        ops: [
          { do: 'report', tracker: 0, set: 0, fail: true },
          { do: 'restart', tracker: 0 },
          { do: 'mark', set: 0 },
          { do: 'report', tracker: 0, set: 1 },
          { do: 'mark', set: 1 },
        ],
      },
    ],
    expect: 'holds',
  },
];

export const BUNDLED: readonly Scenario[] = INPUTS.map(parseScenario);

export function bundled(name: string): Scenario | undefined {
  return BUNDLED.find((s) => s.name === name);
}
