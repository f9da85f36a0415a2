// The self-contained HTML report of a fuzz run (`dmalog fuzz --report FILE`): a banner with the
// verdict (and the command that replays a failure), the run's figures, and a heatmap of outcomes
// (ok or errno) by profile and the state the call was made in.
import { banner, keyValueTable, page, section, table, type BannerLevel } from '../report/html.js';
import { heatmap, type HeatmapColumn } from '../report/heatmap.js';
import { replayLine, sortedCounts, type Counts, type FuzzReport } from './runner.js';

const count = (v: number) => v.toLocaleString('en-US');
/** Columns in a fixed order: device profiles, then iommufd lanes; states as a device goes through them. */
const PROFILE_ORDER = ['mlx5', 'pds', 'none', 'iommufd-dirty', 'iommufd-plain'];
const STATE_ORDER = ['idle', 'logging', 'error', 'not tracking', 'tracking'];

const rank = (order: string[], v: string) => (order.includes(v) ? order.indexOf(v) : order.length);

export function fuzzBanner(r: FuzzReport): { level: BannerLevel; headline: string; detail: string } {
  if (r.failure) {
    const f = r.failure;
    return { level: 'failure', headline: `FAILED (${f.kind}) at call ${f.callIndex} on lane ${f.lane} (${f.profile})`, detail: `${f.detail} — replay: ${replayLine(r)}` };
  }
  return { level: 'ok', headline: `Every check held over ${count(r.calls)} calls`, detail: `${r.lanes} device lanes and ${r.iommuLanes} iommufd lanes, seed ${r.seed}` };
}

/** The heatmap's columns: each (profile, state) some call was made in. */
export function heatmapColumns(r: FuzzReport): HeatmapColumn[] {
  return Object.keys(r.byState).sort((a, b) => rank(PROFILE_ORDER, a) - rank(PROFILE_ORDER, b) || a.localeCompare(b))
    .flatMap((profile) => Object.keys(r.byState[profile as keyof FuzzReport['byState']]!)
      .sort((a, b) => rank(STATE_ORDER, a) - rank(STATE_ORDER, b) || a.localeCompare(b))
      .map((state) => ({ group: profile, label: state })));
}

function cellCounts(r: FuzzReport, col: HeatmapColumn): Counts {
  return r.byState[col.group as keyof FuzzReport['byState']]?.[col.label] ?? {};
}

export function outcomeHeatmap(r: FuzzReport): string {
  const columns = heatmapColumns(r);
  const rows = sortedCounts(r.counts).map(([outcome]) => outcome);
  if (columns.length === 0 || rows.length === 0) return '';
  return heatmap({
    id: 'chart-outcomes', title: 'Outcomes by profile and state', rows, columns,
    value: (row, c) => cellCounts(r, columns[c]!)[row as keyof Counts] ?? 0,
    tip: (row, col, v) => `${col.group}, ${col.label}: ${count(v)} calls → ${row}`,
  });
}

function summaryRows(r: FuzzReport): Array<[string, string]> {
  return [
    ['seed', r.seed],
    ['calls', count(r.calls)],
    ['lanes', `${r.lanes} device lanes, ${r.iommuLanes} iommufd lanes`],
    ['state changes / mirror verifies / fresh rounds', `${count(r.stateChanges)} / ${count(r.verifies)} / ${count(r.rounds)}`],
    ['DMA alongside', Object.entries(r.dma).map(([k, v]) => `${k} ${count(v)}`).join(', ') || 'none'],
    ['resident set', `${(r.rssBaselineBytes / 2 ** 20).toFixed(0)} MiB after warm-up, peak growth ${(r.rssPeakDeltaBytes / 2 ** 20).toFixed(1)} MiB`],
    ['elapsed', `${(r.elapsedMs / 1000).toFixed(1)} s`],
  ];
}

function outcomeTable(r: FuzzReport): string {
  const rows = sortedCounts(r.counts).map(([outcome, n]) => [outcome, count(n), `${((100 * n) / Math.max(1, r.calls)).toFixed(1)} %`]);
  return table('outcomes', ['outcome', 'calls', 'share'], rows, [1, 2]);
}

function failureTable(r: FuzzReport): string {
  const f = r.failure;
  if (!f) return '';
  return keyValueTable('failure', [['kind', f.kind], ['call', String(f.callIndex)], ['lane', `${f.lane} (${f.profile})`], ['detail', f.detail], ['the call', f.call ?? '—'], ['replay', replayLine(r) ?? '']]);
}

export function renderFuzzReport(r: FuzzReport): string {
  const b = fuzzBanner(r);
  const body = [
    section('Failure', failureTable(r)),
    section('Summary', keyValueTable('summary', summaryRows(r))),
    section('Outcomes by profile and state', outcomeHeatmap(r),
      'Each cell counts the fuzzed calls made on a lane of that profile (or iommufd lane kind) while its device was in that state, by outcome: ok, or the errno the call was rejected with. A blank cell: no such call.'),
    section('Outcomes', outcomeTable(r)),
  ].join('');
  return page(`dmalog fuzz report (seed ${r.seed})`, banner(b.level, b.headline, b.detail), body);
}
