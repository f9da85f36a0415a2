// Every interleaving of a small scenario on dmalog's own code, under a controlled scheduler
// (src/explore): print the verdict, the schedules run, and on a violation the shrunk trace with
// the one line that replays it.
import { parseScenario, type Scenario } from '../../explore/scenario.js';
import { BUNDLED, bundled } from '../../explore/scenarios.js';
import { EXPLORE_DEFAULTS, explore, formatReport, type ExploreOptions, type ExploreReport } from '../../explore/explore.js';
import type { Mode, Reduction, SearchProgress } from '../../explore/search.js';
import { randomSeed } from '../../util/prng.js';
import { EXIT, UsageError, parseChoice, parseFlags, parseIntArg, parseSeed } from '../args.js';
import { readInputFile } from '../files.js';
import { createProgress } from '../progress.js';

const MODES: readonly Mode[] = ['dfs', 'random', 'pct'];
const REDUCTIONS: readonly Reduction[] = ['sleep-sets', 'none'];

export const summary = 'explore every interleaving of a small scenario on dmalog\'s own code; replayable counterexamples';
export const help = `usage: dmalog explore [--scenario NAME|FILE.json|all] [--mode dfs|random|pct] [--preemptions N]
                      [--schedules N] [--depth D] [--seed N] [--reduction sleep-sets|none]
                      [--replay SCHEDULE] [--keep-going] [--json] [--list]

Runs the actors of a scenario (DMA writers, device REPORTs, the coordinator) on dmalog's own code
(DirtyLog, IovaBitmap, ReportBitmap, the DMA engine, the coordinator's recovery marks) with a
scheduler choosing, before every shared-memory access, which actor goes next. Each execution is
checked against contract §2 and §6: a write resolved before a REPORT was issued is in that
REPORT's set or an earlier one (else it is late, or lost); no bit without a write or recovery mark
to explain it; the bitmap zeroed before, never during, a report set. A violation is shrunk to the
fewest preemptions and steps and printed step by step (actor, operation, array[index], value
before → after) with the command that replays it.

  --scenario S     a bundled scenario (--list shows them), a JSON file (same fields, see README),
                   or all: every bundled scenario (default all)
  --mode M         dfs: every schedule with at most --preemptions preemptions (default);
                   random: any enabled actor at each step; pct: PCT with depth --depth
  --preemptions N  dfs bound, 0..10 (default ${EXPLORE_DEFAULTS.preemptions})
  --schedules N    random and pct: schedules to run (default ${EXPLORE_DEFAULTS.schedules});
                   dfs: stop after N (default ${EXPLORE_DEFAULTS.dfsBudget}; the bound is then not exhausted)
  --depth D        pct depth, 1..10 (default ${EXPLORE_DEFAULTS.depth})
  --seed N         random and pct: 64-bit seed, decimal or 0x hex (default: random; printed)
  --reduction R    dfs: sleep-sets (default; schedules differing only in the order of commuting
                   steps run once) or none
  --replay S       run one printed schedule (actor:count,...) of one scenario and print its trace
                   and memory hash; past its end each actor goes on in turn (default: none, explore)
  --keep-going     go on past the first violation (dfs: exhaust the bound and count the
                   violating schedules; the first one is shrunk and printed); default off
  --json           print the report(s) as JSON on stdout instead of text
  --list           list the bundled scenarios and what each expects

A search still running after 2 s prints where it stands on stderr (schedules run, pruned,
violating): every second on a terminal, else every 10 s. Results go to stdout.

Exit codes: 0 no violation within the bound (with --scenario all: every bundled scenario gave the
verdict it expects, three of them a violation on purpose), 1 a violation found (all: a verdict not
the expected one), 2 bad usage (an unknown scenario, a file failing the schema, a bad schedule),
70 internal error (a bug in dmalog).
`;

/** Progress of a search that runs long, on stderr: nothing in its first 2 s, then a status at most every second on a terminal (else every 10 s). */
function searchProgress(name: string, opts: ExploreOptions) {
  const progress = createProgress(process.stderr);
  const began = performance.now();
  let last = 0;
  const of = opts.mode === 'dfs' ? '' : ` of ${opts.schedules.toLocaleString('en-US')}`;
  return {
    update(p: SearchProgress): void {
      const now = performance.now();
      if (now - began < 2000 || now - last < 1000) return;
      last = now;
      const pruned = p.pruned > 0 ? `, ${p.pruned.toLocaleString('en-US')} pruned` : '';
      progress.status(`explore ${name}: ${p.schedules.toLocaleString('en-US')}${of} schedules run${pruned}, ${p.violating} violating, ${((now - began) / 1000).toFixed(0)} s`, name);
    },
    end: () => progress.end(),
  };
}

