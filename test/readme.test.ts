// The README's library example, pasted into a file, runs as shown.
import test from 'ava';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const root = fileURLToPath(new URL('../../', import.meta.url));

test('README example runs and prints what it says', async (t) => {
  const readme = readFileSync(`${root}README.md`, 'utf8');
  const code = /```js\n([\s\S]*?)```/.exec(readme)?.[1];
  t.truthy(code, 'README has a js example');
  // Inside the package, so `import ... from 'dmalog'` resolves by self-reference.
  const file = `${root}dist/readme-example.mjs`;
  writeFileSync(file, code!);
  const { stdout } = await promisify(execFile)(process.execPath, [file], { timeout: 30_000 });
  t.deepEqual(stdout.trim().split('\n'), ['chosen page size 4096n', 'dirty pages [ 5, 6, 9 ]', 'ENOTTY 25']);
});
