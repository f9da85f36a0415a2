// dmalog stress: DMA engines race report sets into one bitmap; the checker proves no dirty page
// was lost (or, under --contract plain, counts the ones that were).
import { GUEST_IOVA, runStress, type StressReport } from '../../stress/runner.js';
import { MAX_DMA_THREADS } from '../../dma/pool.js';
import { STRESS_DEFAULTS, STRESS_PROFILES, fillStressOptions, type StressOptions, type StressProfile, type StressProgress } from '../../stress/options.js';
import { WORKLOAD_KINDS } from '../../workload/workload.js';
import { EXIT, UsageError, asFlagUsage, parseChoice, parseDuration, parseFlags, parseIntArg, parseRate, parseSeed, parseSize } from '../args.js';
import { createProgress, formatEta } from '../progress.js';
import { checkOutputFile, writeOutputFile } from '../files.js';
import { renderStressReport } from '../../stress/report-html.js';
import { randomSeed } from '../../util/prng.js';

export const summary = 'race DMA writes against report sets and check that no dirty page is lost';
export const help = `usage: dmalog stress [options]

Starts trackers in worker threads, runs seeded DMA bursts on a thread pool (several queues per
device, each write storing data before it marks the device log) while the coordinator runs report
sets into one shared bitmap, then checks every run against the workload's ground truth:
  lost        a page written before a report set began that no later set reported
  imprecise   a reported page nothing wrote (at the tracker's granule) and no recovery marked
  zeroing     a report set started on a bitmap that was not zeroed
Prints SEED first; the same seed gives the same writes and faults.

options:
  --trackers N          devices (default ${STRESS_DEFAULTS.trackers})
  --profiles LIST       profiles the devices cycle through: mlx5,pds (default mlx5,pds)
  --iommu-trackers N    IOMMU trackers, at most --trackers (default ${STRESS_DEFAULTS.iommuTrackers}): iommufd HWPTs with
                        dirty tracking over the guest (2 MiB IOPTEs over its first half, 4 KiB
                        elsewhere), device t attached to HWPT t mod N; every write is then
                        logged by the device and by its HWPT, and every report set reads both
  --queues N            DMA queues per device (default ${STRESS_DEFAULTS.queues})
  --report-sets N       stop after N report sets (default: none, the run lasts --seconds)
  --seconds S           stop after S seconds (default ${STRESS_DEFAULTS.seconds}; also 500ms, 2m)
  --workload KIND       ${WORKLOAD_KINDS.join(' | ')} (default uniform); shared-words puts
                        different devices' pages in the same bitmap words
  --contract C          atomic (seed uAPI, Atomics.or) | plain (merged kernel, read-modify-write)
                        (default atomic)
  --faults RATE         chance per REPORT of an injected fault: report-error, tracker-error,
                        slow-report (default 0)
  --kill                faults may also kill a tracker thread mid-REPORT (default off)
  --policy P            restart (default) | fail (stop logging at the first REPORT error)
  --seed N              64-bit seed (decimal or 0x hex; default random)
  --guest SIZE          guest memory, all of it tracked, bytes in binary units (default 64M)
  --burst N             writes per DMA burst (default ${STRESS_DEFAULTS.burstWrites})
  --writes-per-set N    least writes between two report sets (default ${STRESS_DEFAULTS.writesPerSet}; 0 = back to back)
  --windows K           report windows the span is split into, reported in turn (default ${STRESS_DEFAULTS.windows})
  --threads N           DMA pool threads, 1 .. 32 (default: cores)
  --json                print the summary as JSON on stdout (default off: a text table)
  --report FILE         also write a self-contained HTML report (latency histogram, throughput,
                        faults and recoveries) to FILE (default: none; checked before the run)
  --help

exit codes: 0 every invariant held over the whole run, 1 one was broken, 2 bad usage,
  3 nothing was broken but --policy fail stopped the run early: a REPORT failed at set N
    (printed as 'stopped at report set N', with the errno and device); later sets never ran,
  70 internal error (a bug in dmalog)
`;

/** Nothing broke, but --policy fail ended the run before its budget: it tested less than asked. */
export const EXIT_STOPPED_EARLY = 3;

/** The exit codes stress adds to the common ones (listed in the top-level help too). */
export const exitCodes = {
  [EXIT_STOPPED_EARLY]: 'nothing broken, but --policy fail stopped the run early at a failed REPORT',
};