function loadScenario(arg: string): Scenario {
  const found = bundled(arg);
  if (found) return found;
  if (!arg.endsWith('.json')) throw new UsageError(`--scenario: no bundled scenario '${arg}' (have: ${BUNDLED.map((s) => s.name).join(', ')}, all, or a .json file)`);
  const text = readInputFile(arg, '--scenario');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`--scenario ${arg}: not JSON (${(error as Error).message})`);
  }
  try {
    return parseScenario(json);
  } catch (error) {
    throw new UsageError(`--scenario ${arg}: ${(error as Error).message}`);
  }
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    scenario: { type: 'string' },
    mode: { type: 'string' },
    preemptions: { type: 'string' },
    schedules: { type: 'string' },
    depth: { type: 'string' },
    seed: { type: 'string' },
    reduction: { type: 'string' },
    replay: { type: 'string' },
    json: { type: 'boolean' },
    'keep-going': { type: 'boolean' },
    list: { type: 'boolean' },
  });
  if (values.list) {
    for (const s of BUNDLED) process.stdout.write(`${s.name.padEnd(22)} expects ${(s.expect ?? 'holds').padEnd(9)} ${s.description}\n`);
    return EXIT.ok;
  }
  const mode = values.mode === undefined ? EXPLORE_DEFAULTS.mode : parseChoice(values.mode, '--mode', MODES);
  const opts: ExploreOptions = {
    mode,
    preemptions: values.preemptions === undefined ? EXPLORE_DEFAULTS.preemptions : parseIntArg(values.preemptions, '--preemptions', 0, 10),
    schedules: values.schedules === undefined ? (mode === 'dfs' ? EXPLORE_DEFAULTS.dfsBudget : EXPLORE_DEFAULTS.schedules) : parseIntArg(values.schedules, '--schedules', 1, 100_000_000),
    depth: values.depth === undefined ? EXPLORE_DEFAULTS.depth : parseIntArg(values.depth, '--depth', 1, 10),
    seed: values.seed === undefined ? randomSeed() : parseSeed(values.seed),
    reduction: values.reduction === undefined ? EXPLORE_DEFAULTS.reduction : parseChoice(values.reduction, '--reduction', REDUCTIONS),
    ...(values.replay === undefined ? {} : { replay: values.replay }),
    keepGoing: values['keep-going'] ?? false,
  };
  const arg = values.scenario ?? 'all';
  const scenarios = arg === 'all' ? BUNDLED : [loadScenario(arg)];
  if (opts.replay !== undefined && arg === 'all') throw new UsageError('--replay needs one --scenario');
  if (mode !== 'dfs' && opts.replay === undefined) process.stderr.write(`dmalog explore: seed ${opts.seed}\n`);
  const reports: ExploreReport[] = [];
  for (const s of scenarios) {
    const progress = searchProgress(s.name, opts);
    const report = explore(s, opts, arg === 'all' ? s.name : arg, (p) => progress.update(p));
    progress.end();
    reports.push(report);
    if (!values.json) process.stdout.write(`${formatReport(report)}\n`);
  }
  if (arg !== 'all') {
    if (values.json) process.stdout.write(`${JSON.stringify(reports[0], null, 2)}\n`);
    return reports[0]!.verdict === 'violation' ? EXIT.failed : EXIT.ok;
  }
  const unexpected = reports.filter((r, i) => r.verdict !== (scenarios[i]!.expect ?? 'holds'));
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ scenarios: reports, unexpected: unexpected.map((r) => r.scenario) }, null, 2)}\n`);
  } else {
    const rows = reports.map((r, i) => {
      const how = r.exhausted ? 'exhausted' : r.verdict === 'violation' && r.violating === 1 ? 'stopped at the violation' : 'NOT exhausted';
      const bad = r.violating > 0 ? ` (${r.violating} violating)` : '';
      return `  ${r.scenario.padEnd(22)} ${String(r.schedules).padStart(7)} schedules${bad.padEnd(16)} ${how.padEnd(24)} ${r.verdict.padEnd(9)} expects ${scenarios[i]!.expect ?? 'holds'}`;
    });
    const total = reports.reduce((a, r) => a + r.ms, 0);
    process.stdout.write(`summary (${(total / 1000).toFixed(1)} s):\n${rows.join('\n')}\n${unexpected.length === 0 ? 'every scenario gave the verdict it expects' : `UNEXPECTED: ${unexpected.map((r) => r.scenario).join(', ')}`}\n`);
  }
  return unexpected.length === 0 ? EXIT.ok : EXIT.failed;
}
