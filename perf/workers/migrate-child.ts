// One migration in a fresh process for perf/migration.bench.ts and perf/scale.bench.ts, so its
// peak RSS is its own: prints {status, simulatedMs, wallMs, loopMs, maxRssBytes, ...} as JSON on
// stdout. wallMs is the whole migrate() call; loopMs runs from sync 1 to the end of the memory
// check (without thread start-up, the fill and teardown).
import { migrate } from '../../src/migration/migration.js';
import type { MigrationOptions } from '../../src/migration/options.js';

const options = JSON.parse(process.argv[2] ?? '{}') as MigrationOptions;
let loopFrom = 0;
let loopTo = 0;
const began = performance.now();
const result = await migrate(options, {
  onProgress: (e) => {
    if (e.kind === 'sync' && e.stats.iteration === 1) loopFrom = performance.now();
    if (e.kind === 'check' && e.donePages === e.totalPages) loopTo = performance.now();
  },
});
const wallMs = Math.round(performance.now() - began);
process.stdout.write(`${JSON.stringify({
  status: result.status,
  simulatedMs: result.totalTimeMs,
  wallMs,
  loopMs: Math.round(loopTo - loopFrom),
  maxRssBytes: process.resourceUsage().maxRSS * 1024,
  identical: result.check?.identical ?? null,
  converged: result.converged,
  iterations: result.iterations,
  memory: result.scenario.memory,
})}\n`);