const FLAGS = {
  trackers: { type: 'string' },
  profiles: { type: 'string' },
  'iommu-trackers': { type: 'string' },
  queues: { type: 'string' },
  'report-sets': { type: 'string' },
  seconds: { type: 'string' },
  workload: { type: 'string' },
  contract: { type: 'string' },
  faults: { type: 'string' },
  kill: { type: 'boolean' },
  policy: { type: 'string' },
  seed: { type: 'string' },
  guest: { type: 'string' },
  burst: { type: 'string' },
  'writes-per-set': { type: 'string' },
  windows: { type: 'string' },
  threads: { type: 'string' },
  json: { type: 'boolean' },
  report: { type: 'string' },
} as const;

const PAGE = 4096n;

/** Option fields set by a flag, so that a refusal of one names the flag and the value given. */
const FIELD_FLAGS: Record<string, string> = {
  trackers: 'trackers', iommuTrackers: 'iommu-trackers', queues: 'queues', reportSets: 'report-sets', guestPages: 'guest',
  burstWrites: 'burst', writesPerSet: 'writes-per-set', windows: 'windows', threads: 'threads', faultRate: 'faults',
};

function parseSeconds(text: string): number {
  return /^\d+(\.\d+)?$/.test(text.trim()) ? parseDuration(`${text}s`, '--seconds') / 1000 : parseDuration(text, '--seconds') / 1000;
}

/** argv → options; every bad value is a UsageError. */
export function parseStressArgs(argv: string[]): { options: StressOptions; json: boolean; report: string | null } {
  const { values: v } = parseFlags(argv, FLAGS);
  if (v['report-sets'] !== undefined && v.seconds !== undefined) throw new UsageError('--report-sets and --seconds exclude each other');
  const options: StressOptions = { seed: v.seed !== undefined ? parseSeed(v.seed) : randomSeed() };
  if (v.trackers !== undefined) options.trackers = parseIntArg(v.trackers, '--trackers', 1, 64);
  if (v.profiles !== undefined) options.profiles = v.profiles.split(',').map((p) => parseChoice(p.trim(), '--profiles', STRESS_PROFILES)) as StressProfile[];
  if (v['iommu-trackers'] !== undefined) options.iommuTrackers = parseIntArg(v['iommu-trackers'], '--iommu-trackers', 0, 64);
  if (v.queues !== undefined) options.queues = parseIntArg(v.queues, '--queues', 1, 64);
  if (v['report-sets'] !== undefined) options.reportSets = parseIntArg(v['report-sets'], '--report-sets', 1);
  if (v.seconds !== undefined) options.seconds = parseSeconds(v.seconds);
  if (v.workload !== undefined) options.workload = parseChoice(v.workload, '--workload', WORKLOAD_KINDS);
  if (v.contract !== undefined) options.contract = parseChoice(v.contract, '--contract', ['atomic', 'plain'] as const);
  if (v.faults !== undefined) options.faultRate = parseRate(v.faults, '--faults');
  if (v.kill) options.kill = true;
  if (v.policy !== undefined) options.policy = parseChoice(v.policy, '--policy', ['fail', 'restart'] as const);
  if (v.windows !== undefined) options.windows = parseIntArg(v.windows, '--windows', 1, 64);
  if (v.guest !== undefined) {
    const bytes = parseSize(v.guest, '--guest');
    const unit = PAGE * 4n * BigInt(options.windows ?? STRESS_DEFAULTS.windows);
    if (bytes % unit !== 0n || bytes / PAGE > 1n << 22n) throw new UsageError(`--guest: '${v.guest}' must be a multiple of ${unit / 1024n}K and at most 16G`);
    options.guestPages = Number(bytes / PAGE);
  }
  if (v.burst !== undefined) options.burstWrites = parseIntArg(v.burst, '--burst', 1, 1 << 24);
  if (v['writes-per-set'] !== undefined) options.writesPerSet = parseIntArg(v['writes-per-set'], '--writes-per-set', 0);
  if (v.threads !== undefined) options.threads = parseIntArg(v.threads, '--threads', 1, MAX_DMA_THREADS);
  if (options.workload === 'shared-words' && (options.guestPages ?? STRESS_DEFAULTS.guestPages) < (options.trackers ?? STRESS_DEFAULTS.trackers)) {
    throw new UsageError('--workload shared-words needs at least one guest page per tracker');
  }
  // How the fields relate (--iommu-trackers against --trackers...) is the library's rule: checked
  // here, before SEED is printed or the output path touched.
  try {
    fillStressOptions(options);
  } catch (error) {
    asFlagUsage(error, FIELD_FLAGS, v);
  }
  if (v.report !== undefined) checkOutputFile(v.report, '--report');
  return { options, json: v.json ?? false, report: v.report ?? null };
}

