// Migration: simulated seconds per wall second for the default `dmalog migrate` scenario, and
// memory: the device log per tracked GiB, and the process's peak RSS per GiB of guest RAM. Each
// migration runs in its own process (perf/workers/migrate-child.ts) so its peak RSS is its own.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { planLog } from '../src/device/dirty-log.js';
import type { MigrationOptions } from '../src/migration/options.js';
import { ok } from '../src/util/result.js';
import { fmtBytes, fmtMs, type Row, type Scenario, type ScenarioOptions } from './harness.js';

const CHILD = fileURLToPath(new URL('./workers/migrate-child.js', import.meta.url));
const GiB = 2 ** 30;

interface ChildResult { status: string; simulatedMs: number; wallMs: number; maxRssBytes: number; identical: boolean | null }

async function migrateInChild(options: MigrationOptions): Promise<ChildResult> {
  const { stdout } = await promisify(execFile)(process.execPath, [CHILD, JSON.stringify(options)], { maxBuffer: 1 << 20 });
  const result = JSON.parse(stdout.trim().split('\n').pop()!) as ChildResult;
  if (result.status !== 'completed' || result.identical !== true) throw new Error(`migration ${JSON.stringify(options)} ended ${result.status}, identical=${result.identical}`);
  return result;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1]!;
}

export const scenario: Scenario = {
  name: 'migration',
  title: 'live migration (default scenario of `dmalog migrate`): simulated time per wall time, memory',
  async run(options: ScenarioOptions) {
    const runs = options.quick ? 1 : 3;
    const defaults: ChildResult[] = [];
    for (let i = 0; i < runs; i++) defaults.push(await migrateInChild({}));
    const simMs = median(defaults.map((r) => r.simulatedMs));
    const wallMs = median(defaults.map((r) => r.wallMs));
    const rows: Row[] = [{
      case: 'default scenario (512 MiB guest, 2 vCPUs, mlx5 ×2, pds ×1)', measured: `${fmtMs(simMs)} simulated in ${fmtMs(wallMs)}`,
      baseline: 'the wall clock', baselineMeasured: '1 s per s', ratio: simMs / wallMs, kind: 'speed',
    }];

    // The device log at 4 KiB: one bit per page plus the summary levels.
    const tracked = 2 ** 40;
    const log = ok(planLog(4096n, [{ iova: 0n, length: BigInt(tracked) }], 1 << 30), 'planLog');
    const logBytesPerGiB = log.buffer.byteLength / (tracked / GiB);
    rows.push({
      case: 'device log per tracked GiB (4 KiB granules)', measured: fmtBytes(logBytesPerGiB), baseline: 'one bit per 4 KiB page',
      baselineMeasured: fmtBytes(GiB / 4096 / 8), ratio: logBytesPerGiB / (GiB / 4096 / 8), kind: 'size',
    });

    // Peak RSS grows with the guest: the source RAM, the destination copy and the dirty bitmaps.
    const small = await migrateInChild({ ram: 256 * 2 ** 20 });
    const large = await migrateInChild({ ram: GiB });
    const rssPerGiB = (large.maxRssBytes - small.maxRssBytes) / 0.75;
    rows.push({
      case: 'peak RSS per GiB of guest RAM (1 GiB vs 256 MiB guest)', measured: fmtBytes(Math.round(rssPerGiB)), baseline: 'the guest RAM itself',
      baselineMeasured: '1 GiB', ratio: rssPerGiB / GiB, kind: 'size',
    });
    return {
      name: this.name,
      title: this.title,
      rows,
      notes: [
        `each migration runs in a fresh process and must complete with identical memory; ${runs} default run(s), median.`,
        `peak RSS: ${fmtBytes(small.maxRssBytes)} at 256 MiB, ${fmtBytes(large.maxRssBytes)} at 1 GiB of guest RAM.`,
      ],
    };
  },
};
