// `dmalog migrate`: run the live-migration simulator (src/migration) on a scenario built from a
// JSON config file and/or flags (flags win), print progress and a summary, write the HTML report.
import { PROFILE_NAMES } from '../../device/profiles.js';
import { MAX_DMA_THREADS } from '../../dma/pool.js';
import { checkFootprint } from '../../migration/footprint.js';
import { migrate, type MigrationHooks } from '../../migration/migration.js';
import { AUTO_BYTES_MAX_RAM, MAX_TIME_MS, MIN_RATE_BYTES, checkMigrationFields, fillMigrationOptions, type FilledMigrationOptions, type MigrationOptions } from '../../migration/options.js';
import { renderReport } from '../../migration/report-html.js';
import type { IterationStats, MigrationResult } from '../../migration/result.js';
import { faultWarnings, progressLine, seconds, summaryText } from '../../migration/summary.js';
import { DmalogError } from '../../errors.js';
import { EXIT, UsageError, asFlagUsage, parseChoice, parseDuration, parseFlags, parseIntArg, parseLinkSpeed, parseSeed, parseSize } from '../args.js';
import { DEFAULT_OUTPUT_DIR, MAX_INPUT_BYTES, checkOutputFile, readInputFile, writeOutputFile } from '../files.js';
import { createProgress, type PhaseEvent, type Progress } from '../progress.js';

/** Completed with identical memory, but only by a forced switchover (iteration or time cap). */
export const EXIT_NOT_CONVERGED = 3;
/** Completed with identical memory, but a requested --fault's sync never came: it was not injected. */
export const EXIT_FAULT_NOT_INJECTED = 4;

/** The exit codes migrate adds to the common ones (listed in the top-level help too). */
export const exitCodes = {
  [EXIT_NOT_CONVERGED]: 'memory identical, but only after a forced switchover (no convergence)',
  [EXIT_FAULT_NOT_INJECTED]: 'memory identical, but a --fault was never injected (its sync never came)',
};