const n = (v: number) => Math.round(v).toLocaleString('en-US');

function millions(v: number): string {
  return v >= 1e6 ? `${(v / 1e6).toFixed(2)} M` : v >= 1e3 ? `${(v / 1e3).toFixed(1)} k` : `${Math.round(v)}`;
}

/** The flags that reproduce a run. */
export function reproduceLine(r: StressReport): string {
  const o = r.options;
  const budget = o.reportSets !== null ? `--report-sets ${o.reportSets}` : `--seconds ${o.seconds}`;
  const parts = [`dmalog stress --seed ${r.seed}`, `--trackers ${o.trackers}`, `--profiles ${o.profiles.join(',')}`,
    ...(o.iommuTrackers > 0 ? [`--iommu-trackers ${o.iommuTrackers}`] : []), `--queues ${o.queues}`, budget,
    `--workload ${o.workload}`, `--contract ${o.contract}`, `--faults ${o.faultRate}`, ...(o.kill ? ['--kill'] : []), `--policy ${o.policy}`,
    `--guest ${o.guestPages % 256 === 0 ? `${o.guestPages / 256}M` : `${o.guestPages * 4}K`}`, `--burst ${o.burstWrites}`, `--writes-per-set ${o.writesPerSet}`, `--windows ${o.windows}`];
  return parts.join(' ');
}

/** Why the run ended before its budget. */
function stopLine(r: StressReport): string {
  const s = r.stoppedBy!;
  const of = r.options.reportSets !== null ? ` of ${r.options.reportSets}` : '';
  return s.errno === 'DMALOG_ZEROING_RULE'
    ? `stopped at report set ${s.set}${of}: the bitmap was not zero at its start`
    : `stopped at report set ${s.set}${of}: REPORT failed with ${s.errno} on ${s.tracker ?? '?'} (policy ${r.options.policy}: logging stopped everywhere)`;
}

/** p50/p99/max of the report sets' wall latency. */
export function latencyLine(r: StressReport): string {
  const l = r.reportSetLatency;
  if (l === null) return 'no report set completed';
  const ms = (v: number) => `${v < 10 ? v.toFixed(2) : v.toFixed(1)} ms`;
  return `p50 ${ms(l.p50Ms)}, p99 ${ms(l.p99Ms)}, max ${ms(l.maxMs)}  (${n(l.count)} sets)`;
}

/** The IOMMU trackers' rows, when the run had any. */
function iommuRows(r: StressReport): Array<[string, string]> {
  const { iommu } = r;
  if (iommu.trackers.length === 0) return [];
  return [
    ['iommu trackers', iommu.trackers.map((x) => `${x.name} (HWPT ${x.hwptId}: ${x.devices.join(', ')})`).join('; ')],
    ['iommu mappings', `${n(iommu.hugePages / 512)} x 2M + ${n(iommu.smallPages)} x 4K; ${n(iommu.granulesMarked)} HWPT log bits marked`],
  ];
}

