// The README's library examples, pasted into files, run as shown.
import test from 'ava';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { optionsFromArgs } from '../src/cli/commands/migrate.js';
import { parseStressArgs } from '../src/cli/commands/stress.js';
import { parseProfileArgs } from '../src/cli/commands/profile.js';
import { COMMANDS } from '../src/cli/commands/index.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const examples = [...readFileSync(`${root}README.md`, 'utf8').matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]!);

async function runExample(index: number): Promise<string[]> {
  // Inside the package, so `import ... from 'dmalog'` resolves by self-reference.
  const file = `${root}dist/readme-example-${index}.mjs`;
  writeFileSync(file, examples[index]!);
  const { stdout } = await promisify(execFile)(process.execPath, [file], { timeout: 30_000 });
  return stdout.trim().split('\n');
}

test('README has the two library examples', (t) => {
  t.is(examples.length, 2);
});

test('README example 1 (raw ABI and typed layer) prints what its comments say', async (t) => {
  t.deepEqual(await runExample(0), ['chosen page size 4096n', 'dirty pages [ 5, 6, 9 ]', 'ENOTTY 25']);
});

test('README example 2 (coordinator, zeroing rule, restart recovery) prints what its comments say', async (t) => {
  t.deepEqual(await runExample(1), ['dirty pages 2', 'DMALOG_ZEROING_RULE', 'nic0 EIO restarted, nvme0 ok none', 'dirty pages 256']);
});

/** The README's architecture table: each row's folders (first column) and the files it names. */
function architectureRows(): Array<{ folders: string[]; files: string[] }> {
  const readme = readFileSync(`${root}README.md`, 'utf8');
  const section = readme.slice(readme.indexOf('## Architecture'), readme.indexOf('\n## ', readme.indexOf('## Architecture') + 1));
  return section.split('\n').filter((l) => l.startsWith('| `')).map((line) => {
    const [, first = '', rest = ''] = line.split('|');
    return {
      folders: [...first.matchAll(/`([^`]+)`/g)].map((m) => m[1]!.replace(/\/$/, '')),
      files: [...rest.matchAll(/`([\w./-]+\.ts)`/g)].map((m) => m[1]!),
    };
  });
}

test('the architecture table lists every folder of src/ and workers/, and nothing that is not there', (t) => {
  const rows = architectureRows();
  const listed = rows.flatMap((r) => r.folders);
  const folders = readdirSync(`${root}src`, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => `src/${e.name}`);
  t.true(folders.length > 10);
  t.deepEqual([...folders, 'workers'].filter((f) => !listed.includes(f)), [], 'folders missing from the table');
  t.deepEqual(listed.filter((f) => !existsSync(`${root}${f}`) || !statSync(`${root}${f}`).isDirectory()), [], 'rows naming no folder');
  t.is(new Set(listed).size, listed.length, 'each folder in one row');
});

test('every file the architecture table names is in its row\'s folder', (t) => {
  const missing = architectureRows().flatMap(({ folders, files }) => files.filter((file) =>
    file.includes('/') ? !existsSync(`${root}${file}`) : !folders.some((f) => existsSync(`${root}${f}/${file}`))));
  t.deepEqual(missing, []);
});

test('README: every command under "What to try next" names a command and options it takes', (t) => {
  const readme = readFileSync(`${root}README.md`, 'utf8');
  const block = /### What to try next\n\n```sh\n([\s\S]*?)```/.exec(readme)![1]!;
  const commands = block.split('\n').filter((l) => l.startsWith('npx dmalog ')).map((l) => l.replace(/\s+#.*$/, '').split(/\s+/).slice(2));
  t.true(commands.length >= 6);
  const parse = (name: string, argv: string[]): void => {
    if (argv.includes('--help')) return;
    if (name === 'migrate') optionsFromArgs(argv);
    else if (name === 'stress') parseStressArgs(argv);
    else if (name === 'profile') { const p = parseProfileArgs(argv); parse(p.command, p.args); }
  };
  for (const [name, ...argv] of commands) {
    t.truthy(COMMANDS[name!], name);
    t.notThrows(() => parse(name!, argv), `${name} ${argv.join(' ')}`);
  }
});
