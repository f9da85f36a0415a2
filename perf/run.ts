#!/usr/bin/env node
// The benchmark runner: `node dist/perf/run.js [name ...] [--quick] [--write]` runs every scenario
// (or the named ones), prints each as a table of ratios against its same-run baseline and, with
// --write, replaces those scenarios' sections of perf/RESULTS.md (other sections are kept).
import { parseArgs } from 'node:util';
import { machineInfo, textTable, type Scenario, type ScenarioResult } from './harness.js';
import { writeResults } from './results.js';

/** Scenario name → module (one `*.bench.ts` per scenario). */
const SCENARIOS: Record<string, () => Promise<{ scenario: Scenario }>> = {
  logging: () => import('./logging.bench.js'),
  report: () => import('./report.bench.js'),
  'report-set': () => import('./report-set.bench.js'),
  migration: () => import('./migration.bench.js'),
};

/** Micro benches (perf/micro/ mirrors src/) and long ones: run only when named. */
const MICRO: Record<string, () => Promise<{ scenario: Scenario }>> = {
  scale: () => import('./scale.bench.js'),
  'micro/bitmap': () => import('./micro/bitmap/iova-bitmap.bench.js'),
  'micro/device': () => import('./micro/device/dirty-log.bench.js'),
  'micro/report-bitmap': () => import('./micro/coordinator/report-bitmap.bench.js'),
};

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      write: { type: 'boolean', default: false },
      only: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    allowPositionals: true,
  });
  if (values.help) {
    process.stdout.write(`usage: npm run bench -- [${Object.keys(SCENARIOS).join('|')} ...] [--quick] [--only TEXT] [--write]
       npm run bench -- ${Object.keys(MICRO).join('|')}   (micro and long benches, run only by name)
  --quick      smaller sizes, shorter runs (a smoke run)
  --only TEXT  measure only the cases whose label contains TEXT (report scenario)
  --write      replace these scenarios' sections of perf/RESULTS.md
`);
    return 0;
  }
  const all = { ...SCENARIOS, ...MICRO };
  const names = positionals.length > 0 ? positionals : Object.keys(SCENARIOS);
  const unknown = names.filter((n) => !(n in all));
  if (unknown.length > 0) {
    process.stderr.write(`unknown scenario(s): ${unknown.join(', ')} (have: ${Object.keys(all).join(', ')})\n`);
    return 2;
  }
  const machine = machineInfo();
  process.stdout.write(`${machine.cpu}, ${machine.cores} cores, node ${machine.node}, ${machine.date}, load ${machine.load}\n\n`);
  const results: ScenarioResult[] = [];
  for (const name of names) {
    const { scenario } = await all[name]!();
    const only = values.only?.toLowerCase();
    const result = await scenario.run({ quick: values.quick!, wants: (label) => only === undefined || label.toLowerCase().includes(only) });
    results.push(result);
    process.stdout.write(`${textTable(result)}\n\n`);
  }
  if (values.write && values.only !== undefined) {
    process.stderr.write('--write needs whole scenarios: drop --only\n');
    return 2;
  }
  if (values.write) {
    const command = `npm run bench -- ${process.argv.slice(2).join(' ')}`.trimEnd();
    const file = await writeResults(results, machine, command);
    process.stdout.write(`wrote ${file}\n`);
  }
  return 0;
}

main().then((code) => { process.exitCode = code; }, (error: unknown) => {
  process.stderr.write(`bench failed: ${(error as Error)?.stack ?? String(error)}\n`);
  process.exitCode = 1;
});
