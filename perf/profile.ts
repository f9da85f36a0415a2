#!/usr/bin/env node
// `npm run profile -- [--top N] [--dir DIR] <command> [args...]`: runs any dmalog subcommand
// (stress, migrate, demo, ...), or `bench` for the benchmark runner, under `node --cpu-prof`, which writes one .cpuprofile per thread
// (worker threads inherit the flag), then prints each thread's top functions by self time.
// Open a profile in Chrome DevTools (Performance panel → Load profile) or at speedscope.app.
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatSummary, summarizeProfile, threadIdOf } from './cpuprofile.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
/** `bench ...` profiles the benchmark runner instead of a CLI subcommand. */
const BENCH = fileURLToPath(new URL('./run.js', import.meta.url));

const USAGE = `usage: npm run profile -- [--top N] [--dir DIR] <command> [args...]
  runs \`dmalog <command> [args...]\` (or, for \`bench\`, the benchmark runner:
  \`npm run profile -- bench report --only "1 % dirty"\`) under node --cpu-prof; profiles go to DIR
  (default profiles/<timestamp>), one per thread; prints the top N (default 12) functions
  by self time per thread. Open a .cpuprofile in Chrome DevTools or speedscope.app.
`;

interface ProfileArgs { top: number; dir: string; command: string[] }

function parse(argv: string[]): ProfileArgs | string {
  let top = 12;
  let dir = join('profiles', new Date().toISOString().replace(/[:.]/g, '-'));
  let i = 0;
  // Options for this tool come before the command; everything after it is the command's own.
  for (; i < argv.length && argv[i]!.startsWith('-'); i++) {
    const flag = argv[i]!;
    if (flag === '--help' || flag === '-h') return USAGE;
    const value = argv[++i];
    if (value === undefined) return `${flag} needs a value\n${USAGE}`;
    if (flag === '--top') {
      top = Number(value);
      if (!Number.isInteger(top) || top <= 0) return `--top: '${value}' must be a positive integer\n`;
    } else if (flag === '--dir') {
      dir = value;
    } else {
      return `unknown option ${flag}\n${USAGE}`;
    }
  }
  if (i >= argv.length) return USAGE;
  return { top, dir, command: argv.slice(i) };
}

function run(args: ProfileArgs): Promise<number> {
  mkdirSync(args.dir, { recursive: true });
  // Not NODE_OPTIONS: Node 20 refuses --cpu-prof there. No --cpu-prof-name: threads would share one file.
  const [command, ...rest] = args.command;
  const target = command === 'bench' ? [BENCH, ...rest] : [CLI, command!, ...rest];
  const child = spawn(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${args.dir}`, ...target], { stdio: 'inherit' });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

async function main(): Promise<number> {
  const args = parse(process.argv.slice(2));
  if (typeof args === 'string') {
    process.stdout.write(args);
    return args === USAGE ? 0 : 2;
  }
  const started = Date.now();
  const code = await run(args);
  // Only this run's profiles, should --dir name a folder used before.
  const files = readdirSync(args.dir).filter((f) => f.endsWith('.cpuprofile') && statSync(join(args.dir, f)).mtimeMs >= started - 1000)
    .sort((a, b) => (threadIdOf(a) ?? 0) - (threadIdOf(b) ?? 0));
  process.stdout.write(`\n== CPU profiles: ${files.length} thread(s) in ${relative(process.cwd(), args.dir) || args.dir} (${args.command[0] === 'bench' ? '' : 'dmalog '}${args.command.join(' ')} exited ${code})\n`);
  for (const f of files) process.stdout.write(`${formatSummary(summarizeProfile(join(args.dir, f), args.top))}\n`);
  process.stdout.write('open one in Chrome DevTools (Performance → Load profile) or drag it onto https://www.speedscope.app\n');
  return code;
}

main().then((code) => { process.exitCode = code; }, (error: unknown) => {
  process.stderr.write(`profile failed: ${(error as Error)?.stack ?? String(error)}\n`);
  process.exitCode = 1;
});
