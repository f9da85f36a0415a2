// `dmalog migrate`: run the live-migration simulator (src/migration) on a scenario built from a
// JSON config file and/or flags (flags win), print progress and a summary, write the HTML report.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PROFILE_NAMES } from '../../device/profiles.js';
import { migrate } from '../../migration/migration.js';
import { fillMigrationOptions, type MigrationOptions } from '../../migration/options.js';
import { renderReport } from '../../migration/report-html.js';
import type { IterationStats } from '../../migration/result.js';
import { progressLine, summaryText } from '../../migration/summary.js';
import { DmalogError } from '../../uapi/errno.js';
import { EXIT, UsageError, parseChoice, parseDuration, parseFlags, parseIntArg, parseSize } from '../args.js';
import { createProgress } from '../progress.js';

/** Completed with identical memory, but only by a forced switchover (iteration or time cap). */
export const EXIT_NOT_CONVERGED = 3;

export const summary = 'live-migrate a guest written by vCPUs and device DMA; check destination == source';
export const help = `usage: dmalog migrate [options]

Simulates QEMU's pre-copy live migration of a guest whose RAM is dirtied by vCPUs (tracked by
a CPU dirty log) and by device DMA (tracked by each device's DMA logging), in 100 ms windows of
simulated time, and checks at the end that the destination RAM equals the source byte for byte.

scenario
  --config FILE           JSON scenario (see below); flags given too override it
  --ram SIZE              guest RAM (default 512M; e.g. 64M, 1G, 4G)
  --vcpus N               vCPU writer threads' count (default 2)
  --devices LIST          PROFILE:COUNT,... e.g. mlx5:2,pds:1,none:0 (default mlx5:2,pds:1);
                          devices are named PROFILE-INDEX (mlx5-0, mlx5-1, pds-0)
  --workload LIST         WHO=KIND:RATE,... WHO = vcpu, dma (every device), a profile or a
                          device name; KIND = uniform | hot | ring; RATE in pages per simulated
                          second (default vcpu=hot:6000, mlx5=ring:3000, pds=uniform:1500,
                          none=uniform:500)
  --seed N                seed of every random input (default 1)
migration
  --bandwidth SIZE        max-bandwidth per second (default 128M)
  --downtime DURATION     downtime-limit (default 300ms)
  --link-speed SIZE       per second, for the stop-and-copy phase (default 1250000000 = 10 Gbit/s)
  --auto-converge         throttle vCPUs when they dirty faster than the link sends
  --enable-migration M    auto (a device without DMA logging blocks migration) | on (migrate
                          anyway: every RAM page counts dirty on every sync)
  --policy P              on a failed REPORT: fail (QEMU) | restart (STOP, START, mark all dirty)
  --max-iterations N      syncs before a forced switchover (default 30)
  --max-time DURATION     simulated time before a forced switchover (default 120s)
  --fault DEV:SYNC:KIND   inject before sync SYNC a REPORT fault into DEV; KIND = report-error |
                          tracker-error (repeatable)
  --drop-dirty-bit        test only: the vCPU log loses one dirty page in the final sync
output
  --json                  print the result as JSON (progress goes to stderr)
  --report FILE           write the self-contained HTML report to FILE
  --threads N             writer threads (default: one per core)

config file: {"ram": "1G", "vcpus": 2, "vcpuWorkload": {"kind": "hot", "rate": 6000},
  "devices": [{"profile": "mlx5", "name": "nic0", "workload": {"kind": "ring", "rate": 3000},
  "stateBytes": "2M", "maxAddressSpaceBits": 42}], "bandwidth": "128M", "downtimeLimit": "300ms",
  "autoConverge": false, "enableMigration": "auto", "policy": "fail", "maxIterations": 30,
  "seed": 1, "faults": [{"device": "nic0", "iteration": 3, "kind": "report-error"}]}

exit codes: 0 migrated and memory identical, 1 memory differs or the migration failed or was
blocked, 2 bad usage, ${EXIT_NOT_CONVERGED} memory identical but only after a forced switchover (no convergence)
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
  policy: { type: 'string' },
  'max-iterations': { type: 'string' },
  'max-time': { type: 'string' },
  fault: { type: 'string', multiple: true },
  'drop-dirty-bit': { type: 'boolean' },
  json: { type: 'boolean' },
  report: { type: 'string' },
  threads: { type: 'string' },
} as const;

type DeviceEntry = NonNullable<MigrationOptions['devices']>[number];
type WorkloadEntry = NonNullable<MigrationOptions['vcpuWorkload']>;
const KINDS = ['uniform', 'hot', 'ring'] as const;

function readConfig(file: string): MigrationOptions {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`--config ${file}: cannot read it (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`--config ${file}: not JSON (${(error as Error).message.split('\n')[0]})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new UsageError(`--config ${file}: must hold a JSON object`);
  try {
    fillMigrationOptions(json as MigrationOptions);
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

export function optionsFromArgs(argv: string[]): { options: MigrationOptions; json: boolean; report: string | null } {
  const { values: v } = parseFlags(argv, FLAGS);
  const options: MigrationOptions = v.config !== undefined ? readConfig(v.config) : {};
  if (v.ram !== undefined) options.ram = Number(parseSize(v.ram, '--ram'));
  if (v.vcpus !== undefined) options.vcpus = parseIntArg(v.vcpus, '--vcpus', 0, 64);
  if (v.devices !== undefined) options.devices = parseDevices(v.devices);
  if (v.workload !== undefined) applyWorkloads(v.workload, options);
  if (v.seed !== undefined) options.seed = String(parseIntArg(v.seed, '--seed'));
  if (v.bandwidth !== undefined) options.bandwidth = Number(parseSize(v.bandwidth, '--bandwidth'));
  if (v.downtime !== undefined) options.downtimeLimit = parseDuration(v.downtime, '--downtime');
  if (v['link-speed'] !== undefined) options.linkSpeed = Number(parseSize(v['link-speed'], '--link-speed'));
  if (v['auto-converge']) options.autoConverge = true;
  if (v['enable-migration'] !== undefined) options.enableMigration = parseChoice(v['enable-migration'], '--enable-migration', ['auto', 'on'] as const);
  if (v.policy !== undefined) options.policy = parseChoice(v.policy, '--policy', ['fail', 'restart'] as const);
  if (v['max-iterations'] !== undefined) options.maxIterations = parseIntArg(v['max-iterations'], '--max-iterations', 1);
  if (v['max-time'] !== undefined) options.maxTime = parseDuration(v['max-time'], '--max-time');
  if (v.fault !== undefined) options.faults = [...(options.faults ?? []), ...v.fault.map(parseFault)];
  if (v['drop-dirty-bit']) options.dropDirtyBit = true;
  if (v.threads !== undefined) options.writerThreads = parseIntArg(v.threads, '--threads', 1, 64);
  try {
    fillMigrationOptions(options);
  } catch (error) {
    if (error instanceof DmalogError) throw new UsageError(error.message);
    throw error;
  }
  return { options, json: v.json === true, report: v.report ?? null };
}

export async function run(argv: string[]): Promise<number> {
  const { options, json, report } = optionsFromArgs(argv);
  // A reader that went away (`| head`) ends the run quietly instead of with an EPIPE trace.
  for (const out of [process.stdout, process.stderr]) {
    out.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') throw error;
      process.exit(EXIT.ok);
    });
  }
  const progress = createProgress(json ? process.stderr : process.stdout);
  const onIteration = (s: IterationStats) => progress.update(progressLine(s));
  const result = await migrate(options, { onIteration });
  progress.end();
  if (json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else process.stdout.write(summaryText(result));
  if (report !== null) {
    mkdirSync(path.dirname(path.resolve(report)), { recursive: true });
    writeFileSync(report, renderReport(result));
    if (!json) process.stdout.write(`report: ${report}\n`);
  }
  if (result.status !== 'completed' || !result.check?.identical) return EXIT.failed;
  return result.converged ? EXIT.ok : EXIT_NOT_CONVERGED;
}

