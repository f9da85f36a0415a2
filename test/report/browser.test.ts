// Every HTML report rendered by a real browser: Debian's Chromium (/usr/bin/chromium), headless,
// driven by playwright-core (which never downloads a browser here: it is pointed at the system
// one). For migrate (normal, forced switchover, failed), stress and fuzz: the page loads with no
// console error and no request leaves the file, its charts hold the marks the run's own data
// calls for, and the browser's real layout has no legend entry overlapping another, no tick label
// on an axis title, no clipped text summary and no empty table.
// Without a browser the tests are skipped with a note; under CI=true a missing browser fails.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import test from 'ava';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { migrate } from '../../src/migration/migration.js';
import { renderReport } from '../../src/migration/report-html.js';
import type { MigrationResult } from '../../src/migration/result.js';
import { runStress, type StressReport } from '../../src/stress/runner.js';
import { eventKey, renderStressReport } from '../../src/stress/report-html.js';
import { runFuzz, type FuzzReport } from '../../src/fuzz/runner.js';
import { renderFuzzReport } from '../../src/fuzz/report-html.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const haveBrowser = existsSync(CHROMIUM);
const inCi = process.env['CI'] === 'true';

if (!haveBrowser) {
  if (inCi) {
    test('a browser to render the reports is installed (CI)', (t) => {
      t.fail(`no browser at ${CHROMIUM}: under CI=true the report render tests must run (.ci/run installs Debian's chromium)`);
    });
  } else {
    test('browser render tests: skipped, no browser', (t) => {
      t.log(`no browser at ${CHROMIUM}: the HTML reports were not rendered (apt-get install chromium to run these tests)`);
      t.pass();
    });
  }
}
const browserTest = haveBrowser ? test.serial : test.skip;

const scenario = {
  ram: '24M', bandwidth: '16M', seed: 9, writerThreads: 1, vcpuWorkload: { kind: 'hot' as const, rate: 1500 },
  devices: [{ profile: 'mlx5' as const, workload: { kind: 'ring' as const, rate: 500 } }, { profile: 'pds' as const, workload: { kind: 'uniform' as const, rate: 300 } }],
};

let dir = '';
let context: BrowserContext | null = null;
const runs: { normal?: MigrationResult; forced?: MigrationResult; failed?: MigrationResult; stress?: StressReport; fuzz?: FuzzReport } = {};

test.before(async () => {
  if (!haveBrowser) return;
  dir = mkdtempSync(path.join(tmpdir(), 'dmalog-browser-'));
  runs.normal = await migrate(scenario);
  runs.forced = await migrate({ ...scenario, bandwidth: '4M', maxIterations: 3, devices: [{ profile: 'mlx5', workload: { kind: 'uniform', rate: 4000 } }] });
  runs.failed = await migrate({ ...scenario, policy: 'fail', faults: [{ device: 'mlx5-0', iteration: 2, kind: 'report-error' }] });
  runs.stress = await runStress({ guestPages: 4096, burstWrites: 1024, writesPerSet: 2048, queues: 1, trackers: 3, threads: 1, reportSets: 40, faultRate: 0.15, seed: 5n });
  runs.fuzz = await runFuzz({ seed: 77n, calls: 1500 });
  // A fresh profile each run: nothing of a previous one (or of the user's) is read.
  context = await chromium.launchPersistentContext(path.join(dir, 'profile'), { executablePath: CHROMIUM, headless: true, args: ARGS, viewport: { width: 1100, height: 900 } });
});

