// The repository carries its own docs: nothing tracked points outside it, every contract section
// that code and tests cite exists in docs/contract.md, and the contract lists every errno and
// error code dmalog raises.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ERROR_CODES } from '../src/errors.js';
import { ERRNO } from '../src/uapi/errno.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const contractPath = 'docs/contract.md';
const contract = readFileSync(join(root, contractPath), 'utf8');
const self = 'test/docs.test.ts';

/** Tracked files (git ls-files), each with its text; files with NUL bytes (binary) are left out. */
function trackedTexts(): Array<{ path: string; text: string }> {
  const out = execFileSync('git', ['ls-files', '-z'], { cwd: root, encoding: 'utf8' });
  return out.split('\0').filter((p) => p !== '' && existsSync(join(root, p))).flatMap((path) => {
    const text = readFileSync(join(root, path), 'utf8');
    return text.includes('\0') ? [] : [{ path, text }];
  });
}

/** Section numbers the contract defines: `## N. Title` and `### N.M Title` headings. */
function contractSections(markdown: string): Set<string> {
  const sections = new Set<string>();
  for (const m of markdown.matchAll(/^#{2,3} (\d+(?:\.\d+)?)\.? /gm)) sections.add(m[1]!);
  return sections;
}

/**
 * Every section one text cites, expanded: "§3.6" → 3.6, "§4-6" and "§2-§6" → each top-level
 * section, "§3 step 6-7" → 3.6 and 3.7. A "§" right after a file name ("README.md §9") names that
 * file's section, not the contract's, and is skipped.
 */
function citedSections(text: string): string[] {
  const cited: string[] = [];
  const re = /(\.md\s*)?§(\d+)(?:\.(\d+))?(?:\s+steps?\s+(\d+)(?:-(\d+))?)?(?:-§?(\d+)(?:\.(\d+))?)?/g;
  for (const m of text.matchAll(re)) {
    if (m[1] !== undefined) continue;
    const top = Number(m[2]);
    const sub = m[3];
    if (m[4] !== undefined) {
      for (let s = Number(m[4]); s <= Number(m[5] ?? m[4]); s++) cited.push(`${top}.${s}`);
    } else if (m[6] !== undefined && sub !== undefined && m[7] === undefined) {
      for (let s = Number(sub); s <= Number(m[6]); s++) cited.push(`${top}.${s}`); // §3.5-7
    } else if (m[6] !== undefined && sub === undefined) {
      for (let s = top; s <= Number(m[6]); s++) cited.push(`${s}`); // §4-6, §2-§6
    } else {
      cited.push(sub === undefined ? `${top}` : `${top}.${sub}`);
      if (m[7] !== undefined) cited.push(`${m[6]}.${m[7]}`);
    }
  }
  return cited;
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading.toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-');
}

test('no tracked file points at the shared folder outside the repository', (t) => {
  // Spelled in pieces so that this file does not match itself.
  const outside = ['..' + '/shared', '/work' + '/shared'];
  const files = trackedTexts();
  t.true(files.some((f) => f.path === contractPath), 'docs/contract.md is tracked');
  const hits = files.flatMap((f) => f.text.split('\n').flatMap((line, i) =>
    outside.some((o) => line.includes(o)) ? [`${f.path}:${i + 1}: ${line.trim()}`] : []));
  t.deepEqual(hits, []);
});

test('citedSections expands the citation forms code and tests use', (t) => {
  t.deepEqual(citedSections('contract §3.6 and contract §3 step 6-7, §4'), ['3.6', '3.6', '3.7', '4']);
  t.deepEqual(citedSections('(contract §4-6) contract §2-§6 §3.0'), ['4', '5', '6', '2', '3', '4', '5', '6', '3.0']);
  t.deepEqual(citedSections('see vfio-user/README.md §9'), []);
});

test('every contract section cited in src/ and test/ is a heading of docs/contract.md', (t) => {
  const sections = contractSections(contract);
  const missing = trackedTexts()
    .filter((f) => /^(src|test)\//.test(f.path) && f.path !== self)
    .flatMap((f) => citedSections(f.text).filter((s) => !sections.has(s)).map((s) => `${f.path}: §${s}`));
  t.deepEqual([...new Set(missing)], []);
});

test('docs/contract.md has sections 1-10 in order and §3.0-§3.8 under §3', (t) => {
  const headings = [...contract.matchAll(/^#{2,3} (\d+(?:\.\d+)?)\.? /gm)].map((m) => m[1]!);
  t.deepEqual(headings.filter((h) => !h.includes('.')), ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10']);
  t.deepEqual(headings.filter((h) => h.startsWith('3.')), ['3.0', '3.1', '3.2', '3.3', '3.4', '3.5', '3.6', '3.7', '3.8']);
  const at3 = headings.indexOf('3');
  t.is(headings.indexOf('3.0'), at3 + 1, '§3.x come right after §3');
  t.is(headings.indexOf('4'), at3 + 10);
});

test('docs/contract.md names every errno with its Linux number and every DmalogError code', (t) => {
  for (const [name, code] of Object.entries(ERRNO)) t.true(contract.includes(`${name} ${code}`), `${name} ${code}`);
  for (const code of Object.keys(ERROR_CODES)) t.true(contract.includes(`\`${code}\``), code);
});

test('every relative link in README.md and docs/ resolves, anchors included', (t) => {
  const pages = ['README.md', 'docs/README.md', 'docs/contract.md', 'docs/glossary.md', 'docs/migration-loop.md'];
  const broken: string[] = [];
  for (const page of pages) {
    const text = readFileSync(join(root, page), 'utf8');
    for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1]!;
      if (/^[a-z]+:/.test(target)) continue; // https:, mailto:
      const [file, anchor] = target.split('#') as [string, string | undefined];
      const path = file === '' ? page : join(dirname(page), file);
      if (!existsSync(join(root, path))) { broken.push(`${page}: ${target}`); continue; }
      if (anchor === undefined || !path.endsWith('.md')) continue;
      const headings = [...readFileSync(join(root, path), 'utf8').matchAll(/^#+ (.+)$/gm)].map((h) => slug(h[1]!));
      if (!headings.includes(anchor)) broken.push(`${page}: ${target}`);
    }
  }
  t.deepEqual(broken, []);
  t.true(readFileSync(join(root, 'README.md'), 'utf8').includes('](docs/contract.md)'), 'README links the contract');
});

test('perf/RESULTS.md stands on its own: no target or figure points at an issue', (t) => {
  for (const file of ['perf/RESULTS.md', 'perf/results.ts']) {
    const hits = readFileSync(join(root, file), 'utf8').split('\n').flatMap((line, i) => (/\bissues? #?\d+/i.test(line) ? [`${file}:${i + 1}: ${line.trim()}`] : []));
    t.deepEqual(hits, [], file);
  }
});
