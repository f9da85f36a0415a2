// The sweep report of a real small sweep, parsed as XML and rendered by Debian's Chromium
// (headless, through playwright-core pointed at the system browser, as the run reports'
// test/report/browser.test.ts): it loads with no console error and no request leaving the file,
// holds one cell per point of the grid in the state its runs call for, and the browser's layout
// keeps every label inside its map, every value inside its cell and the legend entries apart.
// Without a browser the render test is skipped with a note; under CI=true a missing browser fails.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import test from 'ava';
import { chromium, type Browser } from 'playwright-core';
import { parseGrid } from '../../src/sweep/grid.js';
import { runSweep } from '../../src/sweep/sweep.js';
import { parseXml } from '../helpers/xml.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const haveBrowser = existsSync(CHROMIUM);

const dir = mkdtempSync(path.join(tmpdir(), 'dmalog-sweep-browser-'));
// 4 MiB/s cannot keep up with the device's DMA within 3 s; 16 MiB/s can; a device without DMA
// logging and without IOMMU dirty tracking blocks the migration.
const grid = parseGrid({
  title: 'browser grid',
  base: { ram: '16M', vcpus: 1, maxTime: '3s', vcpuWorkload: { kind: 'hot', rate: 300 } },
  axes: { bandwidth: ['4M', '16M'], devices: [[{ profile: 'pds', workload: { kind: 'uniform', rate: 400 } }], [{ profile: 'none', iommuDirty: false }]] },
});
let whole = '';
let shard = '';
let browser: Browser | null = null;

test.before(async () => {
  const all = await runSweep({ grid, outDir: path.join(dir, 'whole'), jobs: 2 });
  const one = await runSweep({ grid, outDir: path.join(dir, 'shard'), shard: { k: 1, n: 2 }, jobs: 2 });
  whole = all.files.html;
  shard = one.files.html;
  if (haveBrowser) browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
});

test.after.always(async () => {
  await browser?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('the report is well-formed XML with one cell per point', (t) => {
  const root = parseXml(readFileSync(whole, 'utf8'));
  const cells: string[] = [];
  const walk = (e: ReturnType<typeof parseXml>) => {
    if (e.attrs['class'] === 'cell') cells.push(`${e.attrs['data-x']},${e.attrs['data-y']}:${e.attrs['data-state']}`);
    e.children.forEach(walk);
  };
  walk(root);
  t.deepEqual(cells.sort(), ['0,0:not-converged', '0,1:failed', '1,0:converged', '1,1:failed']);
});

interface Box { x: number; y: number; width: number; height: number }
const overlap = (a: Box, b: Box) => a.x < b.x + b.width - 0.5 && b.x < a.x + a.width - 0.5 && a.y < b.y + b.height - 0.5 && b.y < a.y + a.height - 0.5;
const inside = (a: Box, b: Box) => a.x >= b.x - 0.5 && a.y >= b.y - 0.5 && a.x + a.width <= b.x + b.width + 0.5 && a.y + a.height <= b.y + b.height + 0.5;

interface Layout {
  banner: string | null;
  bannerFirst: boolean;
  emptyTables: string[];
  maps: Array<{ svg: Box; texts: Array<{ text: string; box: Box }>; values: Array<{ text: string; box: Box; cell: Box }> }>;
  legend: Box[];
  ticks: Box[];
}

/** Runs in the page (plain JavaScript: the tests compile without DOM types). */
const LAYOUT_SCRIPT = `(() => {
  const box = (e) => { const r = e.getBoundingClientRect(); return { x: r.x, y: r.y, width: r.width, height: r.height }; };
  return {
    banner: document.querySelector('#banner')?.getAttribute('data-level') ?? null,
    bannerFirst: document.body.children[1]?.id === 'banner',
    emptyTables: [...document.querySelectorAll('table')].filter((tb) => tb.querySelectorAll('td').length === 0).map((tb) => tb.id),
    maps: [...document.querySelectorAll('svg.map')].map((svg) => ({
      svg: box(svg),
      texts: [...svg.querySelectorAll('text')].map((e) => ({ text: e.textContent ?? '', box: box(e) })),
      values: [...svg.querySelectorAll('text.value')].map((e) => ({ text: e.textContent ?? '', box: box(e), cell: box(e.parentNode.querySelector('rect')) })),
    })),
    legend: [...document.querySelectorAll('#legend .legend-entry')].map(box),
    ticks: [...document.querySelectorAll('#legend text.tick')].map(box),
  };
})()`;

const browserTest = haveBrowser ? test.serial : test.skip;
if (!haveBrowser) {
  test(process.env['CI'] === 'true' ? 'a browser to render the sweep report is installed (CI)' : 'sweep report render test: skipped, no browser', (t) => {
    if (process.env['CI'] === 'true') t.fail(`no browser at ${CHROMIUM}`);
    else t.log(`no browser at ${CHROMIUM}: the sweep report was not rendered`);
    t.pass();
  });
}

for (const [name, file, level, states] of [
  ['the whole sweep', () => whole, 'ok', { 'converged': 1, 'not-converged': 1, 'failed': 2, 'not-run': 0 }],
  // Shard 1/2 ran points 0 and 2 only: (4M, pds) and (16M, pds).
  ['shard 1/2', () => shard, 'warning', { 'converged': 1, 'not-converged': 1, 'failed': 0, 'not-run': 2 }],
] as const) {
  browserTest(`sweep report of ${name}: loads cleanly, cells in their states, labels and values inside, legend apart`, async (t) => {
    const url = pathToFileURL(file()).href;
    const page = await browser!.newPage({ viewport: { width: 1100, height: 900 } });
    const problems: string[] = [];
    page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`); });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('request', (r) => { if (r.url() !== url) problems.push(`request: ${r.url()}`); });
    await page.goto(url, { waitUntil: 'load' });
    t.deepEqual(problems, []);
    for (const [state, n] of Object.entries(states)) t.is(await page.locator(`svg.map .cell[data-state="${state}"]`).count(), n, state);
    const layout = await page.evaluate(LAYOUT_SCRIPT) as Layout;
    t.is(layout.banner, level);
    t.true(layout.bannerFirst);
    t.deepEqual(layout.emptyTables, []);
    t.is(layout.maps.length, 1);
    for (const m of layout.maps) {
      for (const text of m.texts) t.true(inside(text.box, m.svg), `'${text.text}' outside its map`);
      t.is(m.values.length, states.converged + states['not-converged']);
      for (const v of m.values) t.true(inside(v.box, v.cell), `value '${v.text}' outside its cell`);
    }
    t.is(layout.legend.length, 4);
    for (let i = 0; i < layout.legend.length; i++) {
      for (let j = i + 1; j < layout.legend.length; j++) t.false(overlap(layout.legend[i]!, layout.legend[j]!), `legend entries ${i} and ${j} overlap`);
      for (const tick of layout.ticks) t.false(overlap(layout.legend[i]!, tick), `legend entry ${i} overlaps a tick`);
    }
    await page.close();
  });
}