export const summary = 'live-migrate a guest written by vCPUs and device DMA; check destination == source';
export const help = `usage: dmalog migrate [options]

Simulates QEMU's pre-copy live migration of a guest whose RAM is dirtied by vCPUs (tracked by
a CPU dirty log) and by device DMA (tracked by each device's DMA logging, or by the IOMMU's dirty
tracking, see --iommu), in 100 ms windows of simulated time, and checks at the end that the
destination RAM equals the source byte for byte (or write version for write version, see
--memory). The same seed and options give the same result, whatever --threads or the machine's
load. Progress (one line per sync, and the long phases with their rate and ETA) and the wall
time go to stderr; the summary or --json to stdout.

SIZE is bytes in binary units: 4096, 64K, 512M, 4G, 1.5G (K = 1024). RATE, the link speed
only, is bits per second in decimal units as NIC speeds are: 10G = 10 Gbit/s. DURATION is
300ms, 2s, 1.5s, 5m (a bare number is milliseconds).

scenario
  --config FILE           JSON scenario (see below); flags given too override it (default:
                          none, the built-in scenario the defaults below describe)
  --ram SIZE              guest RAM (default 512M; e.g. 64M, 1G, 4G)
  --vcpus N               vCPU writer threads' count (default 2)
  --devices LIST          PROFILE:COUNT,... e.g. mlx5:2,pds:1,none:0 (default mlx5:2,pds:1);
                          devices are named PROFILE-INDEX (mlx5-0, mlx5-1, pds-0)
  --workload LIST         WHO=KIND:RATE,... WHO = vcpu, dma (every device), a profile or a
                          device name; KIND = uniform | hot | ring; RATE in pages per simulated
                          second (default vcpu=hot:6000, mlx5=ring:3000, pds=uniform:1500,
                          none=uniform:500)
  --seed N                64-bit seed of every random input, decimal or 0x hex (default 1)
migration
  --bandwidth SIZE        max-bandwidth, bytes per second (default 128M = 128 MiB/s; at least ${MIN_RATE_BYTES / 2 ** 20}M)
  --downtime DURATION     downtime-limit, whole milliseconds (default 300ms)
  --link-speed RATE       the link of the stop-and-copy phase, in bits per second as NIC speeds
                          are quoted: 10G = 10 Gbit/s = 1.25 GB/s (default 10G; also 1G, 25G,
                          100G, 2.5G, 800M; at least ${(MIN_RATE_BYTES * 8 / 1e6).toFixed(1)}M and at least the bandwidth).
                          A bare number (bytes per second, before) is refused with its 10G form
  --auto-converge         throttle vCPUs when they dirty faster than the link sends (default off)
  --enable-migration M    auto (a device without DMA logging blocks migration) | on (migrate
                          anyway: every RAM page counts dirty on every sync) (default auto)
  --iommu M               IOMMU dirty tracking (iommufd HWPT over guest RAM): auto (when some
                          device cannot log DMA and every IOMMU has the capability) | on (even
                          when every device could log; refused when a device's IOMMU lacks it,
                          "iommuDirty": false in --config) | off (never) (default auto)
  --ram-backing B         host pages behind guest RAM, so the IOPTEs the IOMMU maps it with:
                          small (4 KiB pages, THP off; 4 KiB IOPTEs) | huge (hugetlbfs or THP:
                          2 MiB IOPTEs where aligned, and IOMMU dirty tracking reports 2 MiB for
                          any write into one) (default small)
  --policy P              on a failed REPORT: fail (QEMU's) | restart (STOP, START, mark all
                          dirty) (default fail)
  --max-iterations N      syncs before a forced switchover (default 30)
  --max-time DURATION     simulated time before a forced switchover, checked every 100 ms window
                          (default 120s, at most ${MAX_TIME_MS / 3_600_000}h)
  --fault DEV:SYNC:KIND   inject before sync SYNC a REPORT fault into DEV; KIND = report-error |
                          tracker-error (repeatable). SYNC is at most max-iterations + 1 (the
                          final sync); a fault whose sync never comes (the run ended first) is
                          a warning, listed in faultsNotInjected, and exit code ${EXIT_FAULT_NOT_INJECTED} (default: none)
  --drop-dirty-bit        test only: the vCPU log loses one dirty page in the final sync
                          (default off)
resources
  --memory M              how guest memory is simulated: bytes (every page's bytes copied and
                          compared; RAM at most 16G) | versions (one write version per page,
                          4 bytes: writers bump it, the copy carries it, the check compares it;
                          RAM at most 4T) | auto (bytes up to ${AUTO_BYTES_MAX_RAM / 2 ** 30}G, versions above) (default auto)
  --threads N             writer threads, 1 .. 32 (default: one per core); results do not depend on it
  --max-memory SIZE       refuse (exit 2) a run estimated to need more (default: the memory
                          available at start); the estimate is about twice the guest RAM (source
                          and destination; 8 bytes per page with --memory versions) plus bitmaps
                          and threads
output
  --json                  print the result as JSON instead of the summary (default off)
  --report FILE           write the self-contained HTML report to FILE, a regular file whose
                          directory exists (checked before the run; only ${DEFAULT_OUTPUT_DIR}/ is created)
                          (default: none; npm start writes ${DEFAULT_OUTPUT_DIR}/report.html)

config file (a regular file of at most ${MAX_INPUT_BYTES / 2 ** 20} MiB; flags given too override its fields):
  {"ram": "1G", "vcpus": 2, "vcpuWorkload": {"kind": "hot", "rate": 6000},
  "devices": [{"profile": "mlx5", "name": "nic0", "workload": {"kind": "ring", "rate": 3000},
  "stateBytes": "2M", "maxAddressSpaceBits": 42}], "bandwidth": "128M", "linkSpeed": "10G",
  "downtimeLimit": "300ms", "autoConverge": false, "enableMigration": "auto", "iommu": "auto",
  "ramBacking": "small", "policy": "fail", "maxIterations": 30, "seed": 1, "memory": "auto",
  "faults": [{"device": "nic0", "iteration": 3, "kind": "report-error"}]}

exit codes: 0 migrated and memory identical, 1 memory differs or the migration failed or was
blocked, 2 bad usage or a refused resource (memory, --report path), ${EXIT_NOT_CONVERGED} memory identical but only
after a forced switchover (no convergence), ${EXIT_FAULT_NOT_INJECTED} memory identical but a --fault was never
injected (its sync never came), ${EXIT.internal} internal error
`;