test.after.always(async () => {
  await context?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Loaded { page: Page; problems: string[] }

/** Open the report in a new page; every console error, page error and request for anything but the file is a problem. */
async function load(name: string, html: string): Promise<Loaded> {
  const file = path.join(dir, `${name}.html`);
  writeFileSync(file, html);
  const url = pathToFileURL(file).href;
  const page = await context!.newPage();
  const problems: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('request', (r) => { if (r.url() !== url) problems.push(`request: ${r.url()}`); });
  const response = await page.goto(url, { waitUntil: 'load' });
  if (!response?.ok()) problems.push(`load: ${response?.status()}`);
  return { page, problems };
}

const countIn = (page: Page, selector: string) => page.locator(selector).count();

interface Box { x: number; y: number; width: number; height: number }
const overlap = (a: Box, b: Box) => a.x < b.x + b.width - 0.5 && b.x < a.x + a.width - 0.5 && a.y < b.y + b.height - 0.5 && b.y < a.y + a.height - 0.5;

interface Layout {
  charts: Array<{ id: string; svg: Box; legend: Box[]; ticks: Array<{ text: string; box: Box }>; titles: Box[] }>;
  pres: Array<{ scroll: number; client: number }>;
  emptyTables: string[];
  bannerFirst: boolean;
}

/** Runs in the page (plain JavaScript: the tests compile without DOM types). */
const LAYOUT_SCRIPT = `(() => {
  const box = (e) => { const r = e.getBoundingClientRect(); return { x: r.x, y: r.y, width: r.width, height: r.height }; };
  const charts = [...document.querySelectorAll('svg.chart')].map((svg) => ({
    id: svg.id,
    svg: box(svg),
    legend: [...svg.querySelectorAll('.legend-entry')].map(box),
    ticks: [...svg.querySelectorAll('text.tick')].map((e) => ({ text: e.textContent ?? '', box: box(e) })),
    titles: [...svg.querySelectorAll('text.axis-title')].map(box),
  }));
  const pres = [...document.querySelectorAll('pre')].map((p) => ({ scroll: p.scrollWidth, client: p.clientWidth }));
  const emptyTables = [...document.querySelectorAll('table')].filter((tb) => tb.querySelectorAll('td').length === 0).map((tb) => tb.id);
  return { charts, pres, emptyTables, bannerFirst: document.body.children[1]?.id === 'banner' };
})()`;

/** Layout as the browser drew it, the same for every report. */
async function checkLayout(t: import('ava').ExecutionContext, page: Page): Promise<void> {
  const layout = await page.evaluate(LAYOUT_SCRIPT) as Layout;
  t.true(layout.bannerFirst, 'the banner follows the title, before any other content');
  t.deepEqual(layout.emptyTables, []);
  for (const p of layout.pres) t.true(p.scroll <= p.client, `text summary clipped: ${p.scroll} > ${p.client}`);
  for (const c of layout.charts) {
    for (let i = 0; i < c.legend.length; i++) {
      const a = c.legend[i]!;
      t.true(a.x >= c.svg.x - 0.5 && a.x + a.width <= c.svg.x + c.svg.width + 0.5 && a.y + a.height <= c.svg.y + c.svg.height + 0.5, `${c.id}: legend entry ${i} outside the chart`);
      for (let j = i + 1; j < c.legend.length; j++) t.false(overlap(a, c.legend[j]!), `${c.id}: legend entries ${i} and ${j} overlap`);
    }
    for (const tick of c.ticks) for (const title of c.titles) t.false(overlap(tick.box, title), `${c.id}: tick '${tick.text}' overlaps an axis title`);
    for (let i = 1; i < c.ticks.length; i++) {
      const [a, b] = [c.ticks[i - 1]!, c.ticks[i]!];
      t.false(overlap(a.box, b.box), `${c.id}: ticks '${a.text}' and '${b.text}' overlap`);
    }
  }
}

browserTest('migrate report (converged): loads cleanly, bars, points and legend match the run', async (t) => {
  const r = runs.normal!;
  const { page, problems } = await load('migrate', renderReport(r));
  t.deepEqual(problems, []);
  t.is(await page.locator('#banner').getAttribute('data-level'), 'ok');
  const trackers = [...new Set(r.iterationStats.flatMap((s) => Object.keys(s.reported)))];
  const bars = r.iterationStats.reduce((n, s) => n + trackers.filter((k) => (s.reported[k] ?? 0) > 0).length + (s.freshPages > 0 ? 1 : 0), 0);
  t.true(bars > 0);
  t.is(await countIn(page, '#chart-dirty .bar'), bars);
  const drawnSeries = trackers.filter((k) => r.iterationStats.some((s) => (s.reported[k] ?? 0) > 0)).length + 1;
  t.is(await countIn(page, '#chart-dirty .legend-entry'), drawnSeries);
  t.is(await countIn(page, '#chart-pending .point'), r.iterationStats.length);
  t.is(await countIn(page, '#chart-pending .rule[data-series="threshold"]'), r.iterationStats.length);
  t.is(await countIn(page, '#chart-transfer .line'), 2);
  t.is(await countIn(page, '#chart-transfer .legend-entry'), 3);
  // Every bar stands on the x axis: side by side, none stacked on another.
  const bottoms = await page.$$eval('#chart-dirty .bar', (els) => els.map((e) => e.getBoundingClientRect().bottom));
  t.true(Math.max(...bottoms) - Math.min(...bottoms) < 1, bottoms.join(' '));
  await checkLayout(t, page);
  await page.close();
});

browserTest('migrate report (forced switchover, failed): a warning or failure banner and the marks that explain it', async (t) => {
  const forced = runs.forced!;
  t.false(forced.converged);
  let { page, problems } = await load('forced', renderReport(forced));
  t.deepEqual(problems, []);
  t.is(await page.locator('#banner').getAttribute('data-level'), 'warning');
  t.regex((await page.locator('#banner').textContent()) ?? '', /Forced switchover/);
  const kinds = new Set(forced.iterationStats.map((s) => (s.phase === 'final' ? 'final' : s.pendingBytes <= s.thresholdBytes ? 'below' : 'above')));
  t.is(await countIn(page, '#chart-pending .point[data-kind="above"]'), forced.iterationStats.filter((s) => s.phase !== 'final' && s.pendingBytes > s.thresholdBytes).length);
  t.is(await countIn(page, '#chart-pending .legend-entry'), 2 + kinds.size);
  await checkLayout(t, page);
  await page.close();

  const failed = runs.failed!;
  t.is(failed.status, 'failed');
  ({ page, problems } = await load('failed', renderReport(failed)));
  t.deepEqual(problems, []);
  t.is(await page.locator('#banner').getAttribute('data-level'), 'failure');
  t.is(await countIn(page, '#chart-transfer .rule[data-kind="failed"]'), 1);
  await checkLayout(t, page);
  await page.close();

  const blocked: MigrationResult = { ...failed, status: 'blocked', iterationStats: [], timeline: [],
    failure: { code: 'DMALOG_MIGRATION_BLOCKED', stage: 'probe', errno: 'ENOTTY', tracker: 'none-0', message: 'none-0 cannot log DMA' } };
  ({ page, problems } = await load('blocked', renderReport(blocked)));
  t.deepEqual(problems, []);
  t.is(await countIn(page, 'svg'), 0);
  t.is(await countIn(page, '#syncs'), 0);
  await checkLayout(t, page);
  await page.close();
});

browserTest('stress report: histogram bars, percentile rules, throughput points and events match the run', async (t) => {
  const r = runs.stress!;
  const { page, problems } = await load('stress', renderStressReport(r));
  t.deepEqual(problems, []);
  t.is(await page.locator('#banner').getAttribute('data-level'), 'ok');
  t.is(await countIn(page, '#chart-latency .bar'), r.history.latencyHistogram.filter((b) => b.sets > 0).length);
  const setsInBars = await page.$$eval('#chart-latency .bar', (els) => els.reduce((a, e) => a + Number(e.getAttribute('data-value')), 0));
  t.is(setsInBars, r.reportSets);
  t.is(await countIn(page, '#chart-latency .rule'), 3);
  t.is(await countIn(page, '#chart-latency .legend-entry'), 4);
  t.is(await countIn(page, '#chart-throughput .point'), r.devices.length * r.history.throughput.length);
  t.is(await countIn(page, '#chart-throughput .legend-entry'), r.devices.length);
  t.true(r.history.events.length > 0);
  t.is(await countIn(page, '#chart-events .event'), r.history.events.length);
  t.is(await countIn(page, '#chart-events .legend-entry'), new Set(r.history.events.map(eventKey)).size);
  await checkLayout(t, page);
  await page.close();
});

browserTest('fuzz report: a heatmap cell per outcome, profile and state with calls', async (t) => {
  const r = runs.fuzz!;
  const { page, problems } = await load('fuzz', renderFuzzReport(r));
  t.deepEqual(problems, []);
  t.is(await page.locator('#banner').getAttribute('data-level'), 'ok');
  const expected = Object.values(r.byState).reduce((n, states) => n + Object.values(states!).reduce((m, counts) => m + Object.values(counts ?? {}).filter((v) => v > 0).length, 0), 0);
  t.is(await countIn(page, '#chart-outcomes .cell'), expected);
  const calls = await page.$$eval('#chart-outcomes .cell', (els) => els.reduce((a, e) => a + Number(e.getAttribute('data-value')), 0));
  t.is(calls, r.calls);
  // Row labels fit left of the first column.
  const clipped = await page.$$eval('#chart-outcomes text.row', (els) => els.filter((e) => e.getBoundingClientRect().left < (e.closest('svg')!.getBoundingClientRect().left)).map((e) => e.textContent));
  t.deepEqual(clipped, []);
  await checkLayout(t, page);
  await page.close();
});
