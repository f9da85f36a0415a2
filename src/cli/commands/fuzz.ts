// ABI fuzzing from the command line: print the seed first, run, print the counts per errno, and
// on a failure the exact command that replays it.
import { runFuzz, sortedCounts, type FuzzReport } from '../../fuzz/runner.js';
import { EXIT, UsageError, parseFlags, parseIntArg, parseSeed } from '../args.js';
import { createProgress } from '../progress.js';
import { randomSeed } from '../../util/prng.js';

export const summary = 'fuzz the ioctl ABI with random arguments and check every outcome';
export const help = `usage: dmalog fuzz [--calls N] [--seed N] [--json]

Makes N VFIO_DEVICE_FEATURE calls (default 100000) with random argsz, flags, feature indexes,
payloads, pointers, page sizes, ranges and report windows against mlx5, pds and none devices in
every logging state, under both bitmap contracts (atomic and plain). Checks after each call: it resolved 0 or rejected with a VfioError carrying a
known errno; user memory outside what a successful call may write is unchanged; a failed call
changed nothing on the device (it stays indistinguishable from a mirror that never saw it);
periodically, a fixed START/DMA/REPORT/STOP round gives exactly a fresh device's bits; the
resident set stays within 200 MiB of its size after warm-up.

  --calls N   number of fuzzed calls (default 100000)
  --seed N    64-bit seed, decimal or 0x hex (default: random; printed first).
              --seed S --calls K replays the first K calls
  --json      print the report as JSON on stdout instead of text

Progress goes to stderr every few seconds. Exit codes: 0 every check held, 1 the first failure
(with the command that replays it), 2 bad usage, 70 internal error (a bug in dmalog).
`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    calls: { type: 'string' },
    seed: { type: 'string' },
    json: { type: 'boolean' },
  });
  const calls = values.calls === undefined ? 100_000 : parseIntArg(values.calls, '--calls', 1);
  const seed = values.seed === undefined ? randomSeed() : parseSeed(values.seed);
  process.stderr.write(`dmalog fuzz: seed ${seed}, ${calls} calls\n`);
  const progress = createProgress(process.stderr);
  const report = await runFuzz({
    seed,
    calls,
    progressEveryMs: progress.live ? 1000 : 10_000,
    onProgress: (done, total) => progress.update(`fuzz: ${done}/${total} calls`),
  });
  progress.end();
  process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
  if (report.failure) {
    process.stderr.write(`dmalog fuzz: FAILED at call ${report.failure.callIndex}; replay: ${replayCommand(report)}\n`);
    return EXIT.failed;
  }
  return EXIT.ok;
}

/** The command line that replays a failed run up to and including its failing call. */
export function replayCommand(report: FuzzReport): string {
  if (!report.failure) throw new UsageError('the run did not fail');
  return `dmalog fuzz --seed ${report.seed} --calls ${report.failure.callIndex + 1}`;
}

export function formatReport(r: FuzzReport): string {
  const lines = [
    `seed ${r.seed}: ${r.calls} calls on ${r.lanes} devices in ${(r.elapsedMs / 1000).toFixed(1)} s`,
    'outcome      calls',
    ...sortedCounts(r.counts).map(([outcome, n]) => `${outcome.padEnd(12)} ${n}`),
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
