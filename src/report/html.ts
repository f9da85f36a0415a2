// The page around every HTML report (migrate, stress, fuzz): one self-contained document, no
// scripts and no external resources, written as well-formed XML (void elements closed) so any
// XML parser reads it. A banner at the top says how the run ended before any number does.

export function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** ok: the run did what was asked; warning: it finished but tested or achieved less; failure: it did not. */
export type BannerLevel = 'ok' | 'warning' | 'failure';

const BANNER_MARK: Record<BannerLevel, string> = { ok: '✔', warning: '⚠', failure: '✖' };

/** The run's outcome in one line (and a detail line), coloured by level. */
export function banner(level: BannerLevel, headline: string, detail = ''): string {
  const role = level === 'ok' ? 'status' : 'alert';
  const more = detail ? `<div class="detail">${esc(detail)}</div>` : '';
  return `<div id="banner" class="banner banner-${level}" role="${role}" data-level="${level}"><strong>${BANNER_MARK[level]} ${esc(headline)}</strong>${more}</div>`;
}

/**
 * A table, or '' when there is no row: a report shows no empty table. `align` right-aligns
 * the columns whose index it lists (numbers).
 */
export function table(id: string, head: string[] | null, rows: string[][], align: number[] = []): string {
  if (rows.length === 0) return '';
  const cell = (tag: 'th' | 'td', c: string, i: number) => `<${tag}${align.includes(i) ? ' class="num"' : ''}>${esc(c)}</${tag}>`;
  const thead = head ? `<thead><tr>${head.map((h, i) => cell('th', h, i)).join('')}</tr></thead>` : '';
  return `<table id="${esc(id)}">${thead}<tbody>${rows.map((r) => `<tr>${r.map((c, i) => cell('td', c, i)).join('')}</tr>`).join('')}</tbody></table>`;
}

/** Key/value rows, keys as header cells. */
export function keyValueTable(id: string, rows: Array<[string, string]>): string {
  if (rows.length === 0) return '';
  return `<table id="${esc(id)}" class="kv"><tbody>${rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join('')}</tbody></table>`;
}

/** A heading and its body, or '' when the body is empty. */
export function section(heading: string, body: string, note = ''): string {
  if (body === '') return '';
  return `<h2>${esc(heading)}</h2>${note ? `<p class="note">${esc(note)}</p>` : ''}\n${body}\n`;
}

export function preformatted(text: string): string {
  return `<pre>${esc(text)}</pre>`;
}

const STYLE = `body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; max-width: 1000px; }
svg { font: 11px system-ui, sans-serif; display: block; margin: 8px 0 20px; max-width: 100%; height: auto; }
table { border-collapse: collapse; margin: 8px 0 20px; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.num { white-space: nowrap; }
pre { background: #f6f6f6; padding: 10px; white-space: pre-wrap; overflow-wrap: anywhere; }
.note { color: #555; margin: 0 0 4px; }
.banner { padding: 10px 14px; border-radius: 4px; margin: 0 0 16px; border: 1px solid; }
.banner .detail { margin-top: 4px; }
.banner-ok { background: #e8f5e9; border-color: #59a14f; color: #1b5e20; }
.banner-warning { background: #fff4e0; border-color: #f28e2b; color: #7a4100; }
.banner-failure { background: #fdecea; border-color: #e15759; color: #8a1c1c; }
.heat td.num { min-width: 4em; }`;

/** The whole document: title, banner first, then the sections in order. */
export function page(title: string, bannerHtml: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en" xmlns="http://www.w3.org/1999/xhtml">
<head>
<meta charset="utf-8" />
<title>${esc(title)}</title>
<style>
${STYLE}
</style>
</head>
<body>
<h1>${esc(title.replace(/ \(.*\)$/, ''))}</h1>
${bannerHtml}
${body}
</body>
</html>
`;
}
