// Human-readable text for a migration result: one progress line per sync and the final summary.
import { formatLinkSpeed } from '../cli/args.js';
import type { IterationStats, MigrationResult } from './result.js';

const MiB = 1 << 20;

export function mib(bytes: number): string {
  return `${(bytes / MiB).toFixed(1)} MiB`;
}

export function seconds(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`;
}

/** One line per sync, e.g. for a progress display. */
export function progressLine(s: IterationStats): string {
  const dirty = Object.entries(s.reported).map(([name, pages]) => `${name} ${pages}`).join(', ');
  const recov = s.recoveries.length ? `  recovered: ${s.recoveries.map((x) => `${x.tracker} ${x.errno}→${x.recovery}`).join(', ')}` : '';
  return `sync ${String(s.iteration).padStart(2)} ${s.phase === 'final' ? 'final ' : 'pre   '} t=${seconds(s.atMs).padStart(9)}  sent ${mib(s.sentBytes).padStart(10)}  ` +
    `pending ${mib(s.pendingBytes)} (switchover at ≤ ${mib(s.thresholdBytes)})  throttle ${s.throttlePct}%  dirty pages: ${dirty}${recov}`;
}

/** One warning line per requested fault whose sync never came. */
export function faultWarnings(r: MigrationResult): string[] {
  return r.faultsNotInjected.map((f) =>
    `warning: fault ${f.device}:${f.iteration}:${f.kind} was never injected: the run made ${r.iterations} sync(s) and ended before sync ${f.iteration}`);
}

export function summaryText(r: MigrationResult): string {
  const sc = r.scenario;
  const lines: string[] = [];
  const devices = sc.devices.map((d) => `${d.name} (${d.profile}, ${d.workload})`).join(', ') || 'none';
  lines.push(`seed: ${r.seed}`);
  lines.push(`guest: ${mib(sc.ramBytes)} RAM (${sc.memory === 'versions' ? 'page versions' : 'bytes'}), ${sc.vcpus} vCPU writer(s); devices: ${devices}`);
  lines.push(`link: bandwidth ${mib(sc.bandwidth)}/s, link speed ${formatLinkSpeed(sc.linkSpeed)}, downtime limit ${sc.downtimeLimitMs} ms, auto-converge ${sc.autoConverge ? 'on' : 'off'}, enable-migration=${sc.enableMigration}, iommu=${sc.iommu}, policy ${sc.policy}`);
  if (r.tracking !== 'none') {
    const how = r.tracking === 'device-logging' ? 'device DMA logging' : r.tracking === 'iommu' ? `IOMMU dirty tracking (iommufd HWPT, RAM mapped at ${sc.ramBacking === 'huge' ? '2 MiB where aligned' : '4 KiB'})` : 'none for devices: every RAM section dirty on every sync';
    lines.push(`tracking: ${how}; trackers ${r.trackers.join(', ')}; ranges ${r.ranges.map((x) => `[${x.iova} +${x.length}]`).join(' ')}`);
  }
  if (r.failure) {
    lines.push(`result: ${r.status.toUpperCase()} (${r.failure.code}, ${r.failure.errno}): ${r.failure.message}`);
    lines.push('memory: not checked (the migration did not complete; the guest keeps running on the source)');
    lines.push(...faultWarnings(r));
    return `${lines.join('\n')}\n`;
  }
  lines.push(`result: completed in ${seconds(r.totalTimeMs)} simulated, ${r.iterations} syncs, ${r.windows} windows of 100 ms`);
  lines.push(`downtime: ${seconds(r.downtimeMs)} (limit ${r.scenario.downtimeLimitMs} ms)`);
  const last = r.iterationStats.filter((s) => s.phase === 'precopy').at(-1);
  lines.push(r.converged
    ? `converged: yes (pending ${mib(last?.pendingBytes ?? 0)} ≤ threshold ${mib(last?.thresholdBytes ?? 0)} at sync ${last?.iteration ?? 0})`
    : `converged: no (${r.notConverged?.code}): ${r.notConverged?.message}; forced switchover`);
  lines.push(`sent: ${mib(r.bytesSent.ram)} RAM + ${mib(r.bytesSent.deviceState)} device state = ${mib(r.bytesSent.total)}`);
  const totals = trackerTotals(r);
  lines.push(`dirty pages reported (all syncs): ${Object.entries(totals).map(([n, p]) => `${n} ${p}`).join(', ')}`);
  if (r.recovery.reportErrors > 0) lines.push(`recovery: ${r.recovery.reportErrors} REPORT error(s), ${r.recovery.restarts} restart(s), ${r.recovery.retired} retired; ${r.unloggedWrites} write(s) cut short by a restart marked dirty`);
  if (r.throttlePct > 0) lines.push(`auto-converge: vCPUs throttled to ${r.throttlePct}%`);
  if (r.droppedPage) lines.push(`test switch: the vCPU log dropped the dirty bit of page ${r.droppedPage} in the final sync`);
  const c = r.check!;
  lines.push(c.identical
    ? `memory: identical (${c.pagesCompared} pages compared${sc.memory === 'versions' ? ' by write version' : ''})`
    : `memory: MISMATCH: ${c.differingPages} of ${c.pagesCompared} pages differ; first: ${c.firstDiffering.map((p) => `page ${p} (RAM offset 0x${(p * sc.pageSize).toString(16)})`).join(', ')}`);
  lines.push(...faultWarnings(r));
  return `${lines.join('\n')}\n`;
}

export function trackerTotals(r: MigrationResult): Record<string, number> {
  const totals: Record<string, number> = {};
  for (const s of r.iterationStats) for (const [name, pages] of Object.entries(s.reported)) totals[name] = (totals[name] ?? 0) + pages;
  return totals;
}