export function formatSummary(r: StressReport): string {
  const inj = r.faults.injected;
  const kinds = (Object.keys(inj) as Array<keyof typeof inj>).filter((k) => inj[k] > 0).map((k) => `${k} ${inj[k]}`).join(', ');
  const rows: Array<[string, string]> = [
    ['devices', r.devices.map((d) => `${d.name} (${d.pageSize / 1024}K)`).join(', ')],
    ...iommuRows(r),
    ['writes logged', `${n(r.writes)}  (${n(r.bursts)} bursts; ${n(r.writesAttempted - r.writes)} writes after a log stopped, in ${n(r.staleBursts)} bursts)`],
    ['report sets', n(r.reportSets)],
    ['pages reported', n(r.pagesReported)],
    ['lost', n(r.lost)],
    ['imprecise', `${n(r.imprecise)}  (${n(r.markedOnly)} reported pages explained only by recovery marks)`],
    ['zeroing violations', n(r.zeroingViolations)],
    ['faults injected', `${n(r.faults.total)}${kinds ? `  (${kinds})` : ''}`],
    ['REPORT errors', n(r.faults.reportErrors)],
    ['recovered', `${n(r.faults.restarts)} restarted, ${n(r.faults.retired)} retired`],
    ['throughput', `${millions(r.writesPerSecond)} writes/s, ${Math.round(r.setsPerSecond)} report sets/s`],
    ['report-set latency', latencyLine(r)],
    ['elapsed', `${(r.elapsedMs / 1000).toFixed(2)} s`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  const lines = rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`);
  if (r.faults.retired > 0 && r.faults.retired === r.devices.length) lines.push('every tracker was retired: the sets after that hold recovery marks only');
  if (r.stoppedBy) lines.push(stopLine(r));
  for (const f of r.checker.lostExamples) lines.push(`  lost: page ${f.page} (iova 0x${(GUEST_IOVA + BigInt(f.page) * PAGE).toString(16)}) missing by set ${f.set}, written by tracker ${f.tracker}, stream ${f.stream}, burst ${f.burstId}`);
  for (const f of r.checker.impreciseExamples) lines.push(`  imprecise: page ${f.page} reported in set ${f.set}`);
  if (!r.ok) lines.push(`result: BROKEN (${[r.lost && `${n(r.lost)} lost`, r.imprecise && `${n(r.imprecise)} imprecise`, r.zeroingViolations && 'zeroing rule'].filter(Boolean).join(', ')})`);
  else if (r.stoppedBy) lines.push(`result: STOPPED EARLY: every invariant held in the ${n(r.reportSets)} report sets that ran, but the run tested less than asked`);
  else lines.push('result: every invariant held');
  if (!r.ok) lines.push(`reproduce with: ${reproduceLine(r)}`);
  return `${lines.join('\n')}\n`;
}

/**
 * One progress line: where the run stands against its budget (report sets or seconds), at what
 * rate, when it should end, and the checker's counts so far.
 */
export function progressText(p: StressProgress, reportSets: number | null, seconds: number | null): string {
  const rate = p.elapsedMs > 0 ? p.reportSets * 1000 / p.elapsedMs : 0;
  const left = reportSets !== null ? (rate > 0 ? (reportSets - p.reportSets) / rate * 1000 : NaN) : seconds! * 1000 - p.elapsedMs;
  const eta = (reportSets !== null ? p.reportSets >= reportSets : left <= 0) ? '' : `  ETA ${formatEta(left)}`;
  return `[${(p.elapsedMs / 1000).toFixed(1).padStart(6)} s] sets ${p.reportSets}${reportSets !== null ? `/${reportSets}` : ''} (${Math.round(rate)}/s)${eta}` +
    `  writes ${millions(p.writes)}  lost ${p.lost}  imprecise ${p.imprecise}  faults ${p.faults}`;
}

export function toJson(r: StressReport): string {
  return JSON.stringify(r, (_k, value: unknown) => (typeof value === 'bigint' ? value.toString() : value), 2);
}

export async function run(argv: string[]): Promise<number> {
  const { options, json, report: reportFile } = parseStressArgs(argv);
  (json ? process.stderr : process.stdout).write(`SEED=${options.seed}\n`);
  // The runner paces its progress events itself: every one is shown.
  const progress = createProgress(process.stderr, { everyMs: 0 });
  const seconds = options.reportSets === undefined ? options.seconds ?? STRESS_DEFAULTS.seconds : null;
  options.onProgress = (p) => progress.status(progressText(p, options.reportSets ?? null, seconds));
  const report = await runStress(options);
  progress.end();
  process.stdout.write(json ? `${toJson(report)}\n` : formatSummary(report));
  if (reportFile !== null) {
    writeOutputFile(reportFile, '--report', renderStressReport(report));
    if (!json) process.stdout.write(`report: ${reportFile}\n`);
  }
  if (!report.ok) return EXIT.failed;
  if (report.stoppedBy === null) return EXIT.ok;
  if (json) process.stderr.write(`${stopLine(report)}\n`); // the text summary carries it already
  return EXIT_STOPPED_EARLY;
}