const FLAGS = {
  config: { type: 'string' },
  ram: { type: 'string' },
  vcpus: { type: 'string' },
  devices: { type: 'string' },
  workload: { type: 'string' },
  seed: { type: 'string' },
  bandwidth: { type: 'string' },
  downtime: { type: 'string' },
  'link-speed': { type: 'string' },
  'auto-converge': { type: 'boolean' },
  'enable-migration': { type: 'string' },
  iommu: { type: 'string' },
  'ram-backing': { type: 'string' },
  policy: { type: 'string' },
  'max-iterations': { type: 'string' },
  'max-time': { type: 'string' },
  fault: { type: 'string', multiple: true },
  'drop-dirty-bit': { type: 'boolean' },
  json: { type: 'boolean' },
  report: { type: 'string' },
  threads: { type: 'string' },
  'max-memory': { type: 'string' },
  memory: { type: 'string' },
} as const;

type DeviceEntry = NonNullable<MigrationOptions['devices']>[number];
type WorkloadEntry = NonNullable<MigrationOptions['vcpuWorkload']>;
const KINDS = ['uniform', 'hot', 'ring'] as const;

function readConfig(file: string): MigrationOptions {
  const text = readInputFile(file, '--config');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`--config ${file}: not JSON (${(error as Error).message.split('\n')[0]})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new UsageError(`--config ${file}: must hold a JSON object`);
  try {
    // Field by field only: flags may still change what the fields must agree with.
    checkMigrationFields(json as MigrationOptions);
  } catch (error) {
    if (error instanceof DmalogError) throw new UsageError(`--config ${file}: ${error.message}`);
    throw error;
  }
  return json as MigrationOptions;
}

function parseDevices(text: string): DeviceEntry[] {
  const out: DeviceEntry[] = [];
  for (const item of text.split(',').filter((s) => s.trim() !== '')) {
    const m = /^([a-z0-9]+):(\d+)$/.exec(item.trim());
    if (!m) throw new UsageError(`--devices: '${item}' is not PROFILE:COUNT (e.g. mlx5:2)`);
    const profile = parseChoice(m[1]!, '--devices', PROFILE_NAMES);
    const count = parseIntArg(m[2]!, `--devices ${profile}`, 0, 64);
    for (let i = 0; i < count; i++) out.push({ profile });
  }
  return out;
}

/** Apply `--workload` to the vCPUs and the devices it names. */
function applyWorkloads(text: string, options: MigrationOptions): void {
  const devices = (options.devices ??= [{ profile: 'mlx5' }, { profile: 'mlx5' }, { profile: 'pds' }]);
  for (const item of text.split(',').filter((s) => s.trim() !== '')) {
    const m = /^([A-Za-z0-9_.-]+)=([a-z]+):(\d+(?:\.\d+)?)$/.exec(item.trim());
    if (!m) throw new UsageError(`--workload: '${item}' is not WHO=KIND:RATE (e.g. vcpu=hot:6000)`);
    const workload: WorkloadEntry = { kind: parseChoice(m[2]!, `--workload ${m[1]}`, KINDS), rate: Number(m[3]) };
    const who = m[1]!;
    if (who === 'vcpu') { options.vcpuWorkload = workload; continue; }
    const counts = new Map<string, number>();
    const named = devices.map((d) => {
      const n = counts.get(d.profile) ?? 0;
      counts.set(d.profile, n + 1);
      return d.name ?? `${d.profile}-${n}`;
    });
    const targets = devices.filter((d, i) => who === 'dma' || d.profile === who || named[i] === who);
    if (targets.length === 0) throw new UsageError(`--workload: '${who}' names no vCPU, profile or device in this scenario`);
    for (const d of targets) d.workload = workload;
  }
}

function parseFault(text: string): NonNullable<MigrationOptions['faults']>[number] {
  const m = /^([A-Za-z0-9_.-]+):(\d+):([a-z-]+)$/.exec(text);
  if (!m) throw new UsageError(`--fault: '${text}' is not DEVICE:SYNC:KIND (e.g. mlx5-1:3:report-error)`);
  return { device: m[1]!, iteration: parseIntArg(m[2]!, '--fault SYNC', 1), kind: parseChoice(m[3]!, '--fault KIND', ['report-error', 'tracker-error'] as const) };
}

/** Option fields set by a flag, so that an error in one names the flag and the value given. */
const FIELD_FLAGS: Record<string, string> = {
  ram: 'ram', seed: 'seed', bandwidth: 'bandwidth', downtimeLimit: 'downtime', linkSpeed: 'link-speed',
  maxIterations: 'max-iterations', maxTime: 'max-time', writerThreads: 'threads', maxMemory: 'max-memory', memory: 'memory',
};

export function optionsFromArgs(argv: string[]): { options: MigrationOptions; filled: FilledMigrationOptions; json: boolean; report: string | null } {
  const { values: v } = parseFlags(argv, FLAGS);
  const options: MigrationOptions = v.config !== undefined ? readConfig(v.config) : {};
  if (v.ram !== undefined) options.ram = Number(parseSize(v.ram, '--ram'));
  if (v.vcpus !== undefined) options.vcpus = parseIntArg(v.vcpus, '--vcpus', 0, 64);
  if (v.devices !== undefined) options.devices = parseDevices(v.devices);
  if (v.workload !== undefined) applyWorkloads(v.workload, options);
  if (v.seed !== undefined) options.seed = parseSeed(v.seed);
  if (v.bandwidth !== undefined) options.bandwidth = Number(parseSize(v.bandwidth, '--bandwidth'));
  if (v.downtime !== undefined) options.downtimeLimit = parseDuration(v.downtime, '--downtime');
  if (v['link-speed'] !== undefined) options.linkSpeed = parseLinkSpeed(v['link-speed'], '--link-speed');
  if (v['auto-converge']) options.autoConverge = true;
  if (v['enable-migration'] !== undefined) options.enableMigration = parseChoice(v['enable-migration'], '--enable-migration', ['auto', 'on'] as const);
  if (v.iommu !== undefined) options.iommu = parseChoice(v.iommu, '--iommu', ['auto', 'on', 'off'] as const);
  if (v['ram-backing'] !== undefined) options.ramBacking = parseChoice(v['ram-backing'], '--ram-backing', ['small', 'huge'] as const);
  if (v.policy !== undefined) options.policy = parseChoice(v.policy, '--policy', ['fail', 'restart'] as const);
  if (v['max-iterations'] !== undefined) options.maxIterations = parseIntArg(v['max-iterations'], '--max-iterations', 1);
  if (v['max-time'] !== undefined) options.maxTime = parseDuration(v['max-time'], '--max-time');
  if (v.fault !== undefined) options.faults = [...(options.faults ?? []), ...v.fault.map(parseFault)];
  if (v['drop-dirty-bit']) options.dropDirtyBit = true;
  if (v.threads !== undefined) options.writerThreads = parseIntArg(v.threads, '--threads', 1, MAX_DMA_THREADS);
  if (v['max-memory'] !== undefined) options.maxMemory = Number(parseSize(v['max-memory'], '--max-memory'));
  if (v.memory !== undefined) options.memory = parseChoice(v.memory, '--memory', ['bytes', 'versions', 'auto'] as const);
  let filled: FilledMigrationOptions;
  try {
    filled = fillMigrationOptions(options);
    // Refused here, before the output path is touched; migrate() checks again for library callers.
    // A guest past the memory limit is blamed on --ram when given, else on the --max-memory given.
    checkFootprint(filled, undefined, v.ram === undefined && v['max-memory'] !== undefined ? 'maxMemory' : 'ram');
  } catch (error) {
    asFlagUsage(error, FIELD_FLAGS, v);
  }
  const report = v.report ?? null;
  if (report !== null) checkOutputFile(report, '--report');
  return { options, filled, json: v.json === true, report };
}

/** The exit code of a finished run (documented in `help`). */
export function exitCodeOf(result: MigrationResult): number {
  if (result.status !== 'completed' || !result.check?.identical) return EXIT.failed;
  if (result.faultsNotInjected.length > 0) return EXIT_FAULT_NOT_INJECTED;
  return result.converged ? EXIT.ok : EXIT_NOT_CONVERGED;
}

/** What the long phases are called on screen, by the migration's event kind. */
const PHASE_NAMES: Record<string, string> = { 'first-pass': 'first pass', check: 'final memory check' };

/**
 * A migration progress event as a phase event, whatever its shape: `{ phase, done, total, unit? }`
 * as it is, `{ kind, donePages, totalPages }` as pages of the phase `kind` names; null for an
 * event that is not a phase's progress (a sync: onIteration draws it).
 */
export function phaseEventOf(event: object): PhaseEvent | null {
  const e = event as Record<string, unknown>;
  if (typeof e['phase'] === 'string' && typeof e['done'] === 'number' && typeof e['total'] === 'number') {
    return { phase: e['phase'], done: e['done'], total: e['total'], ...(typeof e['unit'] === 'string' && { unit: e['unit'] }) };
  }
  if (typeof e['kind'] === 'string' && typeof e['donePages'] === 'number' && typeof e['totalPages'] === 'number') {
    return { phase: PHASE_NAMES[e['kind']] ?? e['kind'], done: e['donePages'], total: e['totalPages'], unit: 'pages' };
  }
  return null;
}

/**
 * The hooks that draw a run's progress: one history line per sync (with the wall time so far),
 * and a status line with rate and ETA for each long phase the migration reports (the first pass,
 * the final memory check), whatever its name.
 */
export function progressHooks(progress: Progress, now: () => number = () => performance.now()): MigrationHooks & { onProgress: (event: object) => void } {
  const started = now();
  return {
    onIteration: (s: IterationStats) => progress.line(`${progressLine(s)}  (wall ${seconds(now() - started)})`),
    onProgress: (event: object) => {
      const phase = phaseEventOf(event);
      if (phase !== null) progress.phase(phase);
    },
  };
}

export async function run(argv: string[]): Promise<number> {
  const { options, json, report } = optionsFromArgs(argv);
  const progress = createProgress(process.stderr);
  const began = performance.now();
  const result = await migrate(options, progressHooks(progress));
  progress.end();
  // Wall time varies with the machine: it is not part of the result (nor of --json), nor of the
  // summary; it goes to stderr with the progress, in either output mode.
  process.stderr.write(`wall time: ${((performance.now() - began) / 1000).toFixed(2)} s\n`);
  if (json) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    for (const line of faultWarnings(result)) process.stderr.write(`${line}\n`);
  } else {
    process.stdout.write(summaryText(result));
  }
  if (report !== null) {
    writeOutputFile(report, '--report', renderReport(result));
    if (!json) process.stdout.write(`report: ${report}\n`);
  }
  return exitCodeOf(result);
}
