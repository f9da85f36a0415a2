// The sweep as CSV (RFC 4180: comma-separated, fields with a comma, quote or newline quoted,
// CRLF-free): one row per point in point order, the axes' value labels then chosen numbers of
// its result. Empty fields where a point has no result.
import type { RecordSummary } from './record.js';

/** Columns after `index,id,<axes...>,seed`, each with how a record fills it. */
const COLUMNS: Array<[string, (r: RecordSummary) => string | number | boolean | null | undefined]> = [
  ['outcome', (r) => r.outcome],
  ['status', (r) => r.result?.status],
  ['converged', (r) => r.result?.converged],
  ['downtime_ms', (r) => r.result?.downtimeMs],
  ['total_time_ms', (r) => r.result?.totalTimeMs],
  ['iterations', (r) => r.result?.iterations],
  ['windows', (r) => r.result?.windows],
  ['bytes_sent', (r) => r.result?.bytesSent.total],
  ['ram_bytes_sent', (r) => r.result?.bytesSent.ram],
  ['device_state_bytes', (r) => r.result?.bytesSent.deviceState],
  ['throttle_pct', (r) => r.result?.throttlePct],
  ['tracking', (r) => r.result?.tracking],
  ['memory', (r) => (r.result?.check ? (r.result.check.identical ? 'identical' : 'differs') : r.result ? 'not checked' : undefined)],
  ['not_converged', (r) => r.result?.notConverged?.code],
  ['error_code', (r) => r.error?.code],
  ['error', (r) => r.error?.message],
  ['wall_ms', (r) => r.wallMs],
];

export function csvField(v: string | number | boolean | null | undefined): string {
  if (v === null || v === undefined) return '';
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csvHeader(axisKeys: readonly string[]): string[] {
  return ['index', 'id', ...axisKeys, 'seed', ...COLUMNS.map(([name]) => name)];
}

export function renderCsv(records: readonly RecordSummary[], axisKeys: readonly string[]): string {
  const lines = [csvHeader(axisKeys).map(csvField).join(',')];
  for (const r of records) {
    lines.push([r.index, r.id, ...axisKeys.map((k) => r.axes[k]), r.seed, ...COLUMNS.map(([, get]) => get(r))].map(csvField).join(','));
  }
  return `${lines.join('\n')}\n`;
}
