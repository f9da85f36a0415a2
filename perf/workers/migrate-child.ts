// One migration in a fresh process for perf/migration.bench.ts, so its peak RSS is its own:
// prints {simulatedMs, wallMs, maxRssBytes, status} as JSON on stdout.
import { migrate } from '../../src/migration/migration.js';
import type { MigrationOptions } from '../../src/migration/options.js';

const options = JSON.parse(process.argv[2] ?? '{}') as MigrationOptions;
const began = performance.now();
const result = await migrate(options);
const wallMs = Math.round(performance.now() - began);
process.stdout.write(`${JSON.stringify({
  status: result.status,
  simulatedMs: result.totalTimeMs,
  wallMs,
  maxRssBytes: process.resourceUsage().maxRSS * 1024,
  identical: result.check?.identical ?? null,
})}\n`);
