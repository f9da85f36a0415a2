// `npm run docs`: the API reference generated from the declarations and their TSDoc comments
// (api-extractor reads dist/src/index.d.ts, api-documenter writes Markdown into docs/api/).
// The build half of the script has run already (tests run from dist): this runs the other half.
import test from 'ava';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const root = fileURLToPath(new URL('../../', import.meta.url));
const out = join(root, 'docs/api');

test('npm run docs writes a Markdown page per export, with signatures and the TSDoc text', async (t) => {
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  t.is(manifest.scripts['docs'], 'npm run -s build && npm run -s docs:generate');
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  await promisify(execFile)(npm, ['run', '-s', 'docs:generate'], { cwd: root, timeout: 110_000 });
  const pages = new Set(readdirSync(out));
  for (const page of ['index.md', 'dmalog.md', 'dmalog.createhost.md', 'dmalog.host.md', 'dmalog.host.ioctl.md', 'dmalog.coordinator.md',
    'dmalog.migrate.md', 'dmalog.runstress.md', 'dmalog.vfioerror.md', 'dmalog.hostoptions.md', 'dmalog.migrationresult.md']) {
    t.true(pages.has(page), page);
  }
  const createHost = readFileSync(join(out, 'dmalog.createhost.md'), 'utf8');
  t.true(createHost.includes('export declare function createHost(options: HostOptions): Promise<Host>;'), createHost);
  t.true(createHost.includes('Starts a simulated host'), 'the TSDoc comment of createHost is on its page');
  // The package page lists what index.ts exports, and links each page that exists.
  const pkg = readFileSync(join(out, 'dmalog.md'), 'utf8');
  for (const m of pkg.matchAll(/\]\(\.\/([^)]+\.md)\)/g)) t.true(existsSync(join(out, m[1]!)), m[1]!);
  t.true(pkg.includes('[createHost(options)](./dmalog.createhost.md)'));
});
