import test from 'ava';
import { migrate } from '../../src/migration/migration.js';
import { renderReport } from '../../src/migration/report-html.js';
import type { MigrationResult } from '../../src/migration/result.js';

interface Element { name: string; attrs: Record<string, string>; children: Element[]; text: string }

/** A strict little XML reader: any unbalanced tag, bad attribute or stray '&' or '<' throws. */
function parseXml(source: string): Element {
  const doc = source.replace(/^<!DOCTYPE html>\s*/, '');
  const root: Element = { name: '#root', attrs: {}, children: [], text: '' };
  const stack: Element[] = [root];
  const tag = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/y;
  let at = 0;
  while (at < doc.length) {
    const lt = doc.indexOf('<', at);
    const text = doc.slice(at, lt < 0 ? doc.length : lt);
    if (/&(?!(?:amp|lt|gt|quot|#39);)/.test(text)) throw new Error(`bad entity near ${at}`);
    stack.at(-1)!.text += text;
    if (lt < 0) break;
    tag.lastIndex = lt;
    const m = tag.exec(doc);
    if (!m) throw new Error(`malformed tag at ${lt}: ${doc.slice(lt, lt + 40)}`);
    const [, close, name, rawAttrs, selfClose] = m;
    if (close) {
      const open = stack.pop();
      if (open?.name !== name) throw new Error(`</${name}> closes <${open?.name}>`);
    } else {
      const attrs: Record<string, string> = {};
      for (const a of rawAttrs!.matchAll(/([\w:-]+)="([^"]*)"/g)) {
        if (a[1]! in attrs) throw new Error(`duplicate attribute ${a[1]}`);
        attrs[a[1]!] = a[2]!;
      }
      const el: Element = { name: name!, attrs, children: [], text: '' };
      stack.at(-1)!.children.push(el);
      if (!selfClose) stack.push(el);
    }
    at = tag.lastIndex;
  }
  if (stack.length !== 1) throw new Error(`unclosed <${stack.at(-1)!.name}>`);
  return root;
}

function all(el: Element, pred: (e: Element) => boolean, out: Element[] = []): Element[] {
  if (pred(el)) out.push(el);
  for (const c of el.children) all(c, pred, out);
  return out;
}

let result: MigrationResult;
test.before(async () => {
  result = await migrate({
    ram: '24M', bandwidth: '16M', seed: 9, writerThreads: 2, vcpuWorkload: { kind: 'hot', rate: 1500 },
    devices: [{ profile: 'mlx5', workload: { kind: 'ring', rate: 500 } }, { profile: 'pds', workload: { kind: 'uniform', rate: 300 } }],
  });
});

test('the report parses as XML and holds the three charts and the summary table', (t) => {
  const html = renderReport(result);
  const root = parseXml(html);
  const byId = (id: string) => all(root, (e) => e.attrs['id'] === id)[0]!;
  for (const id of ['chart-dirty', 'chart-pending', 'chart-transfer']) t.is(byId(id).name, 'svg', id);
  // Dirty chart: one bar per (sync, tracker) with pages.
  const bars = all(byId('chart-dirty'), (e) => e.name === 'rect' && e.attrs['class'] === 'bar');
  const nonZero = result.iterationStats.reduce((n, s) => n + Object.values(s.reported).filter((p) => p > 0).length, 0);
  t.is(bars.length, nonZero);
  t.true(nonZero > 0);
  // Pending chart: one point per sync and the threshold line.
  const pending = all(byId('chart-pending'), (e) => e.attrs['class'] === 'pending')[0]!;
  t.is(pending.attrs['points']!.trim().split(/\s+/).length, result.iterationStats.length);
  t.is(all(byId('chart-pending'), (e) => e.attrs['class'] === 'threshold').length, 1);
  // Transfer chart: one point per timeline entry for both series.
  for (const cls of ['sent', 'dirty']) {
    const line = all(byId('chart-transfer'), (e) => e.attrs['class'] === cls)[0]!;
    t.is(line.attrs['points']!.trim().split(/\s+/).length, result.timeline.length, cls);
  }
  const summary = byId('summary');
  t.is(summary.name, 'table');
  t.true(all(summary, (e) => e.name === 'tr').length >= 10);
  t.is(all(byId('syncs'), (e) => e.name === 'tr').length, result.iterationStats.length + 1);
});

test('the report is self-contained: no scripts, links or external resources', (t) => {
  const root = parseXml(renderReport(result));
  t.is(all(root, (e) => ['script', 'link', 'img', 'iframe', 'object'].includes(e.name)).length, 0);
  t.is(all(root, (e) => 'src' in e.attrs || 'href' in e.attrs).length, 0);
  t.false(/url\(/.test(renderReport(result)));
});

test('a run that never synced still renders, without charts', (t) => {
  const blocked: MigrationResult = { ...result, status: 'blocked', iterationStats: [], timeline: [], check: null,
    failure: { code: 'DMALOG_MIGRATION_BLOCKED', stage: 'probe', errno: 'ENOTTY', tracker: 'none-0', message: 'blocked <&>' } };
  const root = parseXml(renderReport(blocked));
  t.is(all(root, (e) => e.name === 'svg').length, 0);
  t.is(all(root, (e) => e.attrs['id'] === 'summary').length, 1);
});
