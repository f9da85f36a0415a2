// Scenarios shared by the explore tests: shapes off the bundled ones.

/**
 * Six actors: three writers (one writing twice, pages in two log words and two trackers), two
 * trackers whose REPORTs run concurrently, two report sets zeroed between, 100 pages. At bound 2
 * its DFS does not finish in minutes; a plain-contract copy fails within a few schedules.
 */
export const SIX_ACTORS = {
  name: 'six-actors',
  description: 'three writers, two trackers reporting concurrently, two report sets zeroed between',
  pages: 100,
  trackers: 2,
  sets: [{ firstPage: 0, pages: 100 }, { firstPage: 0, pages: 100 }],
  actors: [
    { name: 'w0', ops: [{ do: 'write', tracker: 0, page: 1 }, { do: 'write', tracker: 1, page: 33 }] },
    { name: 'w1', ops: [{ do: 'write', tracker: 0, page: 2 }, { do: 'write', tracker: 0, page: 99 }] },
    { name: 'w2', ops: [{ do: 'write', tracker: 1, page: 31 }] },
    { name: 'd0', ops: [{ do: 'report', tracker: 0, set: 0, after: ['co#0'] }, { do: 'report', tracker: 0, set: 1, after: ['co#1'] }] },
    { name: 'd1', ops: [{ do: 'report', tracker: 1, set: 0, after: ['co#0'] }, { do: 'report', tracker: 1, set: 1, after: ['co#1'] }] },
    { name: 'co', ops: [{ do: 'zero', set: 0 }, { do: 'zero', set: 1, after: ['d0#0', 'd1#0'] }] },
  ],
} as const;
