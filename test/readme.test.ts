// The README's library examples, pasted into files, run as shown.
import test from 'ava';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
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
