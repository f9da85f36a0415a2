// ABI fuzzing from the command line: print the seed first, run, print the counts per errno, and
// on a failure the exact command that replays it.
import { FUZZ_DEFAULTS, replayLine, runFuzz, sortedCounts, type FuzzReport } from '../../fuzz/runner.js';
import { EXIT, UsageError, parseFlags, parseIntArg, parseSeed } from '../args.js';
import { createProgress } from '../progress.js';
import { checkOutputFile, writeOutputFile } from '../files.js';
import { renderFuzzReport } from '../../fuzz/report-html.js';
import { randomSeed } from '../../util/prng.js';

/** More would only slow the device lanes down: the iommufd lanes run in the main thread. */
const MAX_IOMMU_LANES = 64;

export const summary = 'fuzz the ioctl ABI with random arguments and check every outcome';
export const help = `usage: dmalog fuzz [--calls N] [--seed N] [--iommu-lanes N] [--json] [--report FILE]

Makes N VFIO_DEVICE_FEATURE calls (default 100000) with random argsz, flags, feature indexes,
payloads, pointers, page sizes, ranges and report windows against mlx5, pds and none devices in
every logging state, under both bitmap contracts (atomic and plain). Checks after each call: it resolved 0 or rejected with a VfioError carrying a
known errno; user memory outside what a successful call may write is unchanged; a failed call
changed nothing on the device (it stays indistinguishable from a mirror that never saw it);
periodically, a fixed START/DMA/REPORT/STOP round gives exactly a fresh device's bits; the
resident set stays within 200 MiB of its size after warm-up.

Beside the six device lanes run iommufd lanes (default 2: one HWPT with dirty tracking, one
without), each with a few mappings (some huge) and a device doing DMA between calls, fuzzing raw
IOMMU_HWPT_SET_DIRTY_TRACKING / GET_DIRTY_BITMAP calls (and wrong request numbers) with hostile
structs. Every call must return exactly the errno the fuzzer's own reading of the iommufd rules
gives, a failed call must change no user byte and no dirty bit, and a successful GET must set
exactly the bits of the pages written (4 KiB, or the whole 2 MiB of a huge mapping), clipped to
its window, keeping pre-set bits, and clear them unless NO_CLEAR.

  --calls N   number of fuzzed calls (default 100000)
  --seed N    64-bit seed, decimal or 0x hex (default: random; printed first).
              --seed S --calls K replays the first K calls
  --iommu-lanes N
              iommufd lanes besides the device lanes, 0..64 (default 2); a replay needs
              the same N
  --json      print the report as JSON on stdout instead of text (default off)
  --report FILE
              also write a self-contained HTML report (outcomes by profile and state)
              to FILE (default: none; checked before the run)

Progress goes to stderr every few seconds. Exit codes: 0 every check held, 1 the first failure
(with the command that replays it), 2 bad usage, 70 internal error (a bug in dmalog).
`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    calls: { type: 'string' },
    seed: { type: 'string' },
    'iommu-lanes': { type: 'string' },
    json: { type: 'boolean' },
    report: { type: 'string' },
  });
  const calls = values.calls === undefined ? 100_000 : parseIntArg(values.calls, '--calls', 1);
  const seed = values.seed === undefined ? randomSeed() : parseSeed(values.seed);
  const iommuLanes = values['iommu-lanes'] === undefined ? FUZZ_DEFAULTS.iommuLanes : parseIntArg(values['iommu-lanes'], '--iommu-lanes', 0, MAX_IOMMU_LANES);
  const reportFile = values.report ?? null;
  if (reportFile !== null) checkOutputFile(reportFile, '--report');
  process.stderr.write(`dmalog fuzz: seed ${seed}, ${calls} calls\n`);
  // The runner paces its progress events itself (every second on a terminal, else every 10 s).
  const progress = createProgress(process.stderr, { everyMs: 0 });
  const report = await runFuzz({
    seed,
    calls,
    iommuLanes,
    progressEveryMs: progress.live ? 1000 : 10_000,
    onProgress: (done, total) => progress.phase({ phase: 'fuzz', done, total, unit: 'calls' }),
  });
  progress.end();
  process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
  if (reportFile !== null) {
    writeOutputFile(reportFile, '--report', renderFuzzReport(report));
    if (!values.json) process.stdout.write(`report: ${reportFile}\n`);
  }
  if (report.failure) {
    process.stderr.write(`dmalog fuzz: FAILED at call ${report.failure.callIndex}; replay: ${replayCommand(report)}\n`);
    return EXIT.failed;
  }
  return EXIT.ok;
}

/** The command line that replays a failed run up to and including its failing call. */
export function replayCommand(report: FuzzReport): string {
  const line = replayLine(report);
  if (line === null) throw new UsageError('the run did not fail');
  return line;
}

/** The iommufd lanes' share of the outcome table: one row per outcome, a column per kind of lane. */
function iommuRows(r: FuzzReport): string[] {
  const kinds = (['iommufd-dirty', 'iommufd-plain'] as const).filter((k) => r.byIommu[k]);
  if (kinds.length === 0) return [];
  const all: Record<string, number> = {};
  for (const k of kinds) for (const [outcome, n] of Object.entries(r.byIommu[k]!)) all[outcome] = (all[outcome] ?? 0) + n;
  return [
    `iommufd      ${kinds.map((k) => k.replace('iommufd-', '').padStart(8)).join(' ')}`,
    ...sortedCounts(all).map(([outcome]) => `${outcome.padEnd(12)} ${kinds.map((k) => String(r.byIommu[k]![outcome] ?? 0).padStart(8)).join(' ')}`),
  ];
}

export function formatReport(r: FuzzReport): string {
  const lines = [
    `seed ${r.seed}: ${r.calls} calls on ${r.lanes} devices${r.iommuLanes > 0 ? ` and ${r.iommuLanes} iommufd lanes` : ''} in ${(r.elapsedMs / 1000).toFixed(1)} s`,
    'outcome      calls',
    ...sortedCounts(r.counts).map(([outcome, n]) => `${outcome.padEnd(12)} ${n}`),
    ...iommuRows(r),
    `state changes ${r.stateChanges}, mirror verifies ${r.verifies}, fresh rounds ${r.rounds}, DMA ${Object.values(r.dma).reduce((a, b) => a + b, 0)}`,
    `resident set: ${(r.rssBaselineBytes / 2 ** 20).toFixed(0)} MiB after warm-up, peak growth ${(r.rssPeakDeltaBytes / 2 ** 20).toFixed(1)} MiB`,
  ];
  if (r.failure) {
    const f = r.failure;
    lines.push(`FAILED (${f.kind}) at call ${f.callIndex} on lane ${f.lane} (${f.profile}): ${f.detail}`);
    if (f.call) lines.push(`  call: ${f.call}`);
    lines.push(`replay: ${replayCommand(r)}`);
  } else {
    lines.push('every check held');
  }
  return `${lines.join('\n')}\n`;
}
