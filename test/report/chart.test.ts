import test from 'ava';
import { Chart, layoutLegend, textWidth, type LegendEntry } from '../../src/report/chart.js';
import { banner, keyValueTable, section, table } from '../../src/report/html.js';
import { heatmap, shade, shadeColor, shortCount } from '../../src/report/heatmap.js';
import { byClass, byId, parseXml, textOf } from '../helpers/xml.js';

const entries = (n: number): LegendEntry[] => Array.from({ length: n }, (_, i) => ({ label: `series number ${i} with a long label`, color: '#000', mark: 'bar' }));

test('legend entries wrap into rows within the plot width and never overlap', (t) => {
  for (const n of [0, 1, 3, 12]) {
    const { placed, rows } = layoutLegend(entries(n), 500);
    t.is(placed.length, n);
    t.is(rows, n === 0 ? 0 : Math.max(...placed.map((p) => p.row)) + 1);
    for (const p of placed) t.true(p.x === 0 || p.x + textWidth(p.entry.label) + 22 <= 500);
    for (let i = 1; i < placed.length; i++) {
      const a = placed[i - 1]!;
      const b = placed[i]!;
      if (a.row === b.row) t.true(b.x >= a.x + textWidth(a.entry.label) + 22, 'left to right without overlap');
    }
  }
});

test('a chart draws one legend entry per entry below the plot, and grows to hold them', (t) => {
  const small = new Chart({ id: 'c', title: 't', x: { kind: 'band', label: 'x', bands: ['a'] }, y: { kind: 'linear', label: 'y', max: 10 }, legend: entries(1) });
  const big = new Chart({ id: 'c', title: 't', x: { kind: 'band', label: 'x', bands: ['a'] }, y: { kind: 'linear', label: 'y', max: 10 }, legend: entries(12) });
  t.true(big.height > small.height);
  const svg = parseXml(big.render());
  const legend = byClass(svg, 'legend-entry');
  t.is(legend.length, 12);
  for (const g of legend) for (const text of g.children.filter((c) => c.name === 'text')) t.true(Number(text.attrs['y']) > big.bottom + 36);
});

test('the left margin leaves room for the widest tick label beside the y-axis title', (t) => {
  const chart = new Chart({ id: 'c', title: 't', x: { kind: 'linear', label: 'x', max: 1 }, y: { kind: 'linear', label: 'y', max: 12_345_678 }, legend: [] });
  const svg = parseXml(chart.render());
  const yTicks = byClass(svg, 'tick').filter((e) => e.attrs['text-anchor'] === 'end');
  t.true(yTicks.length >= 3);
  for (const tick of yTicks) t.true(Number(tick.attrs['x']) - textWidth(textOf(tick)) >= 22, textOf(tick));
});

test('banner: level, role and escaped text', (t) => {
  const root = parseXml(banner('failure', 'Run <FAILED>', 'a & b'));
  const b = byId(root, 'banner');
  t.is(b.attrs['data-level'], 'failure');
  t.is(b.attrs['role'], 'alert');
  t.regex(textOf(b), /Run &lt;FAILED&gt;/);
  t.is(byId(parseXml(banner('ok', 'fine')), 'banner').attrs['role'], 'status');
});

test('no empty table: a table or a section without rows is left out', (t) => {
  t.is(table('x', ['a', 'b'], []), '');
  t.is(keyValueTable('x', []), '');
  t.is(section('Heading', ''), '');
  const root = parseXml(table('x', ['a', 'b'], [['1', '2']], [1]));
  t.is(byClass(root, 'num').length, 2);
  t.regex(section('Heading', '<p>x</p>'), /<h2>Heading<\/h2>/);
});

test('heatmap helpers: log shading from 1 to the maximum, compact counts, a cell only where there are calls', (t) => {
  t.is(shade(0, 100), 0);
  t.is(shade(1, 100), 0);
  t.is(shade(10, 100), 0.5);
  t.is(shade(100, 100), 1);
  t.is(shade(1, 1), 1);
  t.is(shadeColor(0), '#dbe7f3');
  t.is(shadeColor(1), '#1f4e79');
  t.deepEqual([5, 999, 1000, 1250, 34_567, 1_500_000, 25_000_000].map(shortCount), ['5', '999', '1k', '1.3k', '35k', '1.5M', '25M']);
  const svg = parseXml(heatmap({
    id: 'h', title: 't', rows: ['ok', 'EINVAL'], columns: [{ group: 'mlx5', label: 'idle' }, { group: 'mlx5', label: 'logging' }, { group: 'pds', label: 'idle' }],
    value: (row, c) => (row === 'ok' ? [3, 0, 40][c]! : [0, 7, 0][c]!), tip: (row, col, v) => `${row} ${col.label} ${v}`,
  }));
  t.deepEqual(byClass(svg, 'cell').map((c) => `${c.attrs['data-row']}/${c.attrs['data-group']}/${c.attrs['data-column']}=${c.attrs['data-value']}`), ['ok/mlx5/idle=3', 'ok/pds/idle=40', 'EINVAL/mlx5/logging=7']);
  t.deepEqual(byClass(svg, 'group').map(textOf), ['mlx5', 'pds']);
  // Decades 1-9 and 10-99 (the maximum is 40), and the blank cell.
  t.is(byClass(svg, 'legend-entry').length, 3);
});
